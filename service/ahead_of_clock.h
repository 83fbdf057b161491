// Events accepted although stamped ahead of the machine's clock by more than the allowed
// lateness. Such an event is within engine.future_limit, so it is not rejected, but event time
// moves on with it (as in Flink and Kafka Streams: the watermark follows the largest timestamp
// seen), and every event stamped with the real time then counts as late until the clock catches
// up. This is never silent: `klaxon run` logs a rate-limited warning and `klaxon replay` says
// it on stderr, both through this class so that they judge alike.
//
// Pure bookkeeping: time is a parameter. Not thread-safe (one owner: the run loop, or replay).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace klaxon::service {

class AheadOfClock {
 public:
  // `option` names the setting to lower in the advice: "engine.future_limit" or
  // "--future-limit".
  AheadOfClock(int64_t allowed_lateness_ms, int64_t future_limit_ms, std::string option);

  // An accepted (not late) event stamped `event_ms`, judged against the clock `now_ms`. True
  // when it is ahead by more than the allowed lateness (counted).
  bool Observe(int64_t event_ms, int64_t now_ms);

  // The warning to log now, at most one per `interval_ms`, covering the events counted since
  // the last one; nullopt when none is due. `now_ms` is the wall clock.
  std::optional<std::string> Warning(int64_t now_ms, int64_t interval_ms);

  // Everything counted, as one sentence (replay's stderr); "" when nothing was.
  std::string Summary() const;

  uint64_t count() const { return count_; }

 private:
  std::string Describe(uint64_t count, int64_t event_ms, int64_t ahead_ms) const;

  int64_t allowed_lateness_ms_;
  int64_t future_limit_ms_;
  std::string option_;
  uint64_t count_ = 0;
  int64_t furthest_event_ms_ = 0;  // the event furthest ahead, and by how much
  int64_t furthest_ahead_ms_ = 0;
  uint64_t unreported_ = 0;  // since the last warning
  int64_t unreported_event_ms_ = 0;
  int64_t unreported_ahead_ms_ = 0;
  std::optional<int64_t> last_warning_ms_;
};

}  // namespace klaxon::service
