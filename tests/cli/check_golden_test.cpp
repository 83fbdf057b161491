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

namespace {

namespace fs = std::filesystem;

std::string SourceDir() {
  const char* dir = std::getenv("KLAXON_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

}  // namespace

TEST_CASE("klaxon check: golden corpus of invalid rule files") {
  const fs::path dir = fs::path(SourceDir()) / "tests" / "rules-dsl" / "golden";
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".rules") inputs.push_back(e.path());
  }
  std::sort(inputs.begin(), inputs.end());
  CHECK(inputs.size() >= 45);
  const char* update_env = std::getenv("KLAXON_UPDATE_GOLDEN");
  const bool update = update_env != nullptr && std::string(update_env) == "1";
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
      CHECK_MESSAGE(got.find(": warning: ") != std::string::npos, name);
    } else {
      CHECK_MESSAGE(rc == 1, name);
    }
  }
}
