// The golden corpus of `klaxon import`: each tests/importer/corpus/FORMAT/NAME.{json,yaml} is
// imported exactly as `klaxon import FORMAT FILE` does; stdout must equal NAME.rules and
// stderr plus the exit status NAME.expected. Every golden rule file passes `klaxon check` and
// is already formatted. KLAXON_UPDATE_GOLDEN=1 rewrites the golden files (review them by eye).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "importer/importer.h"
#include "rules-dsl/rules_dsl.h"
#include "tests/cli/golden_util.h"

namespace {

namespace fs = std::filesystem;

using klaxon::cli::testing::ReadAll;
using klaxon::cli::testing::ReplaceAll;
using klaxon::cli::testing::SourceDir;

void RunCorpus(const std::string& format, const std::string& extension, size_t at_least) {
  const fs::path dir = fs::path(SourceDir()) / "tests" / "importer" / "corpus" / format;
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == extension) inputs.push_back(e.path());
  }
  std::sort(inputs.begin(), inputs.end());
  CHECK(inputs.size() >= at_least);
  const bool update = klaxon::cli::testing::UpdateGolden();
  for (const fs::path& input : inputs) {
    const std::string name = input.stem().string();
    std::ostringstream out;
    std::ostringstream err;
    const int rc = klaxon::cli::RunImport({format, input.string()}, out, err);
    std::string rules = out.str();
    std::string diagnostics = err.str() + "exit " + std::to_string(rc) + "\n";
    ReplaceAll(rules, dir.string() + "/", "");
    ReplaceAll(diagnostics, dir.string() + "/", "");
    fs::path rules_path = input;
    rules_path.replace_extension(".rules");
    fs::path expected_path = input;
    expected_path.replace_extension(".expected");
    if (update) {
      std::ofstream(expected_path, std::ios::binary) << diagnostics;
      if (!rules.empty()) std::ofstream(rules_path, std::ios::binary) << rules;
      continue;
    }
    REQUIRE_MESSAGE(fs::exists(expected_path), "missing " << expected_path);
    CHECK_MESSAGE(diagnostics == ReadAll(expected_path), "golden mismatch: " << name << "\n"
                                                                             << diagnostics);
    // Inputs named error_* are malformed: no output, exit 1.
    if (name.starts_with("error_")) {
      CHECK_MESSAGE(rules.empty(), name);
      CHECK_MESSAGE(rc == 1, name);
      continue;
    }
    REQUIRE_MESSAGE(fs::exists(rules_path), "missing " << rules_path);
    CHECK_MESSAGE(rules == ReadAll(rules_path), "golden mismatch: " << name << "\n" << rules);
    // The output checks clean and is what `klaxon fmt` prints.
    std::ostringstream check_out;
    std::ostringstream check_err;
    CHECK_MESSAGE(klaxon::cli::RunCheck({rules_path.string()}, check_out, check_err) == 0,
                  name << "\n"
                       << check_err.str());
    CHECK_MESSAGE(check_err.str().find(": error: ") == std::string::npos, name);
    klaxon::Result<std::string> formatted = klaxon::rules_dsl::FormatRules(rules, name);
    REQUIRE_MESSAGE(formatted.ok(), name);
    CHECK_MESSAGE(*formatted == rules, name << " is not in klaxon fmt's layout");
    // Exit 1 exactly when something was not imported, and --partial accepts it.
    const bool dropped = rules.find("# not imported: ") != std::string::npos;
    CHECK_MESSAGE(rc == (dropped ? 1 : 0), name);
    if (dropped) {
      std::ostringstream partial_out;
      std::ostringstream partial_err;
      CHECK(klaxon::cli::RunImport({format, input.string(), "--partial"}, partial_out,
                                   partial_err) == 0);
      CHECK(partial_out.str() == out.str());
    }
  }
}

}  // namespace

TEST_CASE("klaxon import sentry: golden corpus") { RunCorpus("sentry", ".json", 15); }

TEST_CASE("klaxon import elastalert: golden corpus") { RunCorpus("elastalert", ".yaml", 15); }

TEST_CASE("klaxon import: usage and I/O errors exit 2") {
  std::ostringstream out;
  std::ostringstream err;
  CHECK(klaxon::cli::RunImport({}, out, err) == 2);
  CHECK(klaxon::cli::RunImport({"nagios", "x.cfg"}, out, err) == 2);
  CHECK(klaxon::cli::RunImport({"sentry"}, out, err) == 2);
  CHECK(klaxon::cli::RunImport({"sentry", "/nonexistent/rules.json"}, out, err) == 2);
  CHECK(klaxon::cli::RunImport({"sentry", "a.json", "--bogus"}, out, err) == 2);
}

TEST_CASE("klaxon import: hostile input is an error, never a crash") {
  // Deep nesting, huge input and binary garbage.
  const std::string deep_json = std::string(100000, '[') + std::string(100000, ']');
  CHECK(!klaxon::importer::ImportSentry(deep_json, "deep.json").ok());
  const std::string deep_yaml = "name: x\ntype: any\nfilter:\n" + std::string(20000, '[');
  CHECK(!klaxon::importer::ImportElastAlert(deep_yaml, "deep.yaml").ok());
  CHECK(!klaxon::importer::ImportElastAlert("name: x\ntype: any\nfilter: {query_string: {query: '" +
                                                std::string(1000, '(') + "a:b" +
                                                std::string(1000, ')') + "'}}",
                                            "parens.yaml")
             .ok());
  const std::string huge(klaxon::importer::kMaxImportBytes + 1, ' ');
  CHECK(!klaxon::importer::ImportSentry(huge, "huge.json").ok());
  CHECK(!klaxon::importer::ImportElastAlert(huge, "huge.yaml").ok());
  const std::string garbage("\x00\xff\xfe{[:\"", 7);
  CHECK(!klaxon::importer::ImportSentry(garbage, "g.json").ok());
  CHECK(!klaxon::importer::ImportElastAlert(garbage, "g.yaml").ok());
  // Wrong types where objects, lists or strings belong.
  CHECK(!klaxon::importer::ImportSentry(R"({"conditions": 5})", "t.json").ok());
  CHECK(!klaxon::importer::ImportSentry(R"({"conditions": [{"id": 5}]})", "t.json").ok());
  CHECK(!klaxon::importer::ImportSentry(R"([1, 2])", "t.json").ok());
  CHECK(!klaxon::importer::ImportElastAlert("name: [x]\ntype: any\n", "t.yaml").ok());
  CHECK(!klaxon::importer::ImportElastAlert("name: x\ntype: frequency\nnum_events: -1\n"
                                            "timeframe: {minutes: 1}\n",
                                            "t.yaml")
             .ok());
}
