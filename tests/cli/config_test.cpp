#include "cli/config.h"

#include <doctest/doctest.h>

namespace klaxon::cli {
namespace {

std::optional<std::string> FakeEnv(const std::string& name) {
  if (name == "BROKERS") return "kafka-1:9092,kafka-2:9092";
  if (name == "EMPTY") return "";
  return std::nullopt;
}

Result<std::string> FakeFile(const std::string& path) {
  if (path == "/run/secrets/kafka") return std::string("s3cret\n");
  return Status::NotFound("cannot read " + path);
}

Result<Config> Parse(const std::string& text, std::map<std::string, std::string> overrides = {}) {
  return ParseConfig(text, overrides, FakeEnv, FakeFile);
}

TEST_CASE("a full configuration parses with interpolation and secret files") {
  auto c = Parse(R"(
rules: [examples/rules]
source: kafka
kafka:
  brokers: ${BROKERS}
  topics: [sentry-events]
  group_id: ${GROUP:-klaxon-prod}
  sasl_password_file: /run/secrets/kafka
  properties:
    fetch.max.bytes: "1048576"
engine:
  allowed_lateness: 10s
  max_event_size: 512KiB
outbox:
  path: /var/lib/klaxon/outbox.db
log:
  format: json
)");
  REQUIRE(c.ok());
  CHECK(c->kafka.brokers == "kafka-1:9092,kafka-2:9092");
  CHECK(c->kafka.group_id == "klaxon-prod");
  CHECK(c->kafka.sasl_password == "s3cret");
  CHECK(c->kafka.properties.at("fetch.max.bytes") == "1048576");
  CHECK(c->engine.allowed_lateness_ms == 10000);
  CHECK(c->engine.max_event_bytes == 512 * 1024);
  CHECK(c->log_format == "json");
}

TEST_CASE("flags override any key, including librdkafka properties with dots") {
  auto c = Parse("rules: [a.rules]\nkafka: {topics: [t]}\n",
                 {{"log.format", "json"},
                  {"kafka.properties.session.timeout.ms", "6000"},
                  {"kafka.topics", "a,b"},
                  {"engine.allowed_lateness", "1s"}});
  REQUIRE(c.ok());
  CHECK(c->log_format == "json");
  CHECK(c->kafka.properties.at("session.timeout.ms") == "6000");
  CHECK(c->kafka.topics == std::vector<std::string>{"a", "b"});
  CHECK(c->engine.allowed_lateness_ms == 1000);
}

TEST_CASE("every problem is reported with its key") {
  auto c = Parse(R"(
rules: [a.rules]
source: kafak
kafka: {topics: [t], brokers: "${NOPE}"}
engine: {allowed_lateness: soon, max_groups_per_rule: -3}
log: {formatt: json}
)");
  REQUIRE_FALSE(c.ok());
  const std::string& m = c.status().message();
  CHECK(m.find("source: must be kafka, file, stdin or sentry, not 'kafak'") != std::string::npos);
  CHECK(m.find("kafka.brokers: environment variable NOPE is not set") != std::string::npos);
  CHECK(m.find("engine.allowed_lateness: invalid duration 'soon'") != std::string::npos);
  CHECK(m.find("engine.max_groups_per_rule: must be a whole number from 1 to 100000000") !=
        std::string::npos);
  CHECK(m.find("log.formatt: unknown key") != std::string::npos);
}

TEST_CASE("a key written without a value is an error, not its default") {
  auto c = Parse(R"(
rules: [a.rules]
source: kafka
kafka: {topics: [t], brokers: "b:9092", group_id: }
scale_out:
  enabled: true
  application_id:
  partitions: ~
  exactly_once: ""
  warm_standby: null
)");
  REQUIRE_FALSE(c.ok());
  const std::string& m = c.status().message();
  const std::string no_value = ": has no value: give one, or leave the key out for its default";
  CHECK(m.find("kafka.group_id" + no_value) != std::string::npos);
  CHECK(m.find("scale_out.application_id" + no_value) != std::string::npos);
  CHECK(m.find("scale_out.partitions" + no_value) != std::string::npos);
  CHECK(m.find("scale_out.warm_standby" + no_value) != std::string::npos);
  CHECK(m.find("scale_out.exactly_once: must be true or false, not ''") != std::string::npos);
  // Sections and keys left out still take their defaults.
  auto ok = Parse("rules: [a.rules]\nsource: kafka\nkafka: {topics: [t], brokers: \"b:9092\"}\n");
  CHECK(ok.ok());
}

TEST_CASE("invalid YAML names the line") {
  auto c = Parse("rules: [a\nkafka: {");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("invalid YAML: line") == 0);
}

TEST_CASE("interpolation") {
  CHECK(*Interpolate("a${BROKERS}b", FakeEnv) == "akafka-1:9092,kafka-2:9092b");
  CHECK(*Interpolate("${EMPTY:-x}", FakeEnv) == "x");
  CHECK(*Interpolate("$$HOME and $x", FakeEnv) == "$HOME and $x");
  CHECK_FALSE(Interpolate("${UNSET}", FakeEnv).ok());
  CHECK_FALSE(Interpolate("${BROKERS", FakeEnv).ok());
}

TEST_CASE("durations and sizes") {
  CHECK(*ParseDurationMs("1m30s") == 90000);
  CHECK(*ParseDurationMs("250ms") == 250);
  CHECK_FALSE(ParseDurationMs("5 minutes").ok());
  CHECK(*ParseBytes("1MiB") == 1048576);
  CHECK_FALSE(ParseBytes("lots").ok());
  // Before: std::stoll threw, or the product overflowed.
  CHECK(ParseBytes("99999999999999999999").status().message() ==
        "size '99999999999999999999' is out of range (at most 1024GiB)");
  CHECK(ParseBytes("999999999999999GiB").status().message().find("out of range") !=
        std::string::npos);
}

TEST_CASE("configuration durations use the rule files' units") {
  auto c = Parse("rules: [a.rules]\nkafka: {topics: [t]}\nengine: {allowed_lateness: 5min}\n",
                 {{"outbox.drain_timeout", "2minutes"}});
  REQUIRE(c.ok());
  CHECK(c->engine.allowed_lateness_ms == 300000);
  CHECK(c->drain_timeout_ms == 120000);
}

TEST_CASE("numbers too large are out of range, in the file and in flags") {
  // Before: an uncaught std::out_of_range aborted `klaxon run`, and 9999999999999999w wrapped
  // to a negative lateness.
  auto c = Parse(R"(rules: [a.rules]
kafka: {topics: [t]}
engine:
  allowed_lateness: 9999999999999999w
  max_groups_per_rule: 99999999999999999999
)",
                 {{"outbox.drain_timeout", "99999999999999999999s"}});
  REQUIRE_FALSE(c.ok());
  const std::string& m = c.status().message();
  CAPTURE(m);
  CHECK(m.find("4:21: engine.allowed_lateness: duration '9999999999999999w' is out of range") !=
        std::string::npos);
  CHECK(m.find("5:24: engine.max_groups_per_rule: '99999999999999999999' is out of range "
               "(1 to 100000000)") != std::string::npos);
  CHECK(m.find("  --outbox.drain_timeout: duration '99999999999999999999s' is out of range") !=
        std::string::npos);
  CHECK(m.find("negative") == std::string::npos);
}

