#include <doctest/doctest.h>

#include <string>

#include "engine/event_decoder.h"
#include "engine/predicate.h"
#include "tests/engine/engine_test_util.h"

namespace klaxon {
namespace {

using namespace klaxon::testing;

TEST_CASE("epoch seconds are parsed as decimal text and rounded to the nearest ms") {
  CHECK(ParseEpochSecondsText("1764028800.123") == 1764028800123);
  CHECK(ParseEpochSecondsText("1764028800") == 1764028800000);
  CHECK(ParseEpochSecondsText("1764028800.1") == 1764028800100);
  CHECK(ParseEpochSecondsText("1764028800.1234") == 1764028800123);
  CHECK(ParseEpochSecondsText("1764028800.1235") == 1764028800124);
  CHECK(ParseEpochSecondsText("1764028800.9996") == 1764028801000);
  CHECK(ParseEpochSecondsText("1.764028800123e9") == 1764028800123);
  CHECK(ParseEpochSecondsText("1764028800123e-3") == 1764028800123);
  CHECK(ParseEpochSecondsText("0.0005") == 1);
  CHECK(ParseEpochSecondsText("0") == 0);
  CHECK(ParseEpochSecondsText("-1.5") == -1500);
  CHECK_FALSE(ParseEpochSecondsText("").has_value());
  CHECK_FALSE(ParseEpochSecondsText("abc").has_value());
  CHECK_FALSE(ParseEpochSecondsText("1e400").has_value());
  CHECK_FALSE(ParseEpochSecondsText("1.2.3").has_value());
}

TEST_CASE("RFC 3339 timestamps with Z, offsets and fractions") {
  CHECK(ParseRfc3339("2025-11-25T00:00:00Z") == 1764028800000);
  CHECK(ParseRfc3339("2025-11-25T00:01:07.250Z") == 1764028867250);
  CHECK(ParseRfc3339("2025-11-25T02:00:00+02:00") == 1764028800000);
  CHECK(ParseRfc3339("2025-11-24T19:00:00-05:00") == 1764028800000);
  CHECK(ParseRfc3339("2025-11-25t00:00:00.1z") == 1764028800100);
  CHECK(ParseRfc3339("2025-11-25T00:00:00.0005Z") == 1764028800001);
  CHECK(ParseRfc3339("2025-11-25T00:00:00.123456789Z") == 1764028800123);
  CHECK(ParseRfc3339("2024-02-29T00:00:00Z") == 1709164800000);
  CHECK_FALSE(ParseRfc3339("2025-02-29T00:00:00Z").has_value());
  CHECK_FALSE(ParseRfc3339("2025-11-25T00:00:00").has_value());
  CHECK_FALSE(ParseRfc3339("2025-13-25T00:00:00Z").has_value());
  CHECK_FALSE(ParseRfc3339("2025-11-25T24:00:00Z").has_value());
  CHECK_FALSE(ParseRfc3339("2025-11-25T00:00:00.Z").has_value());
  CHECK_FALSE(ParseRfc3339("2025-11-25T00:00:00Zjunk").has_value());
  CHECK_FALSE(ParseRfc3339("yesterday").has_value());
}

TEST_CASE("wildcard matching") {
  CHECK(GlobMatch("orders-*", "orders-api"));
  CHECK(GlobMatch("*", ""));
  CHECK(GlobMatch("*-api", "orders-api"));
  CHECK(GlobMatch("o*s*i", "orders-api"));
  CHECK(GlobMatch("a*a", "aa"));
  CHECK_FALSE(GlobMatch("a*a", "a"));
  CHECK_FALSE(GlobMatch("Orders-*", "orders-api"));
  CHECK(GlobMatch("**", "x"));
  CHECK(GlobMatch("a*b*c", "aXbYbZc"));
  CHECK_FALSE(GlobMatch("a*b*c", "aXcYb"));
  CHECK(GlobMatch("exact", "exact"));
  CHECK_FALSE(GlobMatch("exact", "exactly"));
  // Long inputs stay fast: no backtracking.
  std::string text(100000, 'a');
  CHECK_FALSE(GlobMatch("*a*a*a*a*a*b", text));
}

struct DecodeFixture {
  FieldTable table;
  EngineOptions options;
  std::unique_ptr<EventDecoder> decoder;
  DecodedEvent ev;
  void Build() { decoder = std::make_unique<EventDecoder>(table.fields(), options); }
  std::vector<std::string> Values(uint32_t f) {
    std::vector<std::string> out;
    for (auto* v = ev.Begin(f); v != ev.End(f); ++v) out.emplace_back(ev.Text(*v));
    return out;
  }
};

TEST_CASE("decoding referenced fields: tags as object or pairs, arrays, path-then-tag") {
  DecodeFixture d;
  const uint32_t env = d.table.Intern(TagField("environment"));
  const uint32_t type = d.table.Intern(ExceptionType());
  const uint32_t service = d.table.Intern(Service());
  const uint32_t status = d.table.Intern(PathField("status", {"request", "status"}));
  const uint32_t ok = d.table.Intern(PathField("ok", {"ok"}));
  const uint32_t user = d.table.Intern(PathField("user.id", {"user", "id"}));
  d.Build();

  REQUIRE(d.decoder->Decode(
              R"({"timestamp":1764028800.123,"tags":{"environment":"prod","service":"t-svc"},)"
              R"("exception":{"values":[{"type":"A","stack":[1,2]},{"type":"B"}]},)"
              R"("request":{"status":500},"ok":true,"user":{"id":null}})",
              d.ev) == RejectReason::kNone);
  CHECK(d.ev.time_ms == 1764028800123);
  CHECK(d.Values(env) == std::vector<std::string>{"prod"});
  CHECK(d.Values(type) == std::vector<std::string>{"A", "B"});
  CHECK(d.Values(service) == std::vector<std::string>{"t-svc"});
  CHECK(d.Values(status) == std::vector<std::string>{"500"});
  CHECK(d.Values(ok) == std::vector<std::string>{"true"});
  CHECK(d.Values(user).empty());  // null is absent

  // Tags as a list of pairs; a top-level `service` wins over the tag.
  REQUIRE(d.decoder->Decode(R"({"timestamp":"2025-11-25T00:00:00Z","service":"path-svc",)"
                            R"("tags":[["environment","staging"],["service","t-svc"],["x"]]})",
                            d.ev) == RejectReason::kNone);
  CHECK(d.ev.time_ms == kT0);
  CHECK(d.Values(env) == std::vector<std::string>{"staging"});
  CHECK(d.Values(service) == std::vector<std::string>{"path-svc"});
  CHECK(d.Values(type).empty());

  // A null path value falls back to the tag; numeric tag values keep their text.
  REQUIRE(d.decoder->Decode(
              R"({"timestamp":1,"service":null,"tags":{"service":7,"environment":"x"}})", d.ev) ==
          RejectReason::kNone);
  CHECK(d.Values(service) == std::vector<std::string>{"7"});
  CHECK(d.Values(env) == std::vector<std::string>{"x"});

  // Escapes are decoded.
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"tags":{"environment":"a\"b\u00e9"}})", d.ev) ==
          RejectReason::kNone);
  CHECK(d.Values(env) == std::vector<std::string>{"a\"b\xc3\xa9"});

  // Keys are matched after unescaping, at the root, in nested objects and in both tag forms;
  // a key that only starts like a wanted one does not match.
  REQUIRE(d.decoder->Decode(
              R"({"tim\u0065stamp":2,"timestampx":3,"tags":{"envi\u0072onment":"esc"},)"
              R"("exc\u0065ption":{"values":[{"\u0074ype":"T"}]},"request":{"st\u0061tus":404}})",
              d.ev) == RejectReason::kNone);
  CHECK(d.ev.time_ms == 2000);
  CHECK(d.Values(env) == std::vector<std::string>{"esc"});
  CHECK(d.Values(type) == std::vector<std::string>{"T"});
  CHECK(d.Values(status) == std::vector<std::string>{"404"});
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"tags":[["serv\u0069ce","s1"],["servic","no"]]})",
                            d.ev) == RejectReason::kNone);
  CHECK(d.Values(service) == std::vector<std::string>{"s1"});
}

