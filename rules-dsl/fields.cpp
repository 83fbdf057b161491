#include "rules-dsl/fields.h"

#include <algorithm>

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
  static const std::vector<BuiltinField> kFields = {
      {"level", "level", -1},
      {"environment", "environment", -1},
      {"release", "release", -1},
      {"dist", "dist", -1},
      {"platform", "platform", -1},
      {"logger", "logger", -1},
      {"transaction", "transaction", -1},
      {"server_name", "server_name", -1},
      {"message", "message", -1},
      {"event_id", "event_id", -1},
      {"culprit", "culprit", -1},
      {"user.id", "user.id", -1},
      {"user.email", "user.email", -1},
      {"user.ip_address", "user.ip_address", -1},
      {"user.username", "user.username", -1},
      {"sdk.name", "sdk.name", -1},
      {"sdk.version", "sdk.version", -1},
      {"http.method", "request.method", -1},
      {"http.url", "request.url", -1},
      {"exception.type", "exception.values.type", 2},
      {"exception.value", "exception.values.value", 2},
      {"exception.module", "exception.values.module", 2},
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
      f.kind = FieldRef::Kind::kPath;
      f.path = Split(b.path);
      f.array_at = b.array_at;
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
