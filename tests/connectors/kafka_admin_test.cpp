// KafkaAdmin against a real broker: internal topics are created with the shape asked for, and an
// existing topic of another shape, or brokers that do not answer, are clear errors.
#include "connectors/kafka_admin.h"

#include <doctest/doctest.h>

#include <chrono>

#include "tests/connectors/kafka_mock_util.h"
#include "tests/connectors/real_broker.h"

namespace klaxon::connectors {
namespace {

const std::map<std::string, std::string> kCompact = {{"cleanup.policy", "compact"}};

TEST_CASE("KafkaAdmin ensures topics of the right shape on a real broker") {
  testing::RealBroker broker;  // one broker for every step below (SUBCASEs would restart it)
  testing::LogSink sink;
  auto admin = KafkaAdmin::Open(testing::ClientOptions(broker.brokers(), sink));
  REQUIRE_MESSAGE(admin.ok(), admin.status().message());
  KafkaAdmin& a = **admin;

  // A missing topic is created with its partitions and configs, and ensuring it again is OK.
  const TopicSpec changelog{.name = "app-changelog", .partitions = 4, .configs = kCompact};
  Status s = a.EnsureTopic(changelog);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(a.PartitionCount("app-changelog").value() == 4);
  auto configs = a.TopicConfigs("app-changelog");
  REQUIRE_MESSAGE(configs.ok(), configs.status().message());
  CHECK(configs->at("cleanup.policy") == "compact");
  s = a.EnsureTopic(changelog);
  CHECK_MESSAGE(s.ok(), s.message());

  // A topic without configs in its spec is checked for its partition count only.
  const TopicSpec repartition{.name = "app-repartition", .partitions = 3};
  s = a.EnsureTopic(repartition);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(a.TopicConfigs("app-repartition")->at("cleanup.policy") == "delete");

  {  // An existing topic with another partition count is refused.
    s = a.EnsureTopic({.name = "app-repartition", .partitions = 8});
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(s.message() ==
          "kafka topic 'app-repartition' has 3 partition(s); Klaxon needs 8 (a different count "
          "would move every (rule, group) to another partition: delete the topic or run with its "
          "count)");
    CHECK(a.PartitionCount("app-repartition").value() == 3);  // left as it was
  }
  {  // An existing topic that is not compacted is refused as a changelog.
    s = a.EnsureTopic({.name = "app-repartition", .partitions = 3, .configs = kCompact});
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(s.message() ==
          "kafka topic 'app-repartition' has cleanup.policy=delete; Klaxon needs "
          "cleanup.policy=compact (change it with kafka-configs.sh --alter, or delete the topic)");
  }
  {  // Compaction and deletion together are not compaction.
    REQUIRE(a.EnsureTopic({.name = "app-both",
                           .partitions = 1,
                           .configs = {{"cleanup.policy", "compact,delete"}}})
                .ok());
    s = a.EnsureTopic({.name = "app-both", .partitions = 1, .configs = kCompact});
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(s.message().find("has cleanup.policy=compact,delete; Klaxon needs "
                           "cleanup.policy=compact") != std::string::npos);
    // The same policy written in another order is the same policy.
    s = a.EnsureTopic(
        {.name = "app-both", .partitions = 1, .configs = {{"cleanup.policy", "delete, compact"}}});
    CHECK_MESSAGE(s.ok(), s.message());
  }
  {  // A missing topic is reported, not created by asking.
    // The admin client turns allow.auto.create.topics off: the test broker auto-creates topics
    // on first use, and asking about one must not create it with the broker's defaults.
    auto count = a.PartitionCount("app-missing");
    CHECK(count.status().code() == StatusCode::kNotFound);
    CHECK(count.status().message() == "kafka topic 'app-missing' does not exist");
    CHECK(a.PartitionCount("app-missing").status().code() == StatusCode::kNotFound);
    CHECK(a.TopicConfigs("app-missing").status().code() == StatusCode::kNotFound);
  }
  {  // A spec the broker cannot honour is the spec's fault.
    s = a.EnsureTopic({.name = "app-replicated", .partitions = 1, .replication_factor = 3});
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().rfind("kafka topic 'app-replicated' cannot be created: ", 0) == 0);
    s = a.EnsureTopic(
        {.name = "app-bad-config", .partitions = 1, .configs = {{"cleanup.policy", "sometimes"}}});
    CHECK(s.code() == StatusCode::kInvalidArgument);
  }
  {  // CreateTopic accepts an existing topic whatever its shape.
    s = CreateTopic(testing::ClientOptions(broker.brokers(), sink), "app-repartition", 5);
    CHECK_MESSAGE(s.ok(), s.message());
    CHECK(a.PartitionCount("app-repartition").value() == 3);
  }
}

TEST_CASE("KafkaAdmin reports brokers that do not answer within its timeout") {
  testing::LogSink sink;
  // Nothing listens on port 1 (binding it needs root).
  auto admin = KafkaAdmin::Open(testing::ClientOptions("127.0.0.1:1", sink),
                                std::chrono::milliseconds(1500));
  REQUIRE(admin.ok());
  const auto start = std::chrono::steady_clock::now();
  Status s = (*admin)->EnsureTopic({.name = "app-changelog", .partitions = 4});
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK(s.message() ==
        "create kafka topic 'app-changelog': no answer from the Kafka brokers (127.0.0.1:1) "
        "within 1500 ms");
  CHECK(took < std::chrono::seconds(5));
  auto count = (*admin)->PartitionCount("app-changelog");
  CHECK(count.status().code() == StatusCode::kUnavailable);
  CHECK(count.status().message() ==
        "metadata of kafka topic 'app-changelog': no answer from the Kafka brokers (127.0.0.1:1) "
        "within 1500 ms");
}

}  // namespace
}  // namespace klaxon::connectors
