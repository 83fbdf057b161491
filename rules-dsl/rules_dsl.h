// The Klaxon rule language: parse `.rules` files, check them into a klaxon::RuleSet, format them.
//
// Everything here is PEGTL-free; the grammar lives in rules-dsl/grammar.h and is used only by
// parser.cpp. No function reads files or the environment: callers (cli/) pass the text in.
// All functions are pure and thread-compatible (no shared state).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/rule.h"
#include "engine/status.h"

namespace klaxon::rules_dsl {

// One finding, in the user's coordinates (1-based line and byte column).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string severity;  // "error" or "warning"
  std::string message;
  std::string hint;         // may be empty
  std::string source_line;  // the text of `line`, for the caret display
};

struct SourceFile {
  std::string name;
  std::string text;
};

// Problems found in an action definition by a validator outside rules-dsl (actions/).
using ActionValidator = std::function<std::vector<ActionProblem>(const ActionDef&)>;

struct CheckOptions {
  ActionValidator validate_action;  // optional; cli/ plugs in actions::ValidateActionDef
  size_t max_file_bytes = 4 * 1024 * 1024;
  int max_nesting = 64;           // parentheses in filters
  size_t max_diagnostics = 1000;  // beyond this, parsing stops and one final note says so
};

struct LoadResult {
  RuleSet rules;
  std::vector<Diagnostic> diagnostics;  // sorted by file (argument order), line, column
  size_t error_count() const;
  size_t warning_count() const;
  bool ok() const { return error_count() == 0; }
};

// Parses and checks all files as one namespace of rules and actions (duplicate names across
// files are errors). Collects every error, never stops at the first.
LoadResult ParseAndCheck(const std::vector<SourceFile>& files, const CheckOptions& options = {});

// "file:line:col: error: message", the source line, a caret under the column, "hint: ...".
std::string FormatDiagnostic(const Diagnostic& d);

// The canonical layout of one file (see docs/rules.md "Formatting"): keeps comments, is
// idempotent. Fails with the formatted syntax diagnostics when the text does not parse.
Result<std::string> FormatRules(std::string_view text, std::string_view file_name);

}  // namespace klaxon::rules_dsl
