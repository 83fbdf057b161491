#include "cli/secrets.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

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
  CHECK(zero.status().message() == "secret file /dev/zero is larger than 64 KiB");
  CHECK_FALSE(ReadSecretFile("/dev/zero").ok());

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
