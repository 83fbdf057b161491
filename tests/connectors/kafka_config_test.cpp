// CheckKafkaProperty: what the consumer would refuse, judged without a broker.
#include "connectors/kafka_config.h"

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "connectors/kafka_producer.h"

namespace klaxon::connectors {
namespace {

TEST_CASE("CheckKafkaProperty refuses what librdkafka and KafkaSource refuse") {
  CHECK(CheckKafkaProperty("fetch.max.bytes", "1048576").ok());
  CHECK(CheckKafkaProperty("session.timeout.ms", "45000").ok());
  CHECK(CheckKafkaProperty("enable.auto.offset.store", "false").ok());

  const Status unknown = CheckKafkaProperty("bogus.prop", "1");
  CHECK_FALSE(unknown.ok());
  CHECK(unknown.message().find("kafka property bogus.prop: No such configuration property") == 0);
  const Status bad_value = CheckKafkaProperty("fetch.max.bytes", "abc");
  CHECK_FALSE(bad_value.ok());
  CHECK(bad_value.message().find("kafka property fetch.max.bytes: Invalid value") == 0);
  const Status store = CheckKafkaProperty("enable.auto.offset.store", "true");
  CHECK(store.message().find("must stay false") != std::string::npos);
}

}  // namespace
}  // namespace klaxon::connectors

namespace klaxon::connectors {
namespace {

// A broker that is not there: nothing in these tests may need one.
constexpr const char* kNoBroker = "127.0.0.1:1";

TEST_CASE("CheckKafkaClient refuses properties librdkafka refuses together, within moments") {
  KafkaClientOptions options;
  options.brokers = kNoBroker;
  options.properties = {{"group.instance.id", "klaxon-1"}, {"session.timeout.ms", "45000"}};
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(CheckKafkaClient(options, KafkaClientKind::kConsumer).ok());
  CHECK(CheckKafkaClient(options, KafkaClientKind::kProducer).ok());

  options.properties["fetch.max.bytes"] = "20000";  // below message.max.bytes (1000000)
  const Status fetch = CheckKafkaClient(options, KafkaClientKind::kConsumer);
  CHECK(fetch.message() == "`fetch.max.bytes` must be >= `message.max.bytes`");
  CHECK(CheckKafkaClient(options, KafkaClientKind::kProducer).ok());  // a consumer property

  options.properties = {{"message.timeout.ms", "3"}};  // not above the producer's linger.ms 5
  const Status linger = CheckKafkaClient(options, KafkaClientKind::kProducer);
  CHECK(linger.message() == "`message.timeout.ms` must be greater than `linger.ms`");
  // Created and destroyed at once: no connection is waited for.
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}

TEST_CASE("ProducerProperties leaves out the consumer's properties, as librdkafka scopes them") {
  const std::map<std::string, std::string> properties = {
      {"group.instance.id", "klaxon-1"}, {"session.timeout.ms", "45000"},
      {"fetch.max.bytes", "1048576"},    {"linger.ms", "10"},
      {"socket.timeout.ms", "30000"},    {"bogus.prop", "1"}};
  const std::map<std::string, std::string> want = {
      {"linger.ms", "10"}, {"socket.timeout.ms", "30000"}, {"bogus.prop", "1"}};
  CHECK(ProducerProperties(properties) == want);
}

// group.instance.id is what docs/operations.md recommends; the dead-letter producer shares
// kafka.properties and used to warn about it at every start.
TEST_CASE("the dead-letter producer gives no warning about the consumer's properties") {
  std::vector<std::string> lines;
  DeadLetterOptions options;
  options.topic = "dead";
  options.client.brokers = kNoBroker;
  options.client.log = [&](LogLevel, std::string_view line) { lines.emplace_back(line); };
  const auto open = [&](std::map<std::string, std::string> properties) {
    lines.clear();
    options.client.properties = std::move(properties);
    REQUIRE(KafkaDeadLetterProducer::Open(options).ok());
  };
  // Lines about `needle` (the log also has connection errors: there is no broker).
  const auto about = [&](const std::string& needle) {
    std::vector<std::string> found;
    for (const std::string& line : lines) {
      if (line.find(needle) != std::string::npos) found.push_back(line);
    }
    return found;
  };
  // The log hook does receive librdkafka's configuration warnings.
  open({{"produce.offset.report", "true"}});
  CHECK(about("produce.offset.report is deprecated").size() == 1);
  open({{"group.instance.id", "klaxon-1"}, {"fetch.max.bytes", "1048576"}});
  CHECK(about("CONFWARN").empty());
}

}  // namespace
}  // namespace klaxon::connectors
