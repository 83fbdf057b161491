// The changelog records of a scale-out task (service/task_changelog.h): what a restore takes
// from the latest record of each key, and what it refuses.
#include "service/task_changelog.h"

#include <doctest/doctest.h>

namespace klaxon::service {
namespace {

TEST_CASE("changelog: a restore takes the latest head and the rows of its generation") {
  ChangelogCollector c;
  std::string v;
  EncodeEngineHead(1, "head-1", v);
  c.Add(EngineHeadKey("rule-a"), v);
  EncodeRow(1, 5, "group-0", v);
  c.Add(RowKey("rule-a", 0), v);
  EncodeRow(1, 6, "group-1", v);
  c.Add(RowKey("rule-a", 1), v);
  EncodeRow(1, 7, "group-2", v);
  c.Add(RowKey("rule-a", 2), v);
  // A full save (generation 2) lists the live groups again: slot 1 died before it.
  EncodeEngineHead(2, "head-2", v);
  c.Add(EngineHeadKey("rule-a"), v);
  EncodeRow(2, 8, "group-0'", v);
  c.Add(RowKey("rule-a", 0), v);
  EncodeRow(2, 9, "group-2'", v);
  c.Add(RowKey("rule-a", 2), v);
  // A slot emptied later: its tombstone.
  EncodeRow(2, 10, "group-3", v);
  c.Add(RowKey("rule-a", 3), v);
  c.Add(RowKey("rule-a", 3), std::nullopt);
  // Another rule, whose id shares a prefix.
  EncodeEngineHead(4, "head-b", v);
  c.Add(EngineHeadKey("rule-ab"), v);
  EncodeRow(4, 2, "b-7", v);
  c.Add(RowKey("rule-ab", 7), v);
  TaskHead head{.next_offset = 42, .advanced_to = 1000, .newest = 2000, .shuffle_time = "st"};
  EncodeTaskHead(head, v);
  c.Add(TaskHeadKey(), v);
  head.next_offset = 43;
  EncodeTaskHead(head, v);
  c.Add(TaskHeadKey(), v);

  std::optional<TaskHead> task;
  std::map<std::string, RestoredEngine> engines;
  REQUIRE(c.Finish(task, engines).ok());
  REQUIRE(task);
  CHECK(task->next_offset == 43);
  CHECK(task->advanced_to == 1000);
  CHECK(task->newest == 2000);
  CHECK(task->shuffle_time == "st");
  REQUIRE(engines.size() == 2);
  const RestoredEngine& a = engines.at("rule-a");
  CHECK(a.generation == 2);
  CHECK(a.head == "head-2");
  REQUIRE(a.rows.size() == 2);  // slot 1 (generation 1) and slot 3 (tombstone) are gone
  CHECK(a.rows[0].slot == 0);
  CHECK(a.rows[0].bytes == "group-0'");
  CHECK(a.rows[1].slot == 2);
  CHECK(a.rows[1].rank == 9);
  CHECK(a.last_rank == 9);
  const RestoredEngine& b = engines.at("rule-ab");
  REQUIRE(b.rows.size() == 1);
  CHECK(b.rows[0].slot == 7);
  CHECK(b.rows[0].bytes == "b-7");
}

TEST_CASE("changelog: a value larger than a message goes in chunks and comes back whole") {
  std::string head(2500, 'h');
  for (size_t i = 0; i < head.size(); ++i) head[i] = static_cast<char>('a' + i % 26);
  std::string v;
  EncodeEngineHead(3, head, v);
  std::vector<std::pair<std::string, std::string>> records;
  auto emit = [&](std::string_view key, std::string_view value) {
    records.emplace_back(key, value);
    return Status::Ok();
  };
  REQUIRE(EmitChangelogValue(EngineHeadKey("r"), v, 1000, emit).ok());
  REQUIRE(records.size() == 4);  // three chunks, then the manifest under the key
  CHECK(records.back().first == EngineHeadKey("r"));

  auto restore = [&](const std::vector<std::pair<std::string, std::string>>& recs) {
    ChangelogCollector c;
    // An older, smaller value under the same key comes first and is replaced.
    std::string small;
    EncodeEngineHead(1, "old", small);
    c.Add(EngineHeadKey("r"), small);
    for (const auto& [key, value] : recs) c.Add(key, value);
    std::optional<TaskHead> task;
    std::map<std::string, RestoredEngine> engines;
    Status st = c.Finish(task, engines);
    return std::make_pair(st, st.ok() ? std::string(engines.at("r").head) : std::string());
  };
  auto [ok, restored] = restore(records);
  REQUIRE_MESSAGE(ok.ok(), ok.message());
  CHECK(restored == head);

  auto missing = records;
  missing.erase(missing.begin() + 1);
  CHECK(restore(missing).first.message().find("a chunk is missing") != std::string::npos);
  auto altered = records;
  altered[1].second[10] ^= 1;
  CHECK(restore(altered).first.message().find("chunks do not match their manifest") !=
        std::string::npos);
  // A value that fits is written as it is.
  records.clear();
  REQUIRE(EmitChangelogValue("T", "abc", 1000, emit).ok());
  CHECK(records == std::vector<std::pair<std::string, std::string>>{{"T", "abc"}});
}

TEST_CASE("changelog: an empty partition restores nothing") {
  ChangelogCollector c;
  std::optional<TaskHead> task;
  std::map<std::string, RestoredEngine> engines;
  REQUIRE(c.Finish(task, engines).ok());
  CHECK(!task);
  CHECK(engines.empty());
}

TEST_CASE("changelog: malformed records are refused, naming the key") {
  auto refuse = [](std::string key, std::string value, std::string_view want) {
    ChangelogCollector c;
    c.Add(key, value);
    std::optional<TaskHead> task;
    std::map<std::string, RestoredEngine> engines;
    Status st = c.Finish(task, engines);
    CHECK(!st.ok());
    CHECK_MESSAGE(st.message().find(want) != std::string::npos, st.message());
  };
  std::string v;
  EncodeTaskHead({.next_offset = 1, .shuffle_time = ""}, v);
  refuse("T", v.substr(0, v.size() - 1), "truncated or corrupt task head");
  refuse("T", v + "x", "truncated or corrupt task head");
  std::string foreign = v;
  foreign[0] = 9;
  refuse("T", foreign, "written by another version of Klaxon (format 9, this version reads 1)");
  refuse("T", "", "empty");
  EncodeEngineHead(1, "h", v);
  refuse(EngineHeadKey("r"), v.substr(0, 3), "truncated or corrupt engine head");
  EncodeRow(1, 0, "bytes", v);
  refuse(RowKey("r", 1), v, "truncated or corrupt row");  // rank 0 is never written
  EncodeRow(1, 3, "", v);
  refuse(RowKey("r", 1), v, "truncated or corrupt row");  // empty groups are tombstones
  EncodeRow(1, 3, "g", v);
  refuse("R\xff", v, "malformed row key");
  refuse("Z", v, "unknown key");
}

}  // namespace
}  // namespace klaxon::service