TEST_CASE("unknown keys are reported with their position and the closest known key") {
  auto c = ParseConfig(
      "rules: [a.rules]\nkafka:\n  topics: [t]\n  brokerz: x:9092\n"
      "engine: {max_dept: 3}\nlogs: {}\n",
      {{"admin.listn", ":1"}}, FakeEnv, FakeFile, "klaxon.yaml");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message() ==
        "invalid configuration:\n"
        "  klaxon.yaml:4:3: kafka.brokerz: unknown key; did you mean `brokers`?\n"
        "  klaxon.yaml:5:10: engine.max_dept: unknown key; did you mean `max_depth`?\n"
        "  klaxon.yaml:6:1: logs: unknown key; did you mean `log`?\n"
        "  --admin.listn: unknown key; did you mean `listen`?");
}

TEST_CASE("a misspelt secret-file key is offered the _file key") {
  auto c = Parse("rules: [a.rules]\nkafka: {topics: [t], sasl_pasword_file: x}\n");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("kafka.sasl_pasword_file: unknown key; did you mean "
                                  "`sasl_password_file`?") != std::string::npos);
}

TEST_CASE("zero sizes, zero depth and ports beyond 65535 are refused, all at once") {
  auto c = Parse(R"(rules: [a.rules]
kafka: {topics: [t]}
engine: {max_event_size: 0, max_depth: 0}
admin: {listen: "127.0.0.1:99999"}
log: {level: verbose}
)");
  REQUIRE_FALSE(c.ok());
  const std::string& m = c.status().message();
  CAPTURE(m);
  CHECK(m.find("3:26: engine.max_event_size: must be more than 0") != std::string::npos);
  CHECK(m.find("3:40: engine.max_depth: '0' is out of range (1 to 1024)") != std::string::npos);
  CHECK(m.find("4:17: admin.listen: port '99999' is out of range (0 to 65535)") !=
        std::string::npos);
  CHECK(m.find("5:14: log.level: must be debug, info, warn or error, not 'verbose'") !=
        std::string::npos);
}

}  // namespace
}  // namespace klaxon::cli
