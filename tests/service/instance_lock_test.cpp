#include "service/instance_lock.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace klaxon::service {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "klaxon-lock-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

TEST_CASE("a second lock on the same outbox is refused, naming the holder's pid") {
  TempDir dir;
  const std::string outbox = (dir.path / "outbox.db").string();
  Result<std::unique_ptr<InstanceLock>> first = InstanceLock::Acquire(outbox);
  REQUIRE(first.ok());
  std::ifstream pid_file(outbox + ".lock");
  std::string pid;
  std::getline(pid_file, pid);
  CHECK(pid == std::to_string(getpid()));
  // flock locks belong to the open file description: a second open conflicts even in this
  // process, as another process would.
  Result<std::unique_ptr<InstanceLock>> second = InstanceLock::Acquire(outbox);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().message() ==
        outbox + " is in use by another klaxon process (pid " + std::to_string(getpid()) + ")");
  // Another outbox in the same folder is another instance.
  CHECK(InstanceLock::Acquire((dir.path / "other.db").string()).ok());
}

TEST_CASE("the lock is free again once its holder is gone") {
  TempDir dir;
  const std::string outbox = (dir.path / "outbox.db").string();
  { REQUIRE(InstanceLock::Acquire(outbox).ok()); }
  // The lock file stays (its pid is stale) but nothing holds it.
  CHECK(fs::exists(outbox + ".lock"));
  CHECK(InstanceLock::Acquire(outbox).ok());
}

TEST_CASE("a lock file that cannot be created is an error naming it") {
  Result<std::unique_ptr<InstanceLock>> lock =
      InstanceLock::Acquire("/nonexistent-klaxon-dir/outbox.db");
  REQUIRE_FALSE(lock.ok());
  CHECK(lock.status().message().find("/nonexistent-klaxon-dir/outbox.db.lock") !=
        std::string::npos);
}

}  // namespace
}  // namespace klaxon::service
