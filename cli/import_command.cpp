// `klaxon import sentry|elastalert FILE [--partial]`: prints the Klaxon rule file equivalent to
// another tool's alert rules (importer/). Exit 0 when everything was translated (or with
// --partial), 1 when a part has no equivalent (each is a comment in the output) or the input
// is malformed, 2 usage or I/O error.
#include <ostream>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/rule_files.h"
#include "importer/importer.h"

namespace klaxon::cli {
namespace {

constexpr const char* kImportUsage =
    "usage: klaxon import sentry|elastalert FILE [--partial]\n"
    "  Prints on stdout a Klaxon rule file equivalent to FILE: Sentry alert rules (the JSON of\n"
    "  Sentry's alert-rules API: one rule or a list) or one ElastAlert2 rule (YAML). A part\n"
    "  with no Klaxon equivalent becomes a `# not imported: ...` comment.\n"
    "  --partial  exit 0 even when parts were not imported\n"
    "  Exit status: 0 imported, 1 parts not imported (without --partial) or malformed input,\n"
    "  2 usage or I/O error (a bad option, a file that cannot be read).\n";

}  // namespace

int RunImport(const Args& args, std::ostream& out, std::ostream& err) {
  bool partial = false;
  std::vector<std::string> positional;
  FlagParser flags("import", kImportUsage);
  flags.Switch("--partial", &partial);
  if (std::optional<int> done = flags.Parse(args, positional, out, err)) return *done;
  if (positional.size() != 2) {
    return flags.UsageError("give a format (sentry or elastalert) and one file", err);
  }
  const std::string& format = positional[0];
  if (format != "sentry" && format != "elastalert") {
    return flags.UsageError("unknown format `" + format + "` (sentry or elastalert)", err);
  }
  const std::string& path = positional[1];
  Result<std::string> text = ReadFileText(path, importer::kMaxImportBytes);
  if (!text.ok()) {
    err << "klaxon import: " << text.status().message() << "\n";
    return ExitCodeFor(text.status());
  }
  Result<importer::ImportOutput> imported = format == "sentry"
                                                ? importer::ImportSentry(*text, path)
                                                : importer::ImportElastAlert(*text, path);
  if (!imported.ok()) {
    err << imported.status().message() << "\n";
    return kExitProblems;
  }
  out << imported->text;
  if (imported->dropped > 0) {
    err << path << ": " << imported->dropped << " part" << (imported->dropped == 1 ? "" : "s")
        << " not imported (see the `# not imported` comments)"
        << (partial ? "" : "; --partial accepts this") << "\n";
    if (!partial) return kExitProblems;
  }
  return kExitOk;
}

}  // namespace klaxon::cli
