#include "service/progress_file.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace klaxon::service {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("klaxon-progress-" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void Write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

TEST_CASE("the progress file keeps the offset handed over per partition across a restart") {
  TempDir dir;
  const std::string path = (dir.path / "outbox.db.progress").string();
  const HandedOffsets offsets = {{{"events", 0}, 41}, {{"events", 7}, 9}, {{"other", 0}, 0}};
  REQUIRE(SaveProgressFile(path, offsets).ok());
  CHECK_FALSE(fs::exists(path + ".tmp"));
  Result<HandedOffsets> loaded = LoadProgressFile(path);
  REQUIRE(loaded.ok());
  CHECK(*loaded == offsets);
  // A later save replaces the file whole.
  REQUIRE(SaveProgressFile(path, {{{"events", 0}, 50}}).ok());
  CHECK(*LoadProgressFile(path) == HandedOffsets{{{"events", 0}, 50}});
}

TEST_CASE("no progress file is a first start") {
  TempDir dir;
  Result<HandedOffsets> loaded = LoadProgressFile((dir.path / "missing.progress").string());
  REQUIRE(loaded.ok());
  CHECK(loaded->empty());
}

TEST_CASE("a progress file that is not a JSON array is an error; odd entries are skipped") {
  TempDir dir;
  const fs::path path = dir.path / "p";
  Write(path, "{\"topic\":\"events\"");
  CHECK_FALSE(LoadProgressFile(path.string()).ok());
  Write(path,
        "[{\"topic\":\"events\",\"partition\":1,\"offset\":5},{\"topic\":3,\"partition\":1,"
        "\"offset\":5},{\"topic\":\"events\",\"partition\":2},7]\n");
  Result<HandedOffsets> loaded = LoadProgressFile(path.string());
  REQUIRE(loaded.ok());
  CHECK(*loaded == HandedOffsets{{{"events", 1}, 5}});
}

TEST_CASE("a progress file that cannot be written is an error naming it") {
  TempDir dir;
  const fs::path path = dir.path / "no-such-dir" / "p";
  const Status st = SaveProgressFile(path.string(), {{{"events", 0}, 1}});
  CHECK_FALSE(st.ok());
  CHECK(st.message().find(path.string() + ".tmp") != std::string::npos);
}

}  // namespace
}  // namespace klaxon::service
