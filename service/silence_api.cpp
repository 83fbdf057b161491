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
  // With an `id`, as Alertmanager's API: the silence is replaced (amtool `silence update`,
  // Grafana's editor). An unknown id is an error, never a silent second silence.
  std::string replaces;
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("id") && !doc["id"].is_null()) {
    if (!doc["id"].is_string()) return ErrorResponse(400, "id: a silence id (a string)");
    replaces = doc["id"].get<std::string>();
    if (!replaces.empty() && !silencer.Get(replaces)) {
      return ErrorResponse(404, "no silence " + replaces);
    }
  }
  // The new one first: were the old one expired first, a held episode could be released in
  // between.
  Result<actions::Silence> added = silencer.Add(std::move(parsed).value(), now_ms);
  if (!added.ok()) {
    const bool bad_input = added.status().code() == StatusCode::kInvalidArgument;
    return ErrorResponse(bad_input ? 400 : 500, added.status().message());
  }
  if (!replaces.empty()) {
    const Status expired = silencer.Expire(replaces, now_ms);
    // Already expired: replacing it is creating a new one, as in Alertmanager.
    if (!expired.ok() && expired.code() != StatusCode::kFailedPrecondition) {
      return ErrorResponse(500, "silence " + added->id + " added, but " + replaces +
                                    " could not be expired: " + expired.message());
    }
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