TEST_CASE("a duplicated key: its last occurrence wins for every field, as in JSON.parse") {
  DecodeFixture d;
  const uint32_t env = d.table.Intern(TagField("environment"));
  const uint32_t type = d.table.Intern(ExceptionType());
  const uint32_t service = d.table.Intern(Service());
  const uint32_t user = d.table.Intern(PathField("user.id", {"user", "id"}));
  const uint32_t email = d.table.Intern(PathField("user.email", {"user", "email"}));
  d.Build();

  // Duplicate timestamp: the last one, even when it is invalid.
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"timestamp":2})", d.ev) == RejectReason::kNone);
  CHECK(d.ev.time_ms == 2000);
  CHECK(d.decoder->Decode(R"({"timestamp":1,"timestamp":null})", d.ev) ==
        RejectReason::kInvalidTimestamp);
  REQUIRE(d.decoder->Decode(R"({"timestamp":"x","timestamp":3})", d.ev) == RejectReason::kNone);
  CHECK(d.ev.time_ms == 3000);
  // Before: another key repeated after the second timestamp brought the first one back (and
  // with it past the future-timestamp bound), while that key took its last value.
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"tags":{"environment":"y"},"timestamp":2,)"
                            R"("tags":{"environment":"x"}})",
                            d.ev) == RejectReason::kNone);
  CHECK(d.ev.time_ms == 2000);
  CHECK(d.Values(env) == std::vector<std::string>{"x"});

  // Duplicate tags object: the last object replaces the first as a whole.
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"tags":{"environment":"a","service":"s"},)"
                            R"("tags":{"environment":"b"}})",
                            d.ev) == RejectReason::kNone);
  CHECK(d.Values(env) == std::vector<std::string>{"b"});
  CHECK(d.Values(service).empty());
  // A tag repeated inside one object, or as a pair in the list form: the last value.
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"tags":{"environment":"a","environment":"b"}})",
                            d.ev) == RejectReason::kNone);
  CHECK(d.Values(env) == std::vector<std::string>{"b"});
  REQUIRE(d.decoder->Decode(
              R"({"timestamp":1,"tags":[["environment","a"],["service","s"],["environment","b"]]})",
              d.ev) == RejectReason::kNone);
  CHECK(d.Values(env) == std::vector<std::string>{"b"});
  CHECK(d.Values(service) == std::vector<std::string>{"s"});

  // Duplicate nested key, and a duplicated parent replacing the whole object.
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"user":{"id":"u1","email":"e","id":"u2"}})", d.ev) ==
          RejectReason::kNone);
  CHECK(d.Values(user) == std::vector<std::string>{"u2"});
  CHECK(d.Values(email) == std::vector<std::string>{"e"});
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"user":{"id":"u1","email":"e"},"user":{"id":"u3"}})",
                            d.ev) == RejectReason::kNone);
  CHECK(d.Values(user) == std::vector<std::string>{"u3"});
  CHECK(d.Values(email).empty());
  // The same key spelled with an escape is the same key.
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"user":{"id":"u1","\u0069d":"u4"}})", d.ev) ==
          RejectReason::kNone);
  CHECK(d.Values(user) == std::vector<std::string>{"u4"});

  // Duplicate exception.values: the last array only.
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"exception":{"values":[{"type":"A"},{"type":"B"}],)"
                            R"("values":[{"type":"C"}]}})",
                            d.ev) == RejectReason::kNone);
  CHECK(d.Values(type) == std::vector<std::string>{"C"});
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"exception":{"values":[{"type":"A"}]},)"
                            R"("exception":{"values":[{"type":"D","type":"E"}]}})",
                            d.ev) == RejectReason::kNone);
  CHECK(d.Values(type) == std::vector<std::string>{"E"});
  // A path value that a later duplicate removes no longer hides the tag.
  REQUIRE(d.decoder->Decode(
              R"({"timestamp":1,"service":"p","tags":{"service":"t"},"service":null})", d.ev) ==
          RejectReason::kNone);
  CHECK(d.Values(service) == std::vector<std::string>{"t"});
}

