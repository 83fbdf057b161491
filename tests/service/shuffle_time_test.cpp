// A stage-2 task's event time and de-duplication: the watermark is the minimum over every
// partition of the input topics (unreported ones hold time back, idle ones do not), re-sent
// records after a stage-1 failover are refused, and the state survives a checkpoint.
#include "service/shuffle_time.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace klaxon::service {
namespace {

constexpr int64_t kNone = ShuffleTime::kNone;

ShuffleSource Src(std::string_view topic, int32_t partition, int64_t offset, int64_t time) {
  return {.topic = topic, .partition = partition, .offset = offset, .partition_time_ms = time};
}
ShuffleMark MarkOf(std::string_view topic, int32_t partition, int64_t time, bool idle = false) {
  return {.source = Src(topic, partition, -1, time), .idle = idle};
}

TEST_CASE("every input partition holds time back until it is reported") {
  ShuffleTime t;
  CHECK(t.Watermark() == kNone);  // no inputs: nothing to go by
  t.SetInputs({{.name = "errors", .partitions = 3}});
  CHECK(t.unreported() == 3);
  CHECK(t.Accept(Src("errors", 0, 0, 100)));
  CHECK(t.Watermark() == kNone);
  t.Mark(MarkOf("errors", 1, 90));
  CHECK(t.Watermark() == kNone);
  CHECK(t.unreported() == 1);
  t.Mark(MarkOf("errors", 2, 95));
  CHECK(t.unreported() == 0);
  CHECK(t.Watermark() == 90);
  CHECK(t.Accept(Src("errors", 1, 0, 120)));
  CHECK(t.Watermark() == 95);
  t.Mark(MarkOf("errors", 2, 130));
  CHECK(t.Watermark() == 100);
  // A partition reported without a time yet (its owner has read nothing) holds time back too.
  t.SetInputs({{.name = "errors", .partitions = 3}, {.name = "crashes", .partitions = 1}});
  CHECK(t.Watermark() == kNone);
  t.Mark(MarkOf("crashes", 0, kNone));
  CHECK(t.Watermark() == kNone);
  t.Mark(MarkOf("crashes", 0, 105));
  CHECK(t.Watermark() == 100);
}

TEST_CASE("idle partitions hold nothing back until they report a record") {
  ShuffleTime t;
  t.SetInputs({{.name = "errors", .partitions = 3}});
  CHECK(t.Accept(Src("errors", 0, 7, 100)));
  t.Mark(MarkOf("errors", 1, 50, /*idle=*/true));
  t.Mark(MarkOf("errors", 2, kNone, /*idle=*/true));  // empty and idle: nothing to wait for
  CHECK(t.Watermark() == 100);
  CHECK(t.Accept(Src("errors", 1, 3, 60)));  // a record: partition 1 counts again
  CHECK(t.Watermark() == 60);
  CHECK(t.Find("errors", 1)->idle == false);
  t.Mark(MarkOf("errors", 1, 60, /*idle=*/true));
  t.Mark(MarkOf("errors", 0, 100, /*idle=*/true));
  CHECK(t.Watermark() == 100);  // every partition idle: the newest time of all
  t.Mark(MarkOf("errors", 0, 140, /*idle=*/true));
  CHECK(t.Watermark() == 140);
  t.Mark(MarkOf("errors", 1, 150, /*idle=*/true));  // not the newest before, the newest now
  CHECK(t.Watermark() == 150);
  t.Mark(MarkOf("errors", 2, 80, /*idle=*/false));  // a mark that is not idle counts again
  CHECK(t.Watermark() == 80);
}

TEST_CASE("a re-sent record is refused; each input partition on its own") {
  ShuffleTime t;
  t.SetInputs({{.name = "errors", .partitions = 2}, {.name = "crashes", .partitions = 2}});
  CHECK(t.Accept(Src("errors", 0, 10, 100)));
  CHECK_FALSE(t.Accept(Src("errors", 0, 10, 100)));
  CHECK_FALSE(t.Accept(Src("errors", 0, 4, 90)));
  CHECK(t.Accept(Src("errors", 0, 11, 101)));
  CHECK(t.Accept(Src("errors", 1, 10, 100)));   // same offset, other partition
  CHECK(t.Accept(Src("crashes", 0, 10, 100)));  // same partition number, other topic
  CHECK(t.Accept(Src("errors", 0, 0 + 12, 101)));
  CHECK(t.Find("errors", 0)->highest_offset == 12);
  // Offset 0 is a real offset: the first record of a partition is accepted.
  CHECK(t.Accept(Src("crashes", 1, 0, 100)));
  CHECK_FALSE(t.Accept(Src("crashes", 1, 0, 100)));
  // Marks never make a record a duplicate.
  t.Mark({.source = Src("crashes", 1, 50, 100), .idle = false});
  CHECK(t.Accept(Src("crashes", 1, 1, 100)));
}

TEST_CASE("an event of several rules: one record per rule at one offset, each accepted once") {
  ShuffleTime t;
  t.SetInputs({{.name = "errors", .partitions = 1}});
  // Stage 1 sends an event's records in rule order (rules 1 and 3 here).
  CHECK(t.Accept(Src("errors", 0, 10, 100), 1));
  CHECK(t.Accept(Src("errors", 0, 10, 100), 3));
  CHECK(t.Find("errors", 0)->highest_rule == 3);
  // A stage-1 failover sends them again: both refused, and so is rule 2 (in order it would have
  // come before rule 3).
  CHECK_FALSE(t.Accept(Src("errors", 0, 10, 100), 1));
  CHECK_FALSE(t.Accept(Src("errors", 0, 10, 100), 2));
  CHECK_FALSE(t.Accept(Src("errors", 0, 10, 100), 3));
  // The first owner died after rule 1's record of offset 11: rule 3's, sent by the new owner,
  // was never evaluated.
  CHECK(t.Accept(Src("errors", 0, 11, 100), 1));
  CHECK_FALSE(t.Accept(Src("errors", 0, 11, 100), 1));
  CHECK(t.Accept(Src("errors", 0, 11, 100), 3));
  // The next offset starts again at any rule.
  CHECK(t.Accept(Src("errors", 0, 12, 100), 0));
  // Saved and restored with the state.
  std::string saved;
  t.SaveState(saved);
  ShuffleTime restored;
  REQUIRE(restored.RestoreState(saved).ok());
  CHECK_FALSE(restored.Accept(Src("errors", 0, 12, 100), 0));
  CHECK(restored.Accept(Src("errors", 0, 12, 100), 1));
}

TEST_CASE("reported time never moves back") {
  ShuffleTime t;
  t.SetInputs({{.name = "errors", .partitions = 1}});
  CHECK(t.Accept(Src("errors", 0, 5, 100)));
  t.Mark(MarkOf("errors", 0, 40));
  CHECK(t.Find("errors", 0)->time == 100);
  CHECK(t.Accept(Src("errors", 0, 6, 70)));  // an older event later in the partition
  CHECK(t.Find("errors", 0)->time == 100);
  CHECK(t.Watermark() == 100);
}

TEST_CASE("failover: an unowned partition holds time back and re-sends are dropped") {
  // Two input partitions; stage-1 instance A owns both, then dies. Its last input commit was
  // before offset 10 of partition 0 (it had sent up to 11) and before offset 5 of partition 1.
  ShuffleTime t;
  t.SetInputs({{.name = "errors", .partitions = 2}});
  std::vector<int64_t> accepted;  // input offsets of partition 0 evaluated, in order
  const auto record = [&](int32_t partition, int64_t offset, int64_t time) {
    const bool ok = t.Accept(Src("errors", partition, offset, time));
    if (ok && partition == 0) accepted.push_back(offset);
    return ok;
  };
  CHECK(record(0, 10, 100));
  CHECK(record(0, 11, 110));
  CHECK(record(1, 5, 90));
  t.Mark(MarkOf("errors", 1, 95));
  CHECK(t.Watermark() == 95);

  // A is gone. Instance B is assigned partition 0 first and reads it again from offset 10.
  // Partition 1 is owned by nobody: nothing reports it, so time waits for it.
  CHECK_FALSE(record(0, 10, 100));
  t.Mark(MarkOf("errors", 0, 100));  // B's own view of partition 0's time is behind A's
  CHECK_FALSE(record(0, 11, 110));
  CHECK(record(0, 12, 120));
  CHECK(record(0, 13, 160));
  t.Mark(MarkOf("errors", 0, 200, /*idle=*/false));
  CHECK(t.Watermark() == 95);  // partition 1 (unowned) holds it

  // C is assigned partition 1 and reads it again from offset 5, the last commit.
  t.Mark(MarkOf("errors", 1, 80));  // older than A's report: changes nothing
  CHECK(t.Watermark() == 95);
  CHECK_FALSE(t.Accept(Src("errors", 1, 5, 90)));
  CHECK(t.Accept(Src("errors", 1, 6, 150)));
  CHECK(t.Watermark() == 150);
  t.Mark(MarkOf("errors", 1, 150, /*idle=*/true));
  CHECK(t.Watermark() == 200);

  // Every record of partition 0 was evaluated once, in order.
  CHECK(accepted == std::vector<int64_t>{10, 11, 12, 13});
}

TEST_CASE("the input partitions follow the topics' metadata") {
  ShuffleTime t;
  t.SetInputs({{.name = "errors", .partitions = 2}});
  t.Mark(MarkOf("errors", 0, 100));
  t.Mark(MarkOf("errors", 1, 120));
  CHECK(t.Watermark() == 100);
  // A partition added to the topic holds time back until reported; reports are kept.
  t.SetInputs({{.name = "errors", .partitions = 3}});
  CHECK(t.Watermark() == kNone);
  CHECK(t.Find("errors", 0)->time == 100);
  t.Mark(MarkOf("errors", 2, 130));
  CHECK(t.Watermark() == 100);
  // A record of a partition the metadata did not list yet adds it and those below it.
  CHECK(t.Accept(Src("errors", 4, 0, 140)));
  CHECK(t.Find("errors", 3).has_value());
  CHECK(t.unreported() == 1);
  CHECK(t.Watermark() == kNone);
  // A topic no longer listed is forgotten.
  t.SetInputs({{.name = "crashes", .partitions = 1}});
  CHECK_FALSE(t.Find("errors", 0).has_value());
  t.Mark(MarkOf("crashes", 0, 10));
  CHECK(t.Watermark() == 10);
  CHECK_FALSE(t.Accept(Src("crashes", -1, 0, 10)));  // no such partition
}

// The watermark from the partitions' state, computed the slow way.
int64_t SlowWatermark(const ShuffleTime& t, const std::vector<std::string>& topics, int n,
                      int* all_idle_steps) {
  int64_t lowest = INT64_MAX;
  int64_t newest = kNone;
  bool all_idle = true;
  for (const auto& topic : topics) {
    for (int32_t i = 0; i < n; ++i) {
      const auto p = t.Find(topic, i);
      REQUIRE(p.has_value());
      if (!p->reported) return kNone;
      newest = std::max(newest, p->time);
      if (p->idle) continue;
      all_idle = false;
      if (p->time == kNone) return kNone;
      lowest = std::min(lowest, p->time);
    }
  }
  if (all_idle) ++*all_idle_steps;
  return all_idle ? newest : lowest;
}

TEST_CASE("the watermark equals the minimum over partitions after every report") {
  const std::vector<std::string> topics = {"a", "b", "c"};
  constexpr int kPartitions = 4;
  // Mostly records (idle partitions are rare), then mostly idle marks (all idle often).
  struct Mix {
    int marks_in_16;  // the share of reports that are marks
    int idle_in_16;   // the share of marks that say idle
  };
  for (const Mix mix : {Mix{4, 8}, Mix{14, 15}}) {
    ShuffleTime t;
    t.SetInputs({{.name = "a", .partitions = kPartitions},
                 {.name = "b", .partitions = kPartitions},
                 {.name = "c", .partitions = kPartitions}});
    uint64_t seed = 12345;
    const auto next = [&](uint64_t bound) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      return (seed >> 33) % bound;
    };
    int64_t offsets[3][kPartitions] = {};
    int all_idle_steps = 0;
    for (int step = 0; step < 5000; ++step) {
      const size_t topic = next(3);
      const auto partition = static_cast<int32_t>(next(kPartitions));
      const int64_t time = static_cast<int64_t>(next(1000)) + step / 5;
      if (static_cast<int>(next(16)) < mix.marks_in_16) {
        t.Mark(MarkOf(topics[topic], partition, time, static_cast<int>(next(16)) < mix.idle_in_16));
      } else {
        const int64_t offset = offsets[topic][partition] + static_cast<int64_t>(next(3)) - 1;
        if (t.Accept(Src(topics[topic], partition, offset, time))) {
          offsets[topic][partition] = offset;
        }
      }
      REQUIRE(t.Watermark() == SlowWatermark(t, topics, kPartitions, &all_idle_steps));
    }
    if (mix.marks_in_16 == 14) CHECK(all_idle_steps > 100);
  }
}

