// The /api/v1/silences endpoints, as plain functions of the request: the admin server routes
// to them (after checking the bearer token for the mutating ones) and tests call them directly.
//
//   GET    /api/v1/silences        200 [silence...]  (newest start first, as Alertmanager lists)
//   GET    /api/v1/silences/ID     200 silence | 404
//   POST   /api/v1/silences        200 {"silenceID": ID} | 400 {"error": ...}
//   DELETE /api/v1/silences/ID     200 {} (expired) | 404 | 409 already expired
// Bodies are actions/silence_json.h's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "actions/silencer.h"

namespace klaxon::service {

struct ApiResponse {
  int status = 200;
  std::string body;  // JSON
};

ApiResponse ListSilences(const actions::Silencer& silencer, int64_t now_ms);
ApiResponse GetSilence(const actions::Silencer& silencer, const std::string& id, int64_t now_ms);
ApiResponse PostSilence(actions::Silencer& silencer, std::string_view body, int64_t now_ms);
ApiResponse DeleteSilence(actions::Silencer& silencer, const std::string& id, int64_t now_ms);

}  // namespace klaxon::service