TEST_CASE("escapes anywhere in a long key are found, and a backslash after the key is not one") {
  DecodeFixture d;
  const uint32_t region = d.table.Intern(PathField("region", {"deployment_region_name_long"}));
  const uint32_t zone = d.table.Intern(TagField("availability_zone"));
  d.Build();
  // Escapes at bytes 7, 8, 15, 16 and 26 of the key (the decoder scans keys 8 bytes at a time).
  for (const char* key : {R"(deployment_region_name_long)", R"(deployment_region_name_long)",
                          R"(deployment_region_name_long)", R"(deployment_region_name_long)",
                          R"(deployment_region_name_long)"}) {
    CAPTURE(key);
    REQUIRE(d.decoder->Decode(std::string(R"({"timestamp":1,")") + key + R"(":"eu"})", d.ev) ==
            RejectReason::kNone);
    CHECK(d.Values(region) == std::vector<std::string>{"eu"});
  }
  REQUIRE(d.decoder->Decode(R"({"timestamp":1,"tags":{"availability_zon\u0065":"b"}})", d.ev) ==
          RejectReason::kNone);
  CHECK(d.Values(zone) == std::vector<std::string>{"b"});
  // Short keys followed by escaped values: nothing is unescaped into a false match.
  REQUIRE(d.decoder->Decode(
              R"({"timestamp":1,"ab":"\n","tags":{"zz":"\"x","availability_zone":"c"}})", d.ev) ==
          RejectReason::kNone);
  CHECK(d.Values(zone) == std::vector<std::string>{"c"});
  CHECK(d.Values(region).empty());
}

