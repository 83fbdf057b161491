#include "service/ahead_of_clock.h"

#include <fmt/format.h>

#include "engine/time_format.h"

namespace klaxon::service {

AheadOfClock::AheadOfClock(int64_t allowed_lateness_ms, int64_t future_limit_ms, std::string option)
    : allowed_lateness_ms_(allowed_lateness_ms),
      future_limit_ms_(future_limit_ms),
      option_(std::move(option)) {}

bool AheadOfClock::Observe(int64_t event_ms, int64_t now_ms) {
  if (event_ms <= now_ms || event_ms - now_ms <= allowed_lateness_ms_) return false;
  const int64_t ahead = event_ms - now_ms;
  ++count_;
  if (ahead > furthest_ahead_ms_) {
    furthest_ahead_ms_ = ahead;
    furthest_event_ms_ = event_ms;
  }
  if (unreported_ == 0 || ahead > unreported_ahead_ms_) {
    unreported_ahead_ms_ = ahead;
    unreported_event_ms_ = event_ms;
  }
  ++unreported_;
  return true;
}

std::optional<std::string> AheadOfClock::Warning(int64_t now_ms, int64_t interval_ms) {
  if (unreported_ == 0) return std::nullopt;
  if (last_warning_ms_ && now_ms - *last_warning_ms_ < interval_ms) return std::nullopt;
  last_warning_ms_ = now_ms;
  std::string text = Describe(unreported_, unreported_event_ms_, unreported_ahead_ms_);
  unreported_ = 0;
  return text;
}

std::string AheadOfClock::Summary() const {
  return count_ == 0 ? "" : Describe(count_, furthest_event_ms_, furthest_ahead_ms_);
}

std::string AheadOfClock::Describe(uint64_t count, int64_t event_ms, int64_t ahead_ms) const {
  // The rule of thumb: future_limit only needs to cover how far senders' clocks run fast.
  return fmt::format(
      "{} {} accepted although stamped more than the allowed lateness ({}) ahead of the clock, "
      "the furthest {} ahead ({}); event time moved on with {}, so events stamped with the real "
      "time count as late until the clock catches up. Unless senders' clocks really run this "
      "fast, lower {} (now {}; rule of thumb: the largest clock skew you expect, e.g. 1min)",
      count, count == 1 ? "event was" : "events were", FormatDurationMs(allowed_lateness_ms_),
      FormatDurationMs(ahead_ms >= 1000 ? ahead_ms - ahead_ms % 1000 : ahead_ms),
      FormatTimeMs(event_ms), count == 1 ? "it" : "them", option_,
      FormatDurationMs(future_limit_ms_));
}

}  // namespace klaxon::service
