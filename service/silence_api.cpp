#include "service/silence_api.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "actions/silence_json.h"

namespace klaxon::service {

namespace {

ApiResponse ErrorResponse(int status, const std::string& message) {
  return {status, nlohmann::json{{"error", message}}.dump()};
}

}  // namespace

ApiResponse ListSilences(const actions::Silencer& silencer, int64_t now_ms) {
  std::vector<actions::Silence> all = silencer.List();
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.starts_at_ms > b.starts_at_ms; });
  nlohmann::json out = nlohmann::json::array();
  for (const actions::Silence& s : all) out.push_back(actions::SilenceToJson(s, now_ms));
  return {200, out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

ApiResponse GetSilence(const actions::Silencer& silencer, const std::string& id, int64_t now_ms) {
  std::optional<actions::Silence> s = silencer.Get(id);
  if (!s) return ErrorResponse(404, "no silence " + id);
  return {200, actions::SilenceToJson(*s, now_ms)
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

ApiResponse PostSilence(actions::Silencer& silencer, std::string_view body, int64_t now_ms) {
  Result<actions::Silence> parsed = actions::SilenceFromJson(body);
  if (!parsed.ok()) return ErrorResponse(400, parsed.status().message());
  Result<actions::Silence> added = silencer.Add(std::move(parsed).value(), now_ms);
  if (!added.ok()) {
    const bool bad_input = added.status().code() == StatusCode::kInvalidArgument;
    return ErrorResponse(bad_input ? 400 : 500, added.status().message());
  }
  return {200, nlohmann::json{{"silenceID", added->id}}.dump()};
}

ApiResponse DeleteSilence(actions::Silencer& silencer, const std::string& id, int64_t now_ms) {
  Status s = silencer.Expire(id, now_ms);
  if (s.ok()) return {200, "{}"};
  switch (s.code()) {
    case StatusCode::kNotFound:
      return ErrorResponse(404, s.message());
    case StatusCode::kFailedPrecondition:
      return ErrorResponse(409, s.message());
    default:
      return ErrorResponse(500, s.message());
  }
}

}  // namespace klaxon::service
