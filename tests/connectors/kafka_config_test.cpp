// CheckKafkaProperty: what the consumer would refuse, judged without a broker.
#include "connectors/kafka_config.h"

#include <doctest/doctest.h>

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
