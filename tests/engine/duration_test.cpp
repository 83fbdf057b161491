#include "engine/duration.h"

#include <doctest/doctest.h>

namespace klaxon {
namespace {

TEST_CASE("durations: every unit spelling, compound durations, any case") {
  CHECK(*ParseDurationMs("250ms") == 250);
  CHECK(*ParseDurationMs("30s") == 30000);
  CHECK(*ParseDurationMs("5min") == 300000);  // refused by the configuration's old parser
  CHECK(*ParseDurationMs("5m") == 300000);
  CHECK(*ParseDurationMs("2hours") == 7200000);
  CHECK(*ParseDurationMs("1h30m") == 5400000);
  CHECK(*ParseDurationMs("1m30s") == 90000);
  CHECK(*ParseDurationMs("1W") == 604800000);
  CHECK(*ParseDurationMs("0s") == 0);
  CHECK(*DurationMs("1", "day") == kMillisPerDay);
}

TEST_CASE("durations: malformed text is invalid") {
  for (const char* text : {"", "5", "s", "5 minutes", "-5s", "5mn", "1h 30m", "+5s", "5s!"}) {
    CAPTURE(text);
    const Result<int64_t> d = ParseDurationMs(text);
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().message().find("out of range") == std::string::npos);
  }
}

TEST_CASE("durations: too long is out of range, never an overflow or a negative number") {
  // Before: std::stoll threw std::out_of_range (an abort), or the product wrapped negative.
  for (const char* text : {"99999999999999999999s", "9999999999999999w", "9223372036854775807ms",
                           "36501d", "36500d1ms", "20000d20000d"}) {
    CAPTURE(text);
    const Result<int64_t> d = ParseDurationMs(text);
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().message() ==
          "duration '" + std::string(text) + "' is out of range (at most 36500d)");
  }
  CHECK(*ParseDurationMs("36500d") == kMaxDurationMs);
  CHECK_FALSE(DurationMs("99999999999999999999", "s").ok());
}

TEST_CASE("durations: a mistyped unit gets a suggestion that is valid where it is used") {
  CHECK(ClosestDurationUnit("mz", 1) == "ms");
  CHECK(ClosestDurationUnit("mz", kMillisPerSecond).empty());
  CHECK(ClosestDurationUnit("mn", kMillisPerSecond) == "min");  // windows: never `ms`
  CHECK(ClosestDurationUnit("hur", kMillisPerSecond) == "hour");
  CHECK(ClosestDurationUnit("fortnight", 1).empty());
}

}  // namespace
}  // namespace klaxon
