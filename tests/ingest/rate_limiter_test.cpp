#include "ingest/rate_limiter.h"

#include <doctest/doctest.h>

namespace klaxon::ingest {
namespace {

TEST_CASE("rate limiter: token bucket with a manual clock") {
  TokenBucket bucket(2.0, 3.0);  // 2 events/s, bursts of 3
  CHECK(bucket.Take(1000) == 0);
  CHECK(bucket.Take(1000) == 0);
  CHECK(bucket.Take(1000) == 0);
  CHECK(bucket.Take(1000) == 500);  // the next token in half a second
  CHECK(bucket.Take(1250) == 250);
  CHECK(bucket.Take(1500) == 0);
  CHECK(bucket.Take(1500) == 500);
  CHECK(bucket.Take(100000) == 0);  // refilled, but only up to the burst
  CHECK(bucket.Take(100000) == 0);
  CHECK(bucket.Take(100000) == 0);
  CHECK(bucket.Take(100000) == 500);
  CHECK(bucket.Take(50000) == 500);  // a clock going back does not refill
}

TEST_CASE("rate limiter: per project, unlimited when 0") {
  RateLimiter limiter;
  for (int i = 0; i < 1000; ++i) CHECK(limiter.Take(1, 0, 0, 0) == 0);
  CHECK(limiter.Take(2, 1, 0, 0) == 0);  // burst 0: one second's worth, here 1
  CHECK(limiter.Take(2, 1, 0, 0) == 1000);
  CHECK(limiter.Take(3, 1, 0, 0) == 0);  // another project has its own bucket
  CHECK(limiter.Take(2, 1, 0, 1000) == 0);
}

}  // namespace
}  // namespace klaxon::ingest