TEST_CASE("every reject reason") {
  DecodeFixture d;
  d.table.Intern(TagField("environment"));
  d.options.max_event_bytes = 4096;
  d.options.max_depth = 16;
  d.Build();
  auto reason = [&](const std::string& s) { return d.decoder->Decode(s, d.ev); };
  CHECK(reason("not json") == RejectReason::kInvalidJson);
  CHECK(reason("{\"timestamp\":1,") == RejectReason::kInvalidJson);
  CHECK(reason("{\"timestamp\":1} trailing") == RejectReason::kInvalidJson);
  CHECK(reason("") == RejectReason::kInvalidJson);
  CHECK(reason("[1,2]") == RejectReason::kNotObject);
  CHECK(reason("42") == RejectReason::kNotObject);
  CHECK(reason("[1,") == RejectReason::kInvalidJson);
  CHECK(reason("{\"timestamp\":1,\"m\":\"\xff\xfe\"}") == RejectReason::kInvalidUtf8);
  CHECK(reason(std::string(5000, ' ')) == RejectReason::kTooLarge);
  std::string deep = "{\"timestamp\":1,\"a\":" + std::string(40, '[') + std::string(40, ']') + "}";
  CHECK(reason(deep) == RejectReason::kTooDeep);
  std::string deep_obj = "{\"timestamp\":1,\"a\":";
  for (int i = 0; i < 40; ++i) deep_obj += "{\"a\":";
  deep_obj += "1" + std::string(41, '}');
  CHECK(reason(deep_obj) == RejectReason::kTooDeep);
  CHECK(reason("{\"time\":1}") == RejectReason::kMissingTimestamp);
  CHECK(reason("{\"timestamp\":null}") == RejectReason::kInvalidTimestamp);
  CHECK(reason("{\"timestamp\":\"noon\"}") == RejectReason::kInvalidTimestamp);
  CHECK(reason("{\"timestamp\":{\"s\":1}}") == RejectReason::kInvalidTimestamp);
  CHECK(reason("{\"timestamp\":1e300}") == RejectReason::kInvalidTimestamp);
  CHECK(reason("{\"timestamp\":1}") == RejectReason::kNone);
  // Shallow but with many brackets overall is fine.
  std::string wide = "{\"timestamp\":1,\"a\":[";
  for (int i = 0; i < 100; ++i) wide += std::string(i ? "," : "") + "[1]";
  wide += "]}";
  CHECK(reason(wide) == RejectReason::kNone);
  // A configurable timestamp path.
  DecodeFixture e;
  e.options.timestamp_path = {"meta", "ts"};
  e.Build();
  CHECK(e.decoder->Decode("{\"meta\":{\"ts\":\"2025-11-25T00:00:00Z\"}}", e.ev) ==
        RejectReason::kNone);
  CHECK(e.ev.time_ms == kT0);
  CHECK(e.decoder->Decode("{\"timestamp\":1}", e.ev) == RejectReason::kMissingTimestamp);
}

