// The `sentry:` block: Sentry's ingestion endpoint (docs/config.md).
#include <doctest/doctest.h>

#include "cli/config.h"

namespace klaxon::cli {
namespace {

Result<Config> Parse(const std::string& text) {
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "ORDERS_DSN_KEY") return "0123abcd";
    return std::nullopt;
  };
  auto file = [](const std::string& path) -> Result<std::string> {
    return Status::NotFound("cannot read " + path);
  };
  return ParseConfig(text, {}, env, file, "klaxon.yaml");
}

TEST_CASE("sentry: the issue's configuration, with limits") {
  auto c = Parse(R"(rules: [a.rules]
source: sentry
sentry:
  listen: "127.0.0.1:9000"
  projects:
    - {id: 42, name: orders-api, keys: ["${ORDERS_DSN_KEY}"]}
    - {id: 7, name: web, keys: [k1, k2], rate_limit: 600/min, burst: 50}
  max_request_bytes: 2MiB
  max_event_bytes: 256KiB
  queue_size: 500
  request_timeout: 10s
)");
  REQUIRE(c.ok());
  CHECK(c->source_kind == "sentry");
  CHECK(c->sentry.enabled);
  CHECK(c->sentry.listen == "127.0.0.1:9000");
  REQUIRE(c->sentry.projects.size() == 2);
  CHECK(c->sentry.projects[0].id == 42);
  CHECK(c->sentry.projects[0].name == "orders-api");
  CHECK(c->sentry.projects[0].keys == std::vector<std::string>{"0123abcd"});
  CHECK(c->sentry.projects[0].rate_per_second == 0);
  CHECK(c->sentry.projects[1].rate_per_second == doctest::Approx(10.0));
  CHECK(c->sentry.projects[1].burst == 50);
  CHECK(c->sentry.max_request_bytes == 2u << 20);
  CHECK(c->sentry.max_event_bytes == 256u << 10);
  CHECK(c->sentry.queue_size == 500);
  CHECK(c->sentry.request_timeout_ms == 10000);
}

TEST_CASE("sentry: beside source: kafka it is enabled; without the block it is not") {
  auto with = Parse(
      "rules: [a]\nkafka: {topics: [events]}\nsentry:\n  projects: [{id: 1, name: a, keys: "
      "[k]}]\n");
  REQUIRE(with.ok());
  CHECK(with->sentry.enabled);
  auto without = Parse("rules: [a]\nkafka: {topics: [events]}\n");
  REQUIRE(without.ok());
  CHECK_FALSE(without->sentry.enabled);
}

TEST_CASE("sentry: every mistake at once, with positions and did-you-mean") {
  auto c = Parse(R"(rules: [a.rules]
source: sentry
sentry:
  listn: ":9000"
  projects:
    - {id: 42, name: orders-api, key: [k]}
    - {id: 42, keys: [k], rate_limit: 5/week}
    - {id: x, name: b, keys: [""]}
  queue_size: -1
)");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message() ==
        "invalid configuration:\n"
        "  klaxon.yaml:4:3: sentry.listn: unknown key; did you mean `listen`?\n"
        "  klaxon.yaml:6:7: sentry.projects[0].keys: list the project's public DSN keys (none may "
        "be empty)\n"
        "  klaxon.yaml:6:34: sentry.projects[0].key: unknown key; did you mean `keys`?\n"
        "  klaxon.yaml:7:7: sentry.projects[1].name: a project needs a `name`\n"
        "  klaxon.yaml:7:12: sentry.projects[1].id: project id 42 appears twice\n"
        "  klaxon.yaml:7:39: sentry.projects[1].rate_limit: invalid rate '5/week' (use e.g. 10/s, "
        "600/min, 1000/h)\n"
        "  klaxon.yaml:8:12: sentry.projects[2].id: must be a whole number from 1 to "
        "9007199254740992, not 'x'\n"
        "  klaxon.yaml:8:12: sentry.projects[2].id: a project needs its numeric `id` (the DSN's)\n"
        "  klaxon.yaml:8:30: sentry.projects[2].keys: list the project's public DSN keys (none may "
        "be empty)\n"
        "  klaxon.yaml:9:15: sentry.queue_size: must be a whole number from 1 to 100000000, not "
        "'-1'");
}

TEST_CASE("sentry: source: sentry needs projects; a file source cannot have the block") {
  auto none = Parse("rules: [a]\nsource: sentry\n");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message() ==
        "invalid configuration:\n  sentry.projects: list at least one project ({id, name, keys})");
  auto file =
      Parse("rules: [a]\nsource: file\nsentry: {projects: [{id: 1, name: a, keys: [k]}]}\n");
  REQUIRE_FALSE(file.ok());
  CHECK(file.status().message() ==
        "invalid configuration:\n  klaxon.yaml:3:9: sentry: needs `source: sentry` or `source: "
        "kafka` (not file)");
  auto regex = Parse(
      "rules: [a]\nkafka: {topic_regex: '^e.*'}\nsentry: {projects: [{id: 1, name: a, keys: "
      "[k]}]}\n");
  REQUIRE_FALSE(regex.ok());
  CHECK(regex.status().message() ==
        "invalid configuration:\n  klaxon.yaml:3:9: sentry: produces to the first of "
        "kafka.topics: name one there");
}

TEST_CASE("kafka.format sentry_ingest: the sentry block only names projects") {
  auto c = Parse(R"(rules: [a.rules]
kafka:
  topics: [ingest-events]
  format: sentry_ingest
sentry:
  projects:
    - {id: 1, name: internal}
    - {id: 2, name: orders-api, keys: [k]}
)");
  REQUIRE(c.ok());
  CHECK(c->kafka.format == "sentry_ingest");
  CHECK_FALSE(c->sentry.enabled);  // no ingestion endpoint producing to Sentry's topic
  REQUIRE(c->sentry.projects.size() == 2);
  CHECK(c->sentry.projects[1].name == "orders-api");
  // Without projects: events get project_id only.
  auto bare = Parse("rules: [a]\nkafka: {topics: [ingest-events], format: sentry_ingest}\n");
  REQUIRE(bare.ok());
  CHECK(bare->kafka.format == "sentry_ingest");
  auto json = Parse("rules: [a]\nkafka: {topics: [t]}\n");
  REQUIRE(json.ok());
  CHECK(json->kafka.format == "json");

  auto listen = Parse(
      "rules: [a]\nkafka: {topics: [t], format: sentry_ingest}\nsentry: {listen: ':9000', "
      "projects: [{id: 1, name: a}]}\n");
  REQUIRE_FALSE(listen.ok());
  CHECK(listen.status().message() ==
        "invalid configuration:\n  klaxon.yaml:3:18: sentry.listen: kafka.format sentry_ingest "
        "reads Sentry's topic: Klaxon starts no ingestion endpoint then (remove `listen`)");
  auto other = Parse("rules: [a]\nkafka: {topics: [t], format: msgpack}\n");
  REQUIRE_FALSE(other.ok());
  CHECK(other.status().message().find(
            "kafka.format: must be json or sentry_ingest, not 'msgpack'") != std::string::npos);
  // With the JSON format, keys are still required (the block starts the endpoint).
  auto keys = Parse("rules: [a]\nkafka: {topics: [t]}\nsentry: {projects: [{id: 1, name: a}]}\n");
  REQUIRE_FALSE(keys.ok());
  CHECK(keys.status().message().find("list the project's public DSN keys") != std::string::npos);
}

}  // namespace
}  // namespace klaxon::cli
