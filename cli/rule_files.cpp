#include "cli/rule_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <system_error>

#include "actions/action_schema.h"
#include "actions/signing.h"
#include "rules-dsl/rules_dsl.h"

namespace klaxon::cli {

Result<std::vector<std::string>> CollectRuleFiles(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) return Status::NotFound("no such file or directory: " + p);
    // A device or FIFO (/dev/zero, /dev/stdin) could be read forever.
    if (!(fs::is_directory(st) || fs::is_regular_file(st))) {
      return Status::IoError("not a regular file or directory: " + p);
    }
    if (fs::is_directory(st)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().extension() == ".rules") {
          found.push_back(it->path().generic_string());
        }
      }
      if (ec) return Status::IoError("cannot read " + p + ": " + ec.message());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(p);
    }
  }
  return files;
}

Result<std::string> ReadFileText(const std::string& path, size_t limit) {
  // Opening a FIFO blocks until a writer comes, and a device (/dev/zero) never ends: only
  // regular files (and symbolic links to them, as Kubernetes mounts secrets) are read.
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st)) {
    return Status::IoError("cannot read " + path + ": not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::string text;
  char buffer[65536];
  while (in && text.size() <= limit) {
    in.read(buffer, sizeof buffer);
    text.append(buffer, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Status::IoError("cannot read " + path);
  if (text.size() > limit + 1) text.resize(limit + 1);
  return text;
}

rules_dsl::CheckOptions RuleCheckOptions() {
  rules_dsl::CheckOptions options;
  options.validate_action = &actions::ValidateActionDef;
  return options;
}

std::string NoRulesIn(const std::vector<std::string>& files) {
  std::string out = "no rules in ";
  for (size_t i = 0; i < files.size(); ++i) out += (i == 0 ? "" : ", ") + files[i];
  return out;
}

Result<LoadedRules> LoadRules(const std::vector<std::string>& paths, std::ostream& err) {
  Result<std::vector<std::string>> files = CollectRuleFiles(paths);
  if (!files.ok()) return files.status();
  if (files->empty()) return Status::InvalidArgument("no .rules files found");
  LoadedRules loaded;
  std::vector<rules_dsl::SourceFile> sources;
  for (const std::string& f : *files) {
    Result<std::string> text = ReadFileText(f, RuleCheckOptions().max_file_bytes);
    if (!text.ok()) return text.status();
    loaded.files.push_back(f);
    loaded.sha256.push_back(actions::Sha256Hex(*text));
    sources.push_back({f, std::move(text).value()});
  }
  rules_dsl::LoadResult result = rules_dsl::ParseAndCheck(sources, RuleCheckOptions());
  for (const rules_dsl::Diagnostic& d : result.diagnostics) {
    err << rules_dsl::FormatDiagnostic(d);
  }
  if (!result.ok()) {
    return Status::InvalidArgument(std::to_string(result.error_count()) +
                                   " error(s) in rule files");
  }
  loaded.rules = std::move(result.rules);
  return loaded;
}

}  // namespace klaxon::cli
