// Finding, reading and loading rule files for the subcommands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "engine/rule.h"
#include "engine/status.h"
#include "rules-dsl/rules_dsl.h"

namespace klaxon::cli {

// Expands files and folders (recursively, `*.rules`, sorted) into rule file paths. A path that
// does not exist is an error; a folder without rule files is not.
Result<std::vector<std::string>> CollectRuleFiles(const std::vector<std::string>& paths);

// Reads a whole file, or at most limit + 1 bytes (so that a longer file can be reported as too
// large by whoever set the limit).
Result<std::string> ReadFileText(const std::string& path, size_t limit = SIZE_MAX - 1);

// Check options with the actions' argument validation plugged in: what `klaxon check` and every
// loading command use, so a file that checks also loads.
rules_dsl::CheckOptions RuleCheckOptions();

struct LoadedRules {
  RuleSet rules;
  std::vector<std::string> files;
  std::vector<std::string> sha256;  // of each file's bytes, for the rule-file info metric
};

// Rule files that define no rule (only actions, or nothing) would have replay and run read
// every event and evaluate nothing: they refuse them, check warns. "no rules in a.rules, b.rules".
std::string NoRulesIn(const std::vector<std::string>& files);

// Reads, parses and checks (actions validated too). Diagnostics go to `err` in the
// `file:line:col: error:` form; any error fails the load.
Result<LoadedRules> LoadRules(const std::vector<std::string>& paths, std::ostream& err);

}  // namespace klaxon::cli