TEST_CASE("the engine counts rejects by reason and never throws on garbage") {
  Harness h({EveryRule("all", Predicate())});
  REQUIRE(h.engine);
  h.Send("nope");
  h.Send("[]");
  h.Send("{}");
  h.Send(Ev(kT0));
  const auto& s = h.engine->Stats();
  CHECK(s.received == 4);
  CHECK(s.accepted == 1);
  CHECK(s.rejected[static_cast<int>(RejectReason::kInvalidJson)] == 1);
  CHECK(s.rejected[static_cast<int>(RejectReason::kNotObject)] == 1);
  CHECK(s.rejected[static_cast<int>(RejectReason::kMissingTimestamp)] == 1);
  CHECK(h.out.size() == 1);
  CHECK(std::string(RejectReasonName(RejectReason::kTooDeep)) == "too_deep");
  CHECK(std::string(RejectReasonName(RejectReason::kInvalidUtf8)) == "invalid_utf8");
  // Byte soup of every kind.
  uint32_t x = 12345;
  for (int i = 0; i < 2000; ++i) {
    std::string s2;
    const int n = static_cast<int>(x % 64);
    for (int j = 0; j < n; ++j) {
      x = x * 1103515245 + 12345;
      const char alphabet[] = "{}[]\",:0123456789.eE-tnfaulsr \\timestamp";
      s2.push_back(alphabet[(x >> 16) % (sizeof(alphabet) - 1)]);
    }
    h.Send(s2);
  }
  CHECK(h.engine->Stats().received == 2004);
}

TEST_CASE("predicates: any-of, wildcards, has, compare, not, ANY over exception values") {
  auto run = [](Predicate p, const std::string& extra) {
    Harness h({EveryRule("r", std::move(p))});
    h.At(kT0, extra);
    return h.out.size() == 1;
  };
  const std::string ev =
      R"("exception":{"values":[{"type":"KeyError"},{"type":"DatabaseError"}]},)"
      R"("tags":[["environment","production"]],"request":{"status":"503","ms":12.5},"level":"error")";
  CHECK(run(Match(ExceptionType(), {"DatabaseError"}), ev));
  CHECK(run(Match(ExceptionType(), {"Nope", "KeyError"}), ev));
  CHECK_FALSE(run(Match(ExceptionType(), {"Nope"}), ev));
  CHECK(run(Match(ExceptionType(), {"Data*"}), ev));
  CHECK(run(Match(TagField("environment"), {"prod*"}), ev));
  CHECK(run(Has(TagField("environment")), ev));
  CHECK_FALSE(run(Has(TagField("release")), ev));
  CHECK(run(Cmp(PathField("status", {"request", "status"}), CompareOp::kGe, 500), ev));
  CHECK_FALSE(run(Cmp(PathField("status", {"request", "status"}), CompareOp::kLt, 500), ev));
  CHECK(run(Cmp(PathField("ms", {"request", "ms"}), CompareOp::kGt, 12), ev));
  CHECK(
      run(And({Match(Level(), {"error"}), Not(Match(TagField("environment"), {"staging"}))}), ev));
  CHECK_FALSE(run(Not(Match(ExceptionType(), {"KeyError"})), ev));
  CHECK(run(Or({Match(Level(), {"info"}), Match(ExceptionType(), {"KeyError"})}), ev));
}

}  // namespace
}  // namespace klaxon
