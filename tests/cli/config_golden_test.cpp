// The golden corpus of refused service configurations: each tests/cli/golden/NAME.yaml is
// checked as `klaxon check --config NAME.yaml` does, and the output (stderr, stdout, exit
// status) must equal NAME.expected. Every case also goes through `klaxon run --config`, which
// must refuse to start with exactly the same problems: what run refuses at load, check refuses
// first. KLAXON_UPDATE_GOLDEN=1 rewrites the expected files (review them by eye).
#include <doctest/doctest.h>

#include <algorithm>
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

// The problem lines of an output: those indented under its header line.
std::vector<std::string> ProblemLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  ", 0) == 0) lines.push_back(line);
  }
  return lines;
}

}  // namespace

TEST_CASE("klaxon check --config and klaxon run: golden corpus of refused configurations") {
  const fs::path dir = fs::path(SourceDir()) / "tests" / "cli" / "golden";
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") inputs.push_back(e.path());
  }
  std::sort(inputs.begin(), inputs.end());
  CHECK(inputs.size() >= 6);
  const bool update = klaxon::cli::testing::UpdateGolden();
  for (const fs::path& input : inputs) {
    const std::string name = input.stem().string();
    CAPTURE(name);
    std::ostringstream out;
    std::ostringstream err;
    const int rc = klaxon::cli::RunCheck({"--config", input.string()}, out, err);
    std::string got = err.str() + out.str() + "exit " + std::to_string(rc) + "\n";
    ReplaceAll(got, dir.string() + "/", "");
    fs::path expected_path = input;
    expected_path.replace_extension(".expected");
    if (update) {
      std::ofstream(expected_path, std::ios::binary) << got;
    } else {
      REQUIRE_MESSAGE(fs::exists(expected_path), "missing " << expected_path);
      CHECK_MESSAGE(got == ReadAll(expected_path), "golden mismatch: " << name << "\n" << got);
    }
    // Every case is refused; only then may `run` be tried (a valid one would start a service).
    REQUIRE(rc == 1);
    std::ostringstream run_out;
    std::ostringstream run_err;
    CHECK(klaxon::cli::RunService({"--config", input.string()}, run_out, run_err) == 2);
    CHECK(run_err.str().rfind("klaxon run: cannot start:\n", 0) == 0);
    CHECK(ProblemLines(run_err.str()) == ProblemLines(err.str()));
  }
}
