// klaxon_kafka_consumer_lag for a partition that never had a message: -1 (unknown), as
// docs/operations.md's metrics table says, not 0: nothing tells the consumer position yet.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka_source.h"

namespace klaxon::connectors {
namespace {

TEST_CASE("the lag of a partition that never had a message is -1 until its first message") {
  // librdkafka 2.0.2 statistics of an empty partition, no offset committed for the group.
  const std::string empty = R"({"topics": {"events": {"partitions": {
      "0": {"hi_offset": 0, "app_offset": -1001, "committed_offset": -1001}}}}})";
  const std::vector<std::pair<std::string, int32_t>> assigned = {{"events", 0}};
  auto lag = KafkaSource::LagFromStatistics(empty, assigned);
  REQUIRE(lag.size() == 1);
  CHECK(lag[0].consumer_lag == -1);
  // Its first message read: the position is known, and the lag is 0.
  const std::string read = R"({"topics": {"events": {"partitions": {
      "0": {"hi_offset": 1, "app_offset": 1, "committed_offset": -1001}}}}})";
  lag = KafkaSource::LagFromStatistics(read, assigned);
  REQUIRE(lag.size() == 1);
  CHECK(lag[0].consumer_lag == 0);
}

}  // namespace
}  // namespace klaxon::connectors
