// Times given on the command line and in test files: RFC 3339 ("2025-11-25T00:01:07.250Z",
// offsets allowed) or Unix seconds ("1764028867.25"), to Unix milliseconds.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/status.h"

namespace klaxon::cli {

Result<int64_t> ParseEventTime(std::string_view text);

}  // namespace klaxon::cli
