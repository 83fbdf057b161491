// Events accepted although stamped ahead of the clock: counted, warned about at most once per
// interval with the count since the last warning, summarised for replay.
#include "service/ahead_of_clock.h"

#include <doctest/doctest.h>

namespace klaxon::service {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;  // 2027-01-15T08:00:00Z
constexpr int64_t kMinute = 60'000;

TEST_CASE("only events further ahead of the clock than the allowed lateness count") {
  AheadOfClock ahead(5000, 60 * kMinute, "engine.future_limit");
  CHECK_FALSE(ahead.Observe(kNow - kMinute, kNow));  // the past
  CHECK_FALSE(ahead.Observe(kNow + 5000, kNow));     // within the lateness: clock skew
  CHECK(ahead.Observe(kNow + 55 * kMinute, kNow));   // just inside future_limit
  CHECK(ahead.count() == 1);
  const std::string summary = ahead.Summary();
  CAPTURE(summary);
  CHECK(summary.find("1 event was accepted") == 0);
  CHECK(summary.find("the furthest 55m ahead (2027-01-15T08:55:00.000Z)") != std::string::npos);
  CHECK(summary.find("lower engine.future_limit (now 1h;") != std::string::npos);
  CHECK(summary.find("allowed lateness (5s)") != std::string::npos);
}

TEST_CASE("warnings are rate-limited and count what they cover") {
  AheadOfClock ahead(5000, 60 * kMinute, "engine.future_limit");
  CHECK_FALSE(ahead.Warning(kNow, kMinute).has_value());  // nothing to say
  ahead.Observe(kNow + 10 * kMinute, kNow);
  std::optional<std::string> first = ahead.Warning(kNow, kMinute);
  REQUIRE(first.has_value());
  CHECK(first->find("1 event was accepted") == 0);
  for (int i = 0; i < 1000; ++i) ahead.Observe(kNow + 20 * kMinute + i, kNow + 1000);
  CHECK_FALSE(ahead.Warning(kNow + 30'000, kMinute).has_value());  // within the interval
  std::optional<std::string> second = ahead.Warning(kNow + kMinute, kMinute);
  REQUIRE(second.has_value());
  CHECK(second->find("1000 events were accepted") == 0);
  CHECK_FALSE(ahead.Warning(kNow + 3 * kMinute, kMinute).has_value());  // all reported
  CHECK(ahead.count() == 1001);
  CHECK(ahead.Summary().find("1001 events were accepted") == 0);
}

TEST_CASE("nothing ahead, nothing said") {
  AheadOfClock ahead(5000, 60 * kMinute, "--future-limit");
  ahead.Observe(kNow, kNow);
  CHECK(ahead.Summary().empty());
}

}  // namespace
}  // namespace klaxon::service
