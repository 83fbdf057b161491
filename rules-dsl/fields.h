// Field keys and placeholders (durations: engine/duration.h): the vocabulary the checker resolves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/rule.h"

namespace klaxon::rules_dsl {

struct BuiltinField {
  std::string_view name;  // as users write it
  std::string_view path;  // dotted JSON path from the event root ("[]": each array element)
  int array_at;           // see FieldRef::array_at
  // Other shapes of the field in Sentry's protocol, read too (FieldRef::more_paths).
  std::vector<std::string_view> more_paths = {};
  bool derived = false;  // computed by the decoder (FieldRef::Kind::kDerived)
};

// The built-in Sentry fields and aliases (documented in docs/rules.md).
const std::vector<BuiltinField>& BuiltinFields();

// Resolves a key as written. When the key looks like a typo of a built-in (same prefix,
// close spelling) `typo_of` names the built-in.
FieldRef ResolveField(std::string_view key, std::string* typo_of);

// When `key` is not a built-in but reads like one of Sentry's search keys that Klaxon does not
// support, `klaxon check` warns (docs/rules.md "Sentry's search keys"): the key is in Sentry's
// key table below, or starts with `error.` or `stack.`, Sentry's namespaces for exception data
// (an event has no top-level `error` or `stack` object). Returns nullopt for any other key;
// else the Klaxon field with Sentry's meaning, or "" when Klaxon has none.
std::optional<std::string> UnsupportedSentryKey(std::string_view key);

// When `key` has no dot, is not a built-in and is one edit from a built-in without a dot
// (`enviroment`, `levle`), that built-in's name; else "". `klaxon check` warns rather than refuses:
// a bare key may be a tag of any name (docs/rules.md "Field keys"), and `tags[NAME]` says the tag
// is meant.
std::string BareKeyLikeBuiltin(std::string_view key);

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kMaxWindow = 30 * kDay;

}  // namespace klaxon::rules_dsl
