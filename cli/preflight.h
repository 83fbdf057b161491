// What `klaxon run` checks before it starts anything, and what `klaxon check --config`
// reports: the rule files a configuration names and every secret their actions read. All
// problems at once, so that a broken deployment is mended in one round, not one per start.
#pragma once

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "cli/config.h"

namespace klaxon::cli {

// Reads a configuration file, refusing one over 1 MiB (a mistaken path such as /dev/zero).
Result<std::string> ReadConfigFile(const std::string& path);

// `path` relative to `base_dir` unless absolute or "-".
std::string ResolvePath(const std::string& base_dir, const std::string& path);

// The problems with `config`'s rule files and actions, each a line or a block of rule
// diagnostics, and with the files it writes (the outbox's and the state store's folders must
// exist and be writable); empty when `klaxon run` would load them. Reads the rule files, the
// environment (through `env`) and secret files; starts and creates nothing.
std::vector<std::string> PreflightProblems(const Config& config, const EnvLookup& env);

// Every problem `klaxon run --config config_path` with these flags refuses to start with, in
// the order a user mends them: the configuration's own (file order, then flags), then, when
// the configuration names rule files, PreflightProblems. `config` receives the configuration
// (with base_dir set), valid when the list is empty.
std::vector<std::string> StartProblems(const std::string& text,
                                       const std::map<std::string, std::string>& overrides,
                                       const std::string& config_path, const EnvLookup& env,
                                       Config& config);

// `klaxon check --config FILE [--SECTION.KEY=VALUE ...]`: the configuration `klaxon run` would
// start with those flags. 0 ok, 1 problems found (listed on `err`), 2 unreadable file.
int CheckConfigFile(const std::string& path, const std::map<std::string, std::string>& overrides,
                    std::ostream& out, std::ostream& err);

}  // namespace klaxon::cli
