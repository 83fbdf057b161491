// TaskCache: a task's changelog on the instance's disk. A load gives exactly the records an end
// offset vouches for; a torn or corrupt tail, an aborted checkpoint and records not yet vouched
// for are left to the changelog.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "service/task_cache.h"

namespace klaxon::service {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/klaxon-task-cache-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::map<std::string, std::string> Image(const ChangelogCollector& c) {
  std::map<std::string, std::string> out;
  c.ForEach([&](std::string_view k, std::string_view v) { out.emplace(k, v); });
  return out;
}

struct Loaded {
  std::optional<int64_t> end;
  std::map<std::string, std::string> image;
  int64_t records = 0;
};

Loaded Load(const std::string& path) {
  ChangelogCollector c;
  Loaded out;
  Result<std::optional<int64_t>> end = TaskCache::Load(path, c, out.records);
  REQUIRE(end.ok());
  out.end = *end;
  out.image = Image(c);
  return out;
}

TEST_CASE("A task's cache gives back the records its end offsets vouch for") {
  TempDir dir;
  const std::string path = TaskCache::PathFor(dir.path, 3);
  CHECK(path == dir.path + "/changelog-3");
  CHECK_FALSE(Load(path).end.has_value());  // no file: nothing

  ChangelogCollector restored;
  restored.Add("T", "head-1");
  restored.Add("Hr", "engine-1");
  restored.Add("Rr\x01", std::string(3000, 'x'));
  Result<TaskCache> cache = TaskCache::Write(path, restored, 120);
  REQUIRE(cache.ok());
  Loaded l = Load(path);
  CHECK(l.end == 120);
  CHECK(l.image == Image(restored));
  CHECK(l.records == 3);

  // A checkpoint committed without an end: its records wait for one.
  REQUIRE(cache->Add("T", std::string_view("head-2")).ok());
  REQUIRE(cache->Add("Rr\x01", std::nullopt).ok());  // a group gone
  REQUIRE(cache->Commit(std::nullopt).ok());
  CHECK(Load(path).end == 120);
  CHECK(Load(path).image == Image(restored));
  // The next one's commit comes with the end: both are vouched for.
  REQUIRE(cache->Add("Rr\x02", std::string_view("row-2")).ok());
  REQUIRE(cache->Commit(140).ok());
  l = Load(path);
  CHECK(l.end == 140);
  CHECK(l.image == std::map<std::string, std::string>{
                       {"T", "head-2"}, {"Hr", "engine-1"}, {"Rr\x02", "row-2"}});

  // An aborted checkpoint leaves nothing, even one large enough to be written as it came.
  const auto size = std::filesystem::file_size(path);
  for (int i = 0; i < 400; ++i) {
    REQUIRE(cache->Add("R" + std::to_string(i), std::string(4000, 'y')).ok());
  }
  CHECK(std::filesystem::file_size(path) > size);  // written already
  REQUIRE(cache->Abort().ok());
  CHECK(std::filesystem::file_size(path) == size);
  REQUIRE(cache->Commit(150).ok());
  l = Load(path);
  CHECK(l.end == 150);
  CHECK(l.image.size() == 3);
}

TEST_CASE("A torn or corrupt cache gives the image before the damage") {
  TempDir dir;
  const std::string path = TaskCache::PathFor(dir.path, 0);
  ChangelogCollector restored;
  restored.Add("T", "head-1");
  Result<TaskCache> cache = TaskCache::Write(path, restored, 10);
  REQUIRE(cache.ok());
  REQUIRE(cache->Add("T", std::string_view("head-2")).ok());
  REQUIRE(cache->Commit(20).ok());
  const auto whole = std::filesystem::file_size(path);
  REQUIRE(cache->Add("T", std::string_view("head-3")).ok());
  REQUIRE(cache->Commit(30).ok());
  const auto longer = std::filesystem::file_size(path);

  SUBCASE("torn in the last frame") {
    std::filesystem::resize_file(path, longer - 3);
    Loaded l = Load(path);
    CHECK(l.end == 20);
    CHECK(l.image.at("T") == "head-2");
  }
  SUBCASE("a byte flipped in the second checkpoint") {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(whole + 14));
    f.put('Z');
    f.close();
    Loaded l = Load(path);
    CHECK(l.end == 20);
    CHECK(l.image.at("T") == "head-2");
  }
  SUBCASE("garbage appended") {
    std::ofstream(path, std::ios::app | std::ios::binary) << std::string("\xff\xff\xff\x7f junk");
    CHECK(Load(path).end == 30);
  }
  SUBCASE("zeros appended (a crashed machine's file)") {
    std::filesystem::resize_file(path, longer + 4096);
    CHECK(Load(path).end == 30);
  }
  SUBCASE("written whole again, it is equal and smaller") {
    ChangelogCollector image;
    int64_t records = 0;
    Result<std::optional<int64_t>> end = TaskCache::Load(path, image, records);
    REQUIRE(end.ok());
    REQUIRE(TaskCache::Write(path, image, **end).ok());
    CHECK(std::filesystem::file_size(path) < longer);
    Loaded l = Load(path);
    CHECK(l.end == 30);
    CHECK(l.image == std::map<std::string, std::string>{{"T", "head-3"}});
  }
}

}  // namespace
}  // namespace klaxon::service
