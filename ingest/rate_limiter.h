// Per-project token buckets for `sentry.projects[].rate_limit`. Time is passed in (ms), so tests
// drive it by hand; thread-safe (the HTTP threads share one limiter).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

namespace klaxon::ingest {

class TokenBucket {
 public:
  // `rate_per_second` tokens are added per second, up to `burst` (at least 1).
  TokenBucket(double rate_per_second, double burst);
  // Takes one token: 0 when admitted, else the milliseconds until a token is available.
  int64_t Take(int64_t now_ms);

 private:
  double rate_per_ms_;
  double burst_;
  double tokens_;
  int64_t last_ms_ = -1;
};

class RateLimiter {
 public:
  // Takes one event's token of project `id` (limits: `rate_per_second`, 0 = unlimited, and
  // `burst`, 0 = one second's worth). Returns 0 or the milliseconds to wait.
  int64_t Take(int64_t id, double rate_per_second, double burst, int64_t now_ms);

 private:
  std::mutex mu_;
  std::map<int64_t, TokenBucket> buckets_;
};

}  // namespace klaxon::ingest
