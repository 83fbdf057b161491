// Every example rule file passes `klaxon check` and `klaxon fmt --check`, and the two commands
// honour their exit-status contracts.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/commands.h"

namespace {

std::string Examples() {
  const char* dir = std::getenv("KLAXON_SOURCE_DIR");
  return std::string(dir != nullptr ? dir : ".") + "/examples/rules";
}

}  // namespace

TEST_CASE("klaxon check and fmt --check accept every example rule file") {
  std::ostringstream out;
  std::ostringstream err;
  CHECK(klaxon::cli::RunCheck({Examples()}, out, err) == 0);
  CHECK(err.str() == "");
  CHECK(out.str().find(": OK") != std::string::npos);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(Examples())) {
    if (e.path().extension() != ".rules") continue;
    ++files;
    std::ostringstream o;
    std::ostringstream e2;
    INFO(e.path());
    CHECK(klaxon::cli::RunCheck({e.path().string()}, o, e2) == 0);  // each stands alone
    CHECK(klaxon::cli::RunFmt({"--check", e.path().string()}, o, e2) == 0);
    CHECK(e2.str() == "");
  }
  CHECK(files >= 5);
}

TEST_CASE("klaxon check: usage errors, JSON output") {
  std::ostringstream out;
  std::ostringstream err;
  CHECK(klaxon::cli::RunCheck({}, out, err) == 2);
  CHECK(klaxon::cli::RunCheck({"/nonexistent/x.rules"}, out, err) == 2);
  CHECK(klaxon::cli::RunCheck({"--format", "yaml", Examples()}, out, err) == 2);
  CHECK(klaxon::cli::RunCheck({"--bogus", Examples()}, out, err) == 2);

  const auto dir = std::filesystem::temp_directory_path() / "klaxon_check_json_test";
  std::filesystem::create_directories(dir);
  const auto bad = dir / "bad.rules";
  std::ofstream(bad) << "rule r {\n  when level:error AND level:fatal\n}\n";
  std::ostringstream json_out;
  std::ostringstream json_err;
  CHECK(klaxon::cli::RunCheck({"--format=json", bad.string()}, json_out, json_err) == 1);
  const auto doc = nlohmann::json::parse(json_out.str());
  CHECK(doc["errors"] == 1);
  CHECK(doc["warnings"] == 1);
  REQUIRE(doc["diagnostics"].size() == 2);
  CHECK(doc["diagnostics"][0]["line"] == 1);
  CHECK(doc["diagnostics"][0]["severity"] == "warning");
  CHECK(doc["diagnostics"][1]["column"] == 24);
  CHECK(doc["diagnostics"][1]["message"].get<std::string>().find("can never match") !=
        std::string::npos);
  std::filesystem::remove_all(dir);
}
