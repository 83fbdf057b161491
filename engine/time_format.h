// Formatting of event times and durations for people and payloads.
#pragma once

#include <cstdint>
#include <string>

namespace klaxon {

// Unix milliseconds as RFC 3339 UTC with milliseconds: "2025-11-25T00:01:07.250Z". Years
// outside 0000-9999 in expanded ISO 8601 form, a sign and at least six digits:
// "+287000-01-01T00:00:00.000Z", "-000001-12-31T00:00:00.000Z". Any int64 is formatted.
std::string FormatTimeMs(int64_t unix_ms);

// A duration in the rule language's notation, largest exact unit first: 60000 -> "1m",
// 90000 -> "1m30s", 1500 -> "1.5s", 86400000 -> "1d", 0 -> "0s".
std::string FormatDurationMs(int64_t ms);

}  // namespace klaxon
