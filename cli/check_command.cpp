// `klaxon check [--format text|json] PATH...`: parse and check rule files and folders.
// Text diagnostics go to stderr (as compilers do), the OK summary and JSON to stdout.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>

#include "actions/action_schema.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/preflight.h"
#include "cli/rule_files.h"
#include "rules-dsl/rules_dsl.h"

namespace klaxon::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCheckUsage =
    "usage: klaxon check [--format text|json] PATH...\n"
    "       klaxon check --config FILE [--SECTION.KEY=VALUE ...]\n"
    "  Checks rule files (*.rules; folders are searched recursively), or a `klaxon run`\n"
    "  configuration with the rule files it names and the secrets its actions read, with the\n"
    "  same flags `klaxon run` would be given (they override the file's keys).\n"
    "  Exit status: 0 all good (warnings allowed), 1 errors found, 2 usage or I/O error (a bad\n"
    "  option, no paths, a path that does not exist or cannot be read).\n";

}  // namespace

int RunCheck(const Args& args, std::ostream& out, std::ostream& err) {
  bool json = false;
  std::string config_path;
  std::map<std::string, std::string> overrides;  // --SECTION.KEY=VALUE, with --config only
  std::vector<std::string> paths;
  FlagParser flags("check", kCheckUsage);
  // A service configuration and the rule files it names (cli/preflight.h).
  flags.Value("--config", [&config_path](const std::string& value) {
    if (value.empty()) return Status::InvalidArgument("needs a value");
    config_path = value;
    return Status::Ok();
  });
  flags.Value("--format", [&json](const std::string& value) {
    if (value != "json" && value != "text") return Status::InvalidArgument("takes text or json");
    json = value == "json";
    return Status::Ok();
  });
  flags.Other([&overrides](const std::string& key, const std::string& value) {
    overrides[key] = value;
    return Status::Ok();
  });
  if (std::optional<int> done = flags.Parse(args, paths, out, err)) return *done;
  if (!config_path.empty()) {
    if (!paths.empty() || json) {
      return flags.UsageError("--config takes no rule files and no --format", err);
    }
    return CheckConfigFile(config_path, overrides, out, err);
  }
  if (!overrides.empty()) {
    return flags.UsageError("--" + overrides.begin()->first + " sets a key of --config FILE", err);
  }
  if (paths.empty()) return flags.UsageError("no rule files given", err);
  Result<std::vector<std::string>> collected = CollectRuleFiles(paths);
  if (!collected.ok()) {
    err << "klaxon check: " << collected.status().message() << "\n";
    return 2;
  }
  const std::vector<std::string>& names = *collected;
  if (names.empty()) {
    err << "klaxon check: no .rules files found\n";
    return 2;
  }
  const rules_dsl::CheckOptions options = RuleCheckOptions();
  std::vector<rules_dsl::SourceFile> files;
  for (const std::string& name : names) {
    Result<std::string> text = ReadFileText(name, options.max_file_bytes);
    if (!text.ok()) {
      err << "klaxon check: " << text.status().message() << "\n";
      return 2;
    }
    files.push_back({name, std::move(text).value()});
  }
  rules_dsl::LoadResult result = rules_dsl::ParseAndCheck(files, options);
  if (result.ok() && result.rules.rules.empty()) {
    std::vector<std::string> checked;
    for (const rules_dsl::SourceFile& f : files) checked.push_back(f.name);
    rules_dsl::Diagnostic d;
    d.severity = "warning";
    d.message = NoRulesIn(checked);
    d.hint = "`klaxon replay` and `klaxon run` refuse rule files that define no rule";
    result.diagnostics.push_back(std::move(d));
  }
  const size_t errors = result.error_count();
  const size_t warnings = result.warning_count();
  if (json) {
    nlohmann::json diagnostics = nlohmann::json::array();
    for (const auto& d : result.diagnostics) {
      diagnostics.push_back({{"file", d.file},
                             {"line", d.line},
                             {"column", d.column},
                             {"severity", d.severity},
                             {"message", d.message},
                             {"hint", d.hint}});
    }
    const nlohmann::json doc = {{"files", files.size()},
                                {"rules", result.rules.rules.size()},
                                {"errors", errors},
                                {"warnings", warnings},
                                {"diagnostics", diagnostics}};
    out << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return errors == 0 ? 0 : 1;
  }
  for (const auto& d : result.diagnostics) err << rules_dsl::FormatDiagnostic(d);
  auto plural = [](size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
  };
  if (errors > 0) {
    err << "found " << plural(errors, "error");
    if (warnings > 0) err << " and " << plural(warnings, "warning");
    err << " in " << plural(files.size(), "file") << "\n";
    return 1;
  }
  out << plural(files.size(), "file") << ", " << plural(result.rules.rules.size(), "rule") << ", "
      << plural(result.rules.actions.size(), "action") << ": OK";
  if (warnings > 0) out << " (" << plural(warnings, "warning") << ")";
  out << "\n";
  return 0;
}

}  // namespace klaxon::cli
