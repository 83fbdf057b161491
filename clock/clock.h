// Clock: where the process reads wall-clock "now" (Unix ms): the dispatcher for retry
// scheduling and rate limits, the run loop (service/) for idle ticks, the future-timestamp
// bound, idle partitions and checkpoint stamps.
//
// Injected so tests drive time by hand (ManualClock) while HTTP stays real. Both clocks are
// thread-safe. SystemClock is the one place that reads system_clock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace klaxon {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
  // How long (wall ms) a worker may block before reading NowMs() again when the next thing is
  // due in `until_due_ms` clock ms. A manual clock moves without notice, so it polls.
  virtual int64_t MaxBlockMs(int64_t until_due_ms) const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t MaxBlockMs(int64_t until_due_ms) const override { return until_due_ms; }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 0) : now_ms_(start_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  int64_t MaxBlockMs(int64_t until_due_ms) const override {
    return until_due_ms < 2 ? until_due_ms : 2;
  }
  void Set(int64_t now_ms) { now_ms_.store(now_ms); }
  void Advance(int64_t delta_ms) { now_ms_.fetch_add(delta_ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace klaxon
