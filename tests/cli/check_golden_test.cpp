// The golden corpus of invalid rule files: each tests/rules-dsl/golden/NAME.rules is checked
// exactly as `klaxon check NAME.rules` does, and the output (stderr, stdout, exit status) must
// equal NAME.expected. KLAXON_UPDATE_GOLDEN=1 rewrites the expected files (review them by eye).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "tests/cli/golden_util.h"

namespace {

namespace fs = std::filesystem;

using klaxon::cli::testing::ReadAll;
using klaxon::cli::testing::ReplaceAll;
using klaxon::cli::testing::SourceDir;

}  // namespace

TEST_CASE("klaxon check: golden corpus of invalid rule files") {
  const fs::path dir = fs::path(SourceDir()) / "tests" / "rules-dsl" / "golden";
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".rules") inputs.push_back(e.path());
  }
  std::sort(inputs.begin(), inputs.end());
  CHECK(inputs.size() >= 45);
  const bool update = klaxon::cli::testing::UpdateGolden();
  for (const fs::path& input : inputs) {
    std::ostringstream out;
    std::ostringstream err;
    const int rc = klaxon::cli::RunCheck({input.string()}, out, err);
    std::string got = err.str() + out.str() + "exit " + std::to_string(rc) + "\n";
    ReplaceAll(got, dir.string() + "/", "");
    const std::string name = input.stem().string();
    fs::path expected_path = input;
    expected_path.replace_extension(".expected");
    if (update) {
      std::ofstream(expected_path, std::ios::binary) << got;
      continue;
    }
    REQUIRE_MESSAGE(fs::exists(expected_path), "missing " << expected_path);
    CHECK_MESSAGE(got == ReadAll(expected_path), "golden mismatch: " << name << "\n" << got);
    // Every snippet is invalid, except the ones named *_warning, which only warn.
    if (name.ends_with("_warning")) {
      CHECK_MESSAGE(rc == 0, name);
      // A warning about the files as a whole has no position: "warning: ..." on its own line.
      CHECK_MESSAGE((got.find(": warning: ") != std::string::npos || got.starts_with("warning: ")),
                    name);
    } else {
      CHECK_MESSAGE(rc == 1, name);
    }
  }
}

// One validation path: whatever `klaxon check` refuses, loading (here `klaxon replay`, which
// loads as `run` does: rules-dsl, actions' argument schema, the engine's own rule checks)
// refuses too, and the other way round: no golden case may check clean yet fail to load.
TEST_CASE("klaxon check and klaxon replay refuse the same invalid rule files") {
  const fs::path dir = fs::path(SourceDir()) / "tests" / "rules-dsl" / "golden";
  const fs::path events = fs::temp_directory_path() / "klaxon-check-golden-empty.jsonl";
  std::ofstream(events, std::ios::binary) << "";
  size_t cases = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const fs::path input = e.path();
    if (input.extension() != ".rules" || input.stem().string().ends_with("_warning")) continue;
    ++cases;
    std::ostringstream out;
    std::ostringstream err;
    CHECK_MESSAGE(klaxon::cli::RunCheck({input.string()}, out, err) == 1, input);
    std::ostringstream replay_out;
    std::ostringstream replay_err;
    const int rc = klaxon::cli::RunReplay({input.string(), "--events", events.string()}, replay_out,
                                          replay_err);
    CHECK_MESSAGE(rc == 1, input << " loaded: " << replay_err.str());
    // Both print the same diagnostics.
    CHECK_MESSAGE(replay_err.str().starts_with(err.str().substr(0, err.str().rfind("found "))),
                  input << "\ncheck:\n"
                        << err.str() << "replay:\n"
                        << replay_err.str());
  }
  CHECK(cases >= 50);
  fs::remove(events);
}

// The other side of no_rules_warning: replay refuses what check warns about, before reading any
// event (run's side is tests/cli/golden/no_rules.yaml).
TEST_CASE("klaxon replay refuses rule files that define no rule") {
  const fs::path dir = fs::path(SourceDir()) / "tests" / "rules-dsl" / "golden";
  const fs::path events = fs::temp_directory_path() / "klaxon-no-rules-one.jsonl";
  std::ofstream(events, std::ios::binary) << "{\"timestamp\": 1700000000}\n";
  std::ostringstream out;
  std::ostringstream err;
  const int rc = klaxon::cli::RunReplay(
      {(dir / "no_rules_warning.rules").string(), "--events", events.string()}, out, err);
  std::string got = err.str();
  ReplaceAll(got, dir.string() + "/", "");
  CHECK(rc == 1);
  CHECK(got == "klaxon replay: no rules in no_rules_warning.rules: nothing to evaluate\n");
  CHECK(out.str().empty());
  fs::remove(events);
}

TEST_CASE("URL schemes are case-insensitive for check and load alike") {
  const fs::path dir = fs::temp_directory_path() / "klaxon-check-http-upper";
  fs::create_directories(dir);
  const fs::path rules = dir / "upper.rules";
  std::ofstream(rules, std::ios::binary)
      << "action hook = webhook(url: \"HTTP://hooks.example.com/klaxon\")\n"
         "action desk = jira(url: \"HTTPS://acme.atlassian.net\", project: \"OPS\",\n"
         "                   issue_type: \"Bug\", token: env(\"JIRA_TOKEN\"), api_version: 3)\n"
         "action oncall = pagerduty(routing_key: env(\"PD_KEY\"), severity: \"warning\")\n"
         "rule r {\n  when unique(user.id) >= 100000 in 1h\n  then hook, desk, oncall\n}\n";
  const fs::path events = dir / "events.jsonl";
  std::ofstream(events, std::ios::binary) << "";
  std::ostringstream out;
  std::ostringstream err;
  CHECK_MESSAGE(klaxon::cli::RunCheck({rules.string()}, out, err) == 0, err.str());
  std::ostringstream replay_out;
  std::ostringstream replay_err;
  CHECK_MESSAGE(klaxon::cli::RunReplay({rules.string(), "--events", events.string(), "--payloads"},
                                       replay_out, replay_err) == 0,
                replay_err.str());
  fs::remove_all(dir);
}
