// Durations as users write them: in rule files, the configuration, flags and rule tests. One
// parser, so that every place accepts the same units and rejects the same mistakes. Pure
// functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace klaxon {

constexpr int64_t kMillisPerSecond = 1000;
constexpr int64_t kMillisPerDay = 86400 * kMillisPerSecond;
// Nothing in Klaxon waits longer; the bound keeps `now + duration` far from overflowing.
constexpr int64_t kMaxDurationMs = 36500 * kMillisPerDay;

// Milliseconds per unit, case-insensitive: ms; s, sec, secs, second, seconds; m, min, mins,
// minute, minutes; h, hr, hrs, hour, hours; d, day, days; w, week, weeks. Else nullopt.
std::optional<int64_t> DurationUnitMs(std::string_view unit);

// The spelling closest to a mistyped unit among the units of at least `min_unit_ms` (a window
// counts whole seconds, so it is never offered `ms`), or "" when none is close.
std::string ClosestDurationUnit(std::string_view unit, int64_t min_unit_ms);

// AMOUNT (decimal digits) times UNIT: "out of range" beyond kMaxDurationMs, never an overflow.
Result<int64_t> DurationMs(std::string_view amount, std::string_view unit);

// One or more AMOUNT UNIT pairs without spaces: "30s", "5min", "1h30m", "250ms".
Result<int64_t> ParseDurationMs(std::string_view text);

}  // namespace klaxon
