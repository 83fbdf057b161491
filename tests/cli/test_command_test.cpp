// `klaxon test`: the golden test files of tests/cli/test_golden/ (every problem of a file at
// once, as file:line:col with a hint; huge numbers; the stderr summary of what was read), run
// exactly as `klaxon test NAME.test.yaml`, must give NAME.expected (stderr, stdout, exit
// status). KLAXON_UPDATE_GOLDEN=1 rewrites the expected files (review them by eye).
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

TEST_CASE("klaxon test: golden test files") {
  const fs::path dir = fs::path(SourceDir()) / "tests" / "cli" / "test_golden";
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().string().ends_with(".test.yaml")) inputs.push_back(e.path());
  }
  std::sort(inputs.begin(), inputs.end());
  CHECK(inputs.size() >= 3);
  const bool update = klaxon::cli::testing::UpdateGolden();
  for (const fs::path& input : inputs) {
    std::ostringstream out;
    std::ostringstream err;
    const int rc = klaxon::cli::RunTest({input.string()}, out, err);
    std::string got = err.str() + out.str() + "exit " + std::to_string(rc) + "\n";
    ReplaceAll(got, dir.string() + "/", "");
    fs::path expected_path = input;
    expected_path.replace_extension("").replace_extension(".expected");
    if (update) {
      std::ofstream(expected_path, std::ios::binary) << got;
      continue;
    }
    REQUIRE_MESSAGE(fs::exists(expected_path), "missing " << expected_path);
    CHECK_MESSAGE(got == ReadAll(expected_path), "golden mismatch: " << input << "\n" << got);
    CHECK_MESSAGE(rc == 1, input);
  }
}

TEST_CASE("klaxon test: exit 2 for usage and I/O errors, 1 for problems found") {
  std::ostringstream out;
  std::ostringstream err;
  CHECK(klaxon::cli::RunTest({}, out, err) == 2);
  CHECK(klaxon::cli::RunTest({"--bogus"}, out, err) == 2);
  CHECK(klaxon::cli::RunTest({"/nonexistent/x.test.yaml"}, out, err) == 2);
  const fs::path dir = fs::temp_directory_path() / "klaxon-test-exit-codes";
  fs::create_directories(dir);
  std::ofstream(dir / "missing_rules.test.yaml") << "rule_files: [nope.rules]\ntests: []\n";
  CHECK(klaxon::cli::RunTest({(dir / "missing_rules.test.yaml").string()}, out, err) == 2);
  std::ofstream(dir / "bad.test.yaml") << "rule_files: [x.rules]\ntests: [\n";
  CHECK(klaxon::cli::RunTest({(dir / "bad.test.yaml").string()}, out, err) == 1);
  fs::remove_all(dir);
}

// Before: a device named as a file was read forever (/dev/zero never ends).
TEST_CASE("klaxon test: a device named as rule file or events file is refused, not read") {
  const fs::path dir = fs::temp_directory_path() / "klaxon-test-devices";
  fs::create_directories(dir);
  std::ofstream(dir / "r.rules") << "action stdout = log(path: \"-\")\n"
                                    "rule r {\n  when frequency > 0/min for level:error\n"
                                    "  then stdout\n}\n";
  std::ofstream(dir / "rules.test.yaml") << "rule_files: [/dev/zero]\n"
                                            "start: 2026-01-01T00:00:00Z\ntests: []\n";
  std::ofstream(dir / "events.test.yaml") << "rule_files: [r.rules]\n"
                                             "start: 2026-01-01T00:00:00Z\n"
                                             "tests:\n  - name: x\n    events_file: /dev/zero\n"
                                             "    expect: []\n";
  std::ostringstream out;
  std::ostringstream err;
  CHECK(klaxon::cli::RunTest({(dir / "rules.test.yaml").string()}, out, err) == 2);
  CHECK(err.str().find("rule_files: not a regular file or directory: /dev/zero") !=
        std::string::npos);
  std::ostringstream err2;
  CHECK(klaxon::cli::RunTest({(dir / "events.test.yaml").string()}, out, err2) == 2);
  CHECK(err2.str().find(":5:18: error: events_file: not a regular file: /dev/zero") !=
        std::string::npos);
  std::ostringstream err3;
  CHECK(klaxon::cli::RunCheck({"/dev/zero"}, out, err3) == 2);
  CHECK(err3.str() == "klaxon check: not a regular file or directory: /dev/zero\n");
  fs::remove_all(dir);
}
