// The Kafka connectors against a real Apache Kafka broker started by scripts/kafka-broker
// (Java 17 and Maven are required; the test fails without them). Covers what the mock cluster
// cannot: the admin API, and the commit on revoke with the default (eager) rebalance protocol.
#include <doctest/doctest.h>

#include <set>

#include "connectors/kafka_admin.h"
#include "connectors/kafka_producer.h"
#include "connectors/kafka_source.h"
#include "tests/connectors/kafka_mock_util.h"
#include "tests/connectors/real_broker.h"
#include "tests/connectors/test_util.h"

namespace klaxon::connectors {
namespace {

TEST_CASE("Kafka connectors against a real broker") {
  testing::RealBroker broker;
  testing::LogSink sink;
  auto client = testing::ClientOptions(broker.brokers(), sink);

  Status created = CreateTopic(client, "klaxon-real", 3);
  REQUIRE_MESSAGE(created.ok(), created.message());
  Status exists = CreateTopic(client, "klaxon-real", 3);
  CHECK_MESSAGE(exists.ok(), exists.message());

  testing::TempDir dir;
  std::string lines;
  for (int i = 0; i < 300; ++i) lines += testing::Payload(i) + "\n";
  testing::WriteFile(dir.File("events.jsonl"), lines);
  auto producer = KafkaProducer::Open(client);
  REQUIRE(producer.ok());
  auto produced = ProduceJsonLines(**producer, "klaxon-real", dir.File("events.jsonl"));
  REQUIRE_MESSAGE(produced.ok(), produced.status().message());
  REQUIRE(*produced == 300);

  auto options = testing::SourceOptions(broker.brokers(), "klaxon-real", "g-real", sink);
  options.statistics_interval_ms = 200;
  std::set<std::string> unprocessed;
  {
    auto source = testing::OpenSource(options);
    auto processed = testing::ConsumeN(*source, 200, /*mark=*/true, /*max_polls=*/600);
    REQUIRE(processed.size() == 200);
    auto rest = testing::ConsumeN(*source, 100, /*mark=*/false);
    REQUIRE(rest.size() == 100);
    for (const auto& c : rest) unprocessed.insert(c.payload);
    CHECK(source->assigned_partitions() == 3);
    CHECK(source->Close().ok());
  }

  // Restart: exactly the records that were not processed come again.
  options.auto_commit_interval_ms = 0;
  options.store_batch = 1000;
  auto first = testing::OpenSource(options);
  auto again = testing::ConsumeN(*first, 100, true, 600);
  std::set<std::string> redelivered;
  for (const auto& c : again) redelivered.insert(c.payload);
  CHECK(redelivered == unprocessed);
  CHECK(testing::ConsumeN(*first, 1, true, 10).empty());
  CHECK(first->counters().commits == 0);

  // A second member joins (eager protocol): the first commits on revoke, so the second
  // re-reads nothing.
  auto second = testing::OpenSource(options);
  std::vector<testing::Consumed> seen_by_second;
  for (int i = 0; i < 600; ++i) {
    CHECK(testing::ConsumeN(*first, 1, true, 1).empty());
    auto b = testing::ConsumeN(*second, 1, true, 1);
    seen_by_second.insert(seen_by_second.end(), b.begin(), b.end());
    if (first->assigned_partitions() > 0 && second->assigned_partitions() > 0 &&
        first->assigned_partitions() + second->assigned_partitions() == 3) {
      break;
    }
  }
  REQUIRE(first->assigned_partitions() + second->assigned_partitions() == 3);
  CHECK(first->counters().commits >= 1);
  for (int i = 0; i < 10; ++i) {
    auto b = testing::ConsumeN(*second, 1, true, 1);
    seen_by_second.insert(seen_by_second.end(), b.begin(), b.end());
  }
  CHECK(seen_by_second.empty());

  // Lag per assigned partition comes from the statistics; nothing is left unread. (A partition
  // this consumer has not fetched from since the rebalance may report -1, unknown.)
  bool have_lag = false;
  for (int i = 0; i < 100 && !have_lag; ++i) {
    testing::ConsumeN(*first, 1, true, 1);
    auto lags = first->Lag();
    have_lag = static_cast<int>(lags.size()) == first->assigned_partitions();
    for (const auto& lag : lags) {
      CHECK(lag.topic == "klaxon-real");
      CHECK(lag.consumer_lag <= 0);
    }
  }
  CHECK(have_lag);
  CHECK(first->Close().ok());
  CHECK(second->Close().ok());

  auto dlq = KafkaDeadLetterProducer::Open({.client = client, .topic = "klaxon-real-dlq"});
  REQUIRE(dlq.ok());
  Record record;
  record.payload = "not json";
  record.topic = "klaxon-real";
  record.partition = 1;
  record.offset = 5;
  CHECK((*dlq)->Send(record, "not_json").ok());
  Status closed = (*dlq)->Close();
  CHECK_MESSAGE(closed.ok(), closed.message());
  CHECK((*dlq)->delivered() == 1);
}

}  // namespace
}  // namespace klaxon::connectors
