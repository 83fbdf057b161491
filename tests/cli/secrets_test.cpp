#include "cli/secrets.h"

#include <sys/stat.h>

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/preflight.h"

namespace klaxon::cli {
namespace {

std::optional<std::string> NoEnv(const std::string&) { return std::nullopt; }

ActionValue File(const std::string& path) {
  ActionValue v;
  v.kind = ActionValue::Kind::kFile;
  v.text = path;
  return v;
}

TEST_CASE("a secret file is read with a size cap") {
  // Before: file("/dev/zero") grew a string until std::bad_alloc.
  const actions::SecretResolver resolve = MakeSecretResolver(NoEnv, "");
  const Result<std::string> zero = resolve(File("/dev/zero"));
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.status().message() == "cannot read secret file /dev/zero: not a regular file");
  CHECK_FALSE(ReadSecretFile("/dev/zero").ok());
  // Before: a FIFO blocked the open until a writer came, and check, run and notify hung.
  const std::string fifo =
      (std::filesystem::temp_directory_path() / "klaxon-secrets-test.fifo").string();
  std::remove(fifo.c_str());
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(resolve(File(fifo)).status().message() ==
        "cannot read secret file " + fifo + ": not a regular file");
  CHECK(ReadConfigFile(fifo).status().message() == "cannot read " + fifo + ": not a regular file");
  std::remove(fifo.c_str());

  const std::string path =
      (std::filesystem::temp_directory_path() / "klaxon-secrets-test.txt").string();
  std::ofstream(path) << "s3cret\n";
  CHECK(*resolve(File(path)) == "s3cret");
  std::ofstream(path) << std::string(kMaxSecretBytes + 1, 'x');
  CHECK_FALSE(resolve(File(path)).ok());
  std::remove(path.c_str());
  CHECK(resolve(File("/nonexistent/klaxon")).status().message() ==
        "cannot read secret file /nonexistent/klaxon");
}

}  // namespace
}  // namespace klaxon::cli
