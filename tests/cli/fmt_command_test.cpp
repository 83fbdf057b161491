// klaxon fmt rewrites in place, --check lists and fails, broken files stay untouched.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/commands.h"

namespace {

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("klaxon fmt: rewrite, --check, broken files") {
  const auto dir = std::filesystem::temp_directory_path() / "klaxon_fmt_command_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "sub");
  const auto messy = dir / "sub" / "messy.rules";
  const auto broken = dir / "broken.rules";
  std::ofstream(messy) << "rule r {\nwhen   level:error # c\n}\n";
  std::ofstream(broken) << "rule r {\n  when level:\n}\n";

  std::ostringstream out;
  std::ostringstream err;
  CHECK(klaxon::cli::RunFmt({"--check", dir.string()}, out, err) == 1);
  CHECK(out.str() == messy.generic_string() + "\n");
  CHECK(err.str().find("broken.rules:2:14: error: expected a value after `:`") !=
        std::string::npos);
  CHECK(ReadAll(messy) == "rule r {\nwhen   level:error # c\n}\n");  // --check writes nothing

  std::ostringstream out2;
  std::ostringstream err2;
  CHECK(klaxon::cli::RunFmt({messy.string()}, out2, err2) == 0);
  CHECK(ReadAll(messy) == "rule r {\n  when level:error  # c\n}\n");
  CHECK(klaxon::cli::RunFmt({"--check", messy.string()}, out2, err2) == 0);
  CHECK(klaxon::cli::RunFmt({broken.string()}, out2, err2) == 1);
  CHECK(ReadAll(broken) == "rule r {\n  when level:\n}\n");
  CHECK(klaxon::cli::RunFmt({}, out2, err2) == 2);
  CHECK(klaxon::cli::RunFmt({(dir / "missing.rules").string()}, out2, err2) == 2);
  std::filesystem::remove_all(dir);
}
