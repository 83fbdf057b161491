#include "cli/event_time.h"

#include <string>

#include "engine/event_decoder.h"

namespace klaxon::cli {

// The engine's own parsers, so a time on the command line means exactly what it means in an
// event.
Result<int64_t> ParseEventTime(std::string_view text) {
  std::optional<int64_t> ms =
      text.find('T') != std::string_view::npos ? ParseRfc3339(text) : ParseEpochSecondsText(text);
  if (!ms) {
    return Status::InvalidArgument("invalid time '" + std::string(text) +
                                   "' (use RFC 3339 like 2025-11-25T00:00:00Z or Unix seconds)");
  }
  return *ms;
}

}  // namespace klaxon::cli
