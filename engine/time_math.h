// Event-time arithmetic of the engine: sentinels and saturating steps, so that "never" and
// "not yet" survive additions of windows and durations without overflow. Internal.
#pragma once

#include <cstdint>
#include <limits>

namespace klaxon {

inline constexpr int64_t kNever = std::numeric_limits<int64_t>::max();  // no time due
inline constexpr int64_t kNone = std::numeric_limits<int64_t>::min();   // no time yet
inline constexpr uint32_t kNil = 0xffffffffu;                           // no slot / index

inline int64_t SatSub(int64_t a, int64_t b) {
  if (b > 0 && a < kNone + b) return kNone;
  return a - b;
}
inline int64_t SatAdd(int64_t a, int64_t b) {
  if (b > 0 && a > kNever - b) return kNever;
  return a + b;
}

}  // namespace klaxon
