// The JSON form of silences, for /api/v1/silences and `klaxon silence`: Alertmanager's API v2
// shape, so that its users' scripts and habits carry over.
//
//   {"id": "...", "status": {"state": "active"},
//    "matchers": [{"name": "service", "value": "orders-.*", "isRegex": true, "isEqual": true}],
//    "startsAt": "2026-11-27T10:00:00.000Z", "endsAt": "...", "updatedAt": "...",
//    "createdBy": "alice", "comment": "database maintenance"}
//
// A new silence is posted without id, status and updatedAt; startsAt defaults to now.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "actions/silence.h"
#include "engine/status.h"

namespace klaxon::actions {

nlohmann::json SilenceToJson(const Silence& s, int64_t now_ms);
// Strict: unknown keys, wrong types and invalid matchers are errors, all at once, "; "-joined.
// Does not validate the silence as a whole (ValidateSilence does).
Result<Silence> SilenceFromJson(std::string_view body);

}  // namespace klaxon::actions
