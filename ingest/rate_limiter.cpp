#include "ingest/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace klaxon::ingest {

TokenBucket::TokenBucket(double rate_per_second, double burst)
    : rate_per_ms_(rate_per_second / 1000.0), burst_(std::max(burst, 1.0)), tokens_(burst_) {}

int64_t TokenBucket::Take(int64_t now_ms) {
  if (last_ms_ >= 0 && now_ms > last_ms_) {
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - last_ms_) * rate_per_ms_);
  }
  if (now_ms > last_ms_) last_ms_ = now_ms;  // a clock going back never refills
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return 0;
  }
  if (rate_per_ms_ <= 0) return INT64_MAX;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - tokens_) / rate_per_ms_)));
}

int64_t RateLimiter::Take(int64_t id, double rate_per_second, double burst, int64_t now_ms) {
  if (rate_per_second <= 0) return 0;
  std::lock_guard lock(mu_);
  auto it = buckets_.find(id);
  if (it == buckets_.end()) {
    it = buckets_.emplace(id, TokenBucket(rate_per_second, burst > 0 ? burst : rate_per_second))
             .first;
  }
  return it->second.Take(now_ms);
}

}  // namespace klaxon::ingest