TEST_CASE("the state survives a checkpoint, and a broken one is refused") {
  const auto feed_first = [](ShuffleTime& t) {
    t.SetInputs({{.name = "errors", .partitions = 3}, {.name = "crashes", .partitions = 1}});
    CHECK(t.Accept(Src("errors", 0, 10, 100)));
    CHECK(t.Accept(Src("errors", 1, 3, 80)));
    t.Mark(MarkOf("errors", 2, 90, /*idle=*/true));
    // crashes/0 unreported
  };
  const auto feed_rest = [](ShuffleTime& t, std::vector<int>& out) {
    out.push_back(t.Accept(Src("errors", 0, 10, 100)));
    out.push_back(t.Accept(Src("errors", 1, 4, 85)));
    t.Mark(MarkOf("crashes", 0, 120));
    out.push_back(static_cast<int>(t.Watermark()));
    out.push_back(t.Accept(Src("errors", 2, 0, 95)));
    out.push_back(static_cast<int>(t.Watermark()));
  };
  ShuffleTime whole;
  feed_first(whole);
  std::string saved;
  whole.SaveState(saved);
  std::vector<int> uninterrupted;
  feed_rest(whole, uninterrupted);

  ShuffleTime restored;
  Status s = restored.RestoreState(saved);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(restored.Watermark() == kNone);  // crashes/0 still unreported
  CHECK(restored.Find("errors", 2)->idle);
  restored.SetInputs({{.name = "errors", .partitions = 3}, {.name = "crashes", .partitions = 1}});
  std::vector<int> after_restore;
  feed_rest(restored, after_restore);
  CHECK(after_restore == uninterrupted);
  CHECK(uninterrupted == std::vector<int>{0, 1, 85, 1, 85});
  std::string again;
  restored.SaveState(again);
  std::string expected;
  whole.SaveState(expected);
  CHECK(again == expected);

  SUBCASE("every truncation, extra bytes, another version, unknown flags") {
    for (size_t n = 0; n < saved.size(); ++n) {
      ShuffleTime t;
      const std::vector<char> cut(saved.begin(), saved.begin() + static_cast<ptrdiff_t>(n));
      const Status bad = t.RestoreState(std::string_view(cut.data(), cut.size()));
      CHECK(bad.code() == StatusCode::kInvalidArgument);
      CHECK_FALSE(t.Find("errors", 0).has_value());  // stays empty
    }
    ShuffleTime t;
    CHECK(t.RestoreState(saved + "x").message() == "shuffle time state: truncated or corrupt (" +
                                                       std::to_string(saved.size() + 1) +
                                                       " bytes)");
    std::string other = saved;
    other[0] = 9;
    CHECK(t.RestoreState(other).message() ==
          "shuffle time state: version 9; this Klaxon reads version 2");
    other = saved;
    other.back() = 0x40;  // crashes/0's flags
    CHECK(t.RestoreState(other).code() == StatusCode::kInvalidArgument);
    // A partition count larger than the bytes could hold sizes nothing.
    std::string huge;
    huge += '\x02';
    huge += std::string("\x01\x00\x00\x00", 4);        // one topic
    huge += std::string("\x01\x00\x00\x00", 4) + "e";  // named "e"
    huge += std::string("\xff\xff\xff\xff", 4);        // 4 billion partitions
    CHECK(t.RestoreState(huge).code() == StatusCode::kInvalidArgument);
    CHECK(t.RestoreState(saved).ok());
    CHECK(t.RestoreState(saved).code() == StatusCode::kFailedPrecondition);
  }
}

}  // namespace
}  // namespace klaxon::service
