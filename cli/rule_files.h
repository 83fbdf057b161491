// Finding, reading and loading rule files for the subcommands.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "engine/rule.h"
#include "engine/status.h"

namespace klaxon::cli {

// Expands files and folders (recursively, `*.rules`, sorted) into rule file paths. A path that
// does not exist is an error; a folder without rule files is not.
Result<std::vector<std::string>> CollectRuleFiles(const std::vector<std::string>& paths);

Result<std::string> ReadFileText(const std::string& path);

struct LoadedRules {
  RuleSet rules;
  std::vector<std::string> files;
  std::vector<std::string> sha256;  // of each file's bytes, for the rule-file info metric
};

// Reads, parses and checks (actions validated too). Diagnostics go to `err` in the
// `file:line:col: error:` form; any error fails the load.
Result<LoadedRules> LoadRules(const std::vector<std::string>& paths, std::ostream& err);

}  // namespace klaxon::cli
