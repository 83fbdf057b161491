#include "actions/silence_json.h"

#include "engine/event_decoder.h"
#include "engine/time_format.h"

namespace klaxon::actions {

nlohmann::json SilenceToJson(const Silence& s, int64_t now_ms) {
  nlohmann::json matchers = nlohmann::json::array();
  for (const SilenceMatcher& m : s.matchers) {
    const bool regex = m.op == SilenceMatcher::Op::kRegex || m.op == SilenceMatcher::Op::kNotRegex;
    const bool equal = m.op == SilenceMatcher::Op::kEqual || m.op == SilenceMatcher::Op::kRegex;
    matchers.push_back(
        {{"name", m.name}, {"value", m.value}, {"isRegex", regex}, {"isEqual", equal}});
  }
  return {{"id", s.id},
          {"status", {{"state", SilenceStateName(StateAt(s, now_ms))}}},
          {"matchers", std::move(matchers)},
          {"startsAt", FormatTimeMs(s.starts_at_ms)},
          {"endsAt", FormatTimeMs(s.ends_at_ms)},
          {"updatedAt", FormatTimeMs(s.updated_at_ms)},
          {"createdBy", s.created_by},
          {"comment", s.comment}};
}

Result<Silence> SilenceFromJson(std::string_view body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument("the body is not JSON");
  if (!j.is_object()) return Status::InvalidArgument("a silence is a JSON object");
  std::string problems;
  auto add = [&problems](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  Silence s;
  for (const auto& [key, value] : j.items()) {
    if (key == "matchers") {
      if (!value.is_array()) {
        add("matchers: a list of {name, value, isRegex, isEqual}");
        continue;
      }
      for (const nlohmann::json& m : value) {
        if (!m.is_object() || !m.contains("name") || !m["name"].is_string() ||
            !m.contains("value") || !m["value"].is_string() ||
            (m.contains("isRegex") && !m["isRegex"].is_boolean()) ||
            (m.contains("isEqual") && !m["isEqual"].is_boolean())) {
          add("matchers: each is {\"name\": string, \"value\": string, \"isRegex\": bool, "
              "\"isEqual\": bool}");
          continue;
        }
        for (const auto& [mk, mv] : m.items()) {
          if (mk != "name" && mk != "value" && mk != "isRegex" && mk != "isEqual") {
            add("matchers: unknown key `" + mk + "`");
          }
        }
        const bool regex = m.value("isRegex", false);
        const bool equal = m.value("isEqual", true);
        const SilenceMatcher::Op op =
            regex ? (equal ? SilenceMatcher::Op::kRegex : SilenceMatcher::Op::kNotRegex)
                  : (equal ? SilenceMatcher::Op::kEqual : SilenceMatcher::Op::kNotEqual);
        Result<SilenceMatcher> made =
            MakeMatcher(m["name"].get<std::string>(), op, m["value"].get<std::string>());
        if (!made.ok()) {
          add(made.status().message());
        } else {
          s.matchers.push_back(std::move(made).value());
        }
      }
    } else if (key == "startsAt" || key == "endsAt") {
      std::optional<int64_t> t;
      if (value.is_string()) t = ParseRfc3339(value.get<std::string>());
      if (!t) {
        add(key + ": an RFC 3339 time such as 2026-11-27T10:00:00Z");
      } else {
        (key == "startsAt" ? s.starts_at_ms : s.ends_at_ms) = *t;
      }
    } else if (key == "createdBy" || key == "comment") {
      if (!value.is_string()) {
        add(key + ": a string");
      } else {
        (key == "createdBy" ? s.created_by : s.comment) = value.get<std::string>();
      }
    } else if (key == "id" || key == "status" || key == "updatedAt") {
      // Set by Klaxon; accepted so that a listed silence can be posted back as a new one.
    } else {
      add("unknown key `" + key +
          "`; a silence has matchers, startsAt, endsAt, createdBy and comment");
    }
  }
  if (!j.contains("endsAt")) add("endsAt: say when the silence ends");
  if (!problems.empty()) return Status::InvalidArgument(problems);
  return s;
}

}  // namespace klaxon::actions
