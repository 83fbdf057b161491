// What Klaxon adds to each accepted event: `project` (the configured name) and `project_id`
// (a number), as top-level fields, and an `event_id` when the SDK sent none.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"
#include "ingest/auth.h"

namespace klaxon::ingest {

// Returns the event JSON with `project` and `project_id` set. Both are overwritten when the SDK
// set them: the DSN decides the project, as in Sentry, so a rule on `project` cannot be fooled
// by an event's body. A missing or empty `event_id` becomes `fallback_event_id`. *event_id
// receives the event's id. InvalidArgument when `json` is not a JSON object.
Result<std::string> StampEvent(std::string_view json, const Project& project,
                               const std::string& fallback_event_id, std::string* event_id);

}  // namespace klaxon::ingest
