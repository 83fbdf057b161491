// `klaxon fmt [--check] PATH...`: rewrite rule files in the canonical layout (rules-dsl's
// FormatRules). With --check nothing is written; files that would change are listed and the
// exit status is 1. Files that do not parse are reported and left untouched (exit 1).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <ostream>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/rule_files.h"
#include "rules-dsl/rules_dsl.h"

namespace klaxon::cli {
namespace {

constexpr const char* kFmtUsage =
    "usage: klaxon fmt [--check] PATH...\n"
    "  Rewrites rule files (*.rules; folders are searched recursively) in the canonical layout.\n"
    "  --check  write nothing; list the files that would change and exit 1 if any would.\n"
    "  Exit status: 0 formatted (or nothing to change), 1 a file would change (--check) or has\n"
    "  syntax errors, 2 usage or I/O error (a bad option, a file that cannot be read or "
    "written).\n";

// Writes through a temporary file and a rename so that a crash never leaves half a file.
bool WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".klaxon-fmt.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << text;
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
  return !ec;
}

}  // namespace

int RunFmt(const Args& args, std::ostream& out, std::ostream& err) {
  bool check = false;
  std::vector<std::string> paths;
  FlagParser flags("fmt", kFmtUsage);
  flags.Switch("--check", &check);
  if (std::optional<int> done = flags.Parse(args, paths, out, err)) return *done;
  if (paths.empty()) {
    err << "klaxon fmt: no rule files given\n" << kFmtUsage;
    return 2;
  }
  Result<std::vector<std::string>> collected = CollectRuleFiles(paths);
  if (!collected.ok()) {
    err << "klaxon fmt: " << collected.status().message() << "\n";
    return 2;
  }
  const std::vector<std::string>& files = *collected;
  const size_t limit = rules_dsl::CheckOptions{}.max_file_bytes;
  int status = 0;
  size_t changed = 0;
  for (const std::string& name : files) {
    Result<std::string> read = ReadFileText(name, limit);
    if (!read.ok()) {
      err << "klaxon fmt: " << read.status().message() << "\n";
      status = kExitUsage;
      continue;
    }
    const std::string& text = *read;
    Result<std::string> formatted = rules_dsl::FormatRules(text, name);
    if (!formatted.ok()) {
      err << formatted.status().message() << name << ": not formatted (syntax errors)\n";
      status = std::max(status, kExitProblems);
      continue;
    }
    if (*formatted == text) continue;
    ++changed;
    if (check) {
      out << name << "\n";
      status = std::max(status, kExitProblems);
    } else if (!WriteFileAtomically(name, *formatted)) {
      err << "klaxon fmt: cannot write " << name << "\n";
      status = kExitUsage;
    }
  }
  if (check && changed > 0) {
    err << changed << " file" << (changed == 1 ? "" : "s") << " would be reformatted\n";
  }
  return status;
}

}  // namespace klaxon::cli
