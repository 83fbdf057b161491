// The argument schema of every built-in action kind, and its load-time validation.
//
// `klaxon check` calls ValidateActionDef for each `action NAME = KIND(...)` so that a bad
// argument is reported at its position before anything runs. The list of kinds is explicit
// (kActionKinds); adding a kind means adding its schema here and its factory in registry.cpp.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/rule.h"

namespace klaxon::actions {

enum class ArgType {
  kString,    // string literal, env(...) or file(...)
  kSecret,    // like kString, but a literal is refused: secrets come from env(...) or file(...)
  kTemplate,  // string literal with {{placeholders}}
  kBool,
  kNumber,
  kDuration,
  kStringList,  // a list of strings (a single string is accepted as a list of one)
  kSecretList,  // a list of secrets (key rotation), or one secret
};

struct ArgSpec {
  std::string_view key;
  ArgType type;
  bool required;
  std::string_view help;
};

struct KindSpec {
  std::string_view kind;
  std::span<const ArgSpec> args;
};

// All built-in kinds, in documentation order.
std::span<const KindSpec> ActionKinds();
const KindSpec* FindKind(std::string_view kind);

// Checks kind, keys (unknown, duplicate, missing required), value types, secret literals,
// template syntax and the values the factories refuse (URL schemes, header lines, jira
// api_version, pagerduty severity) when written literally. Never reads the environment or
// files: checking needs no secrets. CreateAction runs it first, so a file that checks loads.
std::vector<ActionProblem> ValidateActionDef(const ActionDef& def);

// Value rules shared by ValidateActionDef (literals) and the factories (values read through
// env(...)/file(...)), so that the two cannot drift apart.
// http:// or https://, the scheme case-insensitive (RFC 3986) as the HTTP client reads it.
bool IsHttpUrl(std::string_view url);
// An extra header: "Name: value" on one line.
bool IsHeaderLine(std::string_view header);
// A header Klaxon must set itself: the request's framing and connection (Content-Length,
// Transfer-Encoding, Host, Connection, ...: a user value would desynchronise the receiver or a
// proxy in front of it) and the Standard Webhooks signature headers. The name's case is
// ignored; empty when the header may be set.
std::string ReservedHeaderProblem(std::string_view header);
// critical, error, warning or info (PagerDuty's own severities).
bool IsPagerDutySeverity(std::string_view severity);

}  // namespace klaxon::actions
