// kafka.format sentry_ingest: Relay's messages on Sentry's ingest-events topic, turned into the
// event JSON the engine decodes.
#include "connectors/sentry_ingest_format.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/connectors/relay_message.h"

namespace klaxon::connectors {
namespace {

using Kind = SentryIngestFormat::Kind;
using test::MsgpackWriter;
using test::RelayEventMessage;

const std::map<int64_t, std::string> kProjects = {{42, "orders-api"}, {7, "say \"hi\""}};

TEST_CASE("an event message becomes its payload with project and project_id") {
  SentryIngestFormat format(kProjects);
  std::string json;
  const std::string payload =
      R"({"event_id":"0123456789abcdef0123456789abcdef","timestamp":1764280000.5,)"
      R"("project":99,"exception":{"values":[{"type":"KeyError"}]}})";
  const auto o = format.ToEventJson(RelayEventMessage(payload, 42), &json);
  REQUIRE(o.kind == Kind::kEvent);
  // The message's project is appended last: it wins over the payload's own `project`.
  CHECK(json ==
        payload.substr(0, payload.size() - 1) + R"(,"project":"orders-api","project_id":42})");
  CHECK(nlohmann::json::parse(json, nullptr, false).is_object());

  // A name is JSON-escaped; a project without a name gets its id only.
  REQUIRE(format.ToEventJson(RelayEventMessage(" {\"a\":1} \n", 7), &json).kind == Kind::kEvent);
  CHECK(json == R"({"a":1,"project":"say \"hi\"","project_id":7})");
  REQUIRE(format.ToEventJson(RelayEventMessage("{\"a\":1}", 1234567), &json).kind == Kind::kEvent);
  CHECK(json == R"({"a":1,"project_id":1234567})");
  REQUIRE(format.ToEventJson(RelayEventMessage("{ }", 42), &json).kind == Kind::kEvent);
  CHECK(json == R"({ "project":"orders-api","project_id":42})");
  REQUIRE(format.ToEventJson(RelayEventMessage("{}", 5), &json).kind == Kind::kEvent);
  CHECK(json == R"({"project_id":5})");
}

TEST_CASE("a payload as msgpack str (older producers) is read like bin") {
  SentryIngestFormat format(kProjects);
  MsgpackWriter w;
  w.Map(3).Str("type").Str("event").Str("project_id").Uint(42).Str("payload").Str("{\"x\":2}");
  std::string json;
  REQUIRE(format.ToEventJson(w.Bytes(), &json).kind == Kind::kEvent);
  CHECK(json == R"({"x":2,"project":"orders-api","project_id":42})");
}

TEST_CASE("a payload that is no JSON object is passed on unchanged, for the decoder to reject") {
  SentryIngestFormat format(kProjects);
  std::string json;
  for (const std::string payload : {"not json", "[1, 2]", "\"}\"", "", "{\"a\":1} trailing"}) {
    INFO(payload);
    REQUIRE(format.ToEventJson(RelayEventMessage(payload, 42), &json).kind == Kind::kEvent);
    CHECK(json == payload);
  }
}

TEST_CASE("messages of other types and transactions are skipped with their type") {
  SentryIngestFormat format(kProjects);
  std::string json;
  for (const char* type : {"attachment", "attachment_chunk", "user_report"}) {
    MsgpackWriter w;
    w.Map(3).Str("type").Str(type).Str("project_id").Uint(42).Str("payload").Bin("x");
    const std::string message = w.Bytes();  // the type is a view into it
    const auto o = format.ToEventJson(message, &json);
    CHECK(o.kind == Kind::kSkipped);
    CHECK(o.type == type);
  }
  const auto t = format.ToEventJson(
      RelayEventMessage(R"({"type":"transaction","transaction":"/orders","spans":[]})", 42), &json);
  CHECK(t.kind == Kind::kSkipped);
  CHECK(t.type == "transaction");
  // An error event says "error" or nothing.
  CHECK(format.ToEventJson(RelayEventMessage(R"({"type":"error"})", 42), &json).kind ==
        Kind::kEvent);
  CHECK(format.ToEventJson(RelayEventMessage(R"({"extra":{"type":"transaction"}})", 42), &json)
            .kind == Kind::kEvent);
}

TEST_CASE("malformed messages are refused with the reason") {
  SentryIngestFormat format(kProjects);
  std::string json;
  auto reason = [&](const std::string& message) -> std::string {
    const auto o = format.ToEventJson(message, &json);
    if (o.kind != Kind::kMalformed) return "not refused";
    return o.error;
  };
  const std::string good = RelayEventMessage("{\"a\":1}", 42);
  CHECK(reason("") == "the msgpack message is truncated");
  CHECK(reason(good.substr(0, good.size() - 3)) == "the msgpack message is truncated");
  CHECK(reason(good.substr(0, 1)) == "the msgpack message is truncated");
  CHECK(reason(good + "x") == "bytes after the end of the msgpack message");
  CHECK(reason("\xc1") == "not msgpack");  // a reserved byte
  CHECK(reason("{\"type\":\"event\"}") == "bytes after the end of the msgpack message");
  {
    MsgpackWriter w;
    w.Array(2).Str("event").Uint(42);
    CHECK(reason(w.Bytes()) == "not a msgpack map (Relay's ingest message)");
  }
  {
    MsgpackWriter w;
    w.Map(1).Str("payload").Bin("{}");
    CHECK(reason(w.Bytes()) == "no string `type`");
  }
  {
    MsgpackWriter w;
    w.Map(2).Str("type").Uint(1).Str("payload").Bin("{}");
    CHECK(reason(w.Bytes()) == "no string `type`");
  }
  {
    MsgpackWriter w;
    w.Map(2).Str("type").Str("event").Str("project_id").Uint(42);
    CHECK(reason(w.Bytes()) == "an event message without a bytes `payload`");
  }
  {
    MsgpackWriter w;
    w.Map(3).Str("type").Str("event").Str("project_id").Uint(42).Str("payload").Uint(7);
    CHECK(reason(w.Bytes()) == "an event message without a bytes `payload`");
  }
  for (int variant = 0; variant < 4; ++variant) {
    MsgpackWriter v;
    v.Map(3).Str("type").Str("event").Str("payload").Bin("{}").Str("project_id");
    if (variant == 0) v.Str("42");
    if (variant == 1) v.Int(-3);
    if (variant == 2) v.Uint(0);
    if (variant == 3) v.Nil();
    INFO(variant);
    CHECK(reason(v.Bytes()) == "an event message without a positive integer `project_id`");
  }
  {
    MsgpackWriter w;
    w.Map(2).Str("type").Str("event").Str("payload").Bin("{}");
    CHECK(reason(w.Bytes()) == "an event message without a positive integer `project_id`");
  }
  {  // Containers and strings that declare far more than the message holds: refused before
     // msgpack-c allocates for them (it asked for 128 GiB, which aborts under AddressSanitizer).
    const std::string declared = "the msgpack message is truncated";
    CHECK(reason(std::string("\x81\xa4type\xdd\xff\xff\xff\xf0", 11) + "\x01\x02") == declared);
    CHECK(reason(std::string("\xdf\x7f\xff\xff\xff", 5) + "\xa1k\x01") == declared);
    CHECK(reason(std::string("\x81\xa4type\xdb\xff\xff\xff\xff", 11) + "event") == declared);
    CHECK(reason(std::string("\x92\x01", 2)) == "the msgpack message is truncated");
  }
  {  // Nested far deeper than any event.
    std::string deep(100000, '\x91');
    deep += '\x01';
    CHECK(reason(deep) ==
          "the msgpack message nests too deeply or declares more elements than can be held");
  }
  // The format is still usable after all of that.
  CHECK(format.ToEventJson(good, &json).kind == Kind::kEvent);
}

}  // namespace
}  // namespace klaxon::connectors
