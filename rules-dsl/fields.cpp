#include "rules-dsl/fields.h"

#include <algorithm>
#include <utility>

#include "rules-dsl/util.h"

namespace klaxon::rules_dsl {
namespace {

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(std::count(s.begin(), s.end(), '.')) + 1);
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    out.emplace_back(s.substr(start, dot == std::string_view::npos ? s.npos : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

}  // namespace

const std::vector<BuiltinField>& BuiltinFields() {
  // A function-local constant: built once, never mutated.
  // Sentry's exception interface is {"values": [...]} or a bare list (sentry-go); `message` is
  // a string or, from newer SDKs and logging integrations, `logentry`.
  static const std::vector<BuiltinField> kFields = {
      {"level", "level", -1},
      {"environment", "environment", -1},
      {"release", "release", -1},
      {"dist", "dist", -1},
      {"platform", "platform", -1},
      {"logger", "logger", -1},
      {"transaction", "transaction", -1},
      {"server_name", "server_name", -1},
      {"message", "message", -1, {"logentry.formatted", "logentry.message"}},
      {"event_id", "event_id", -1},
      {"culprit", "culprit", -1},
      {"project", "project", -1},
      {"project.id", "project_id", -1},
      {"user.id", "user.id", -1},
      {"user.email", "user.email", -1},
      {"user.ip_address", "user.ip_address", -1},
      {"user.username", "user.username", -1},
      {"sdk.name", "sdk.name", -1},
      {"sdk.version", "sdk.version", -1},
      {"http.method", "request.method", -1},
      {"http.url", "request.url", -1},
      {"exception.type", "exception.values.type", 2, {"exception.[].type"}},
      {"exception.value", "exception.values.value", 2, {"exception.[].value"}},
      {"exception.module", "exception.values.module", 2, {"exception.[].module"}},
      // Sentry's search keys (src/sentry/utils/snuba.py SENTRY_SNUBA_MAP): error.* over every
      // exception of the chain, stack.* over every frame of every exception's stack trace.
      {"error.type", "exception.values.type", 2, {"exception.[].type"}},
      {"error.value", "exception.values.value", 2, {"exception.[].value"}},
      {"error.mechanism",
       "exception.values.[].mechanism.type",
       -1,
       {"exception.[].mechanism.type"}},
      {"error.handled", "error.handled", -1, {}, true},
      {"error.unhandled", "error.unhandled", -1, {}, true},
      {"stack.function",
       "exception.values.[].stacktrace.frames.[].function",
       -1,
       {"exception.[].stacktrace.frames.[].function"}},
      {"stack.module",
       "exception.values.[].stacktrace.frames.[].module",
       -1,
       {"exception.[].stacktrace.frames.[].module"}},
      {"stack.filename",
       "exception.values.[].stacktrace.frames.[].filename",
       -1,
       {"exception.[].stacktrace.frames.[].filename"}},
      {"stack.abs_path",
       "exception.values.[].stacktrace.frames.[].abs_path",
       -1,
       {"exception.[].stacktrace.frames.[].abs_path"}},
      {"stack.package",
       "exception.values.[].stacktrace.frames.[].package",
       -1,
       {"exception.[].stacktrace.frames.[].package"}},
      {"stack.in_app",
       "exception.values.[].stacktrace.frames.[].in_app",
       -1,
       {"exception.[].stacktrace.frames.[].in_app"}},
      {"event.type", "event.type", -1, {}, true},
      {"issue", "issue", -1, {}, true},
      {"title", "title", -1, {}, true},
      {"os.name", "contexts.os.name", -1},
      {"os.version", "contexts.os.version", -1},
      {"runtime.name", "contexts.runtime.name", -1},
      {"runtime.version", "contexts.runtime.version", -1},
      {"browser.name", "contexts.browser.name", -1},
      {"browser.version", "contexts.browser.version", -1},
      {"device.family", "contexts.device.family", -1},
      {"trace.trace_id", "contexts.trace.trace_id", -1},
  };
  return kFields;
}

std::optional<std::string> UnsupportedSentryKey(std::string_view key) {
  // Sentry's search keys for error events (src/sentry/utils/snuba.py SENTRY_SNUBA_MAP and the
  // issue search docs) that are not built-ins, with the Klaxon field of the same meaning.
  static constexpr std::pair<std::string_view, std::string_view> kSentryKeys[] = {
      {"id", "event_id"},
      {"issue.id", ""},  // Sentry's numeric id; Klaxon's `issue` is a grouping hash
      {"issue.category", ""},
      {"issue.type", ""},
      {"location", ""},
      {"platform.name", "platform"},
      {"user.ip", "user.ip_address"},
      {"os.build", "contexts.os.build"},
      {"os.kernel_version", "contexts.os.kernel_version"},
      {"device.name", "contexts.device.name"},
      {"device.brand", "contexts.device.brand"},
      {"device.locale", "contexts.device.locale"},
      {"device.uuid", "contexts.device.uuid"},
      {"device.model_id", "contexts.device.model_id"},
      {"device.arch", "contexts.device.arch"},
      {"device.battery_level", "contexts.device.battery_level"},
      {"device.orientation", "contexts.device.orientation"},
      {"device.simulator", "contexts.device.simulator"},
      {"device.online", "contexts.device.online"},
      {"device.charging", "contexts.device.charging"},
      {"geo.country_code", "user.geo.country_code"},
      {"geo.region", "user.geo.region"},
      {"geo.city", "user.geo.city"},
  };
  for (const auto& [name, klaxon_field] : kSentryKeys) {
    if (key == name) return std::string(klaxon_field);
  }
  if (key.starts_with("error.") || key.starts_with("stack.")) return std::string();
  return std::nullopt;
}

std::string BareKeyLikeBuiltin(std::string_view key) {
  if (key.find('.') != std::string_view::npos || key.starts_with("tags[")) return "";
  // Bare built-ins only (`username` is no typo of `os.name`), and one edit at most: any other
  // spelling is as likely a tag's own name (`host`, `site`, `product`) as a typo.
  std::vector<std::string> names;
  for (const BuiltinField& b : BuiltinFields()) {
    if (b.name == key) return "";
    if (b.name.find('.') == std::string_view::npos) names.emplace_back(b.name);
  }
  std::string best = ClosestMatch(key, names);
  return !best.empty() && EditDistance(key, best) <= 1 ? best : "";
}

FieldRef ResolveField(std::string_view key, std::string* typo_of) {
  FieldRef f;
  f.name = std::string(key);
  if (key.starts_with("tags[") && key.ends_with("]")) {
    f.kind = FieldRef::Kind::kTag;
    f.tag = std::string(key.substr(5, key.size() - 6));
    return f;
  }
  for (const BuiltinField& b : BuiltinFields()) {
    if (b.name == key) {
      f.kind = b.derived ? FieldRef::Kind::kDerived : FieldRef::Kind::kPath;
      f.path = Split(b.path);
      f.array_at = b.array_at;
      for (const std::string_view more : b.more_paths) f.more_paths.push_back(Split(more));
      return f;
    }
  }
  const size_t dot = key.find('.');
  if (typo_of != nullptr && dot != std::string_view::npos) {
    std::vector<std::string> same_prefix;
    for (const BuiltinField& b : BuiltinFields()) {
      if (b.name.starts_with(key.substr(0, dot + 1))) same_prefix.emplace_back(b.name);
    }
    *typo_of = ClosestMatch(key, same_prefix);
  }
  f.kind = FieldRef::Kind::kPathThenTag;
  f.path = Split(key);
  f.tag = std::string(key);
  return f;
}

}  // namespace klaxon::rules_dsl
