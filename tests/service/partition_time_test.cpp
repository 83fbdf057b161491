// Event time per partition: the watermark is the minimum over partitions that are not idle, a
// partition without a record yet holds it back, and alignment pauses the ones far ahead.
#include "service/partition_time.h"

#include <doctest/doctest.h>

#include <functional>
#include <vector>

namespace klaxon::service {
namespace {

using Key = PartitionTime::Key;
constexpr int64_t kNone = PartitionTime::kNone;
// Which partitions have records left to read (KafkaSource::Behind): none, or every one.
const std::function<bool(Key)> kNoLag = [](Key) { return false; };
const std::function<bool(Key)> kAllLag = [](Key) { return true; };

TEST_CASE("partition time: the slowest partition sets the watermark") {
  PartitionTime t(10'000, 1'000);
  t.Assign({0, 0});
  t.Assign({0, 1});
  CHECK(t.Watermark() == kNone);  // nothing from either yet
  t.Observe({0, 0}, 5'000);
  CHECK(t.Watermark() == kNone);  // partition 1 may still hold older events
  t.Observe({0, 1}, 2'000);
  CHECK(t.Watermark() == 2'000);
  t.Observe({0, 0}, 9'000);
  CHECK(t.Watermark() == 2'000);
  t.Observe({0, 1}, 3'000);
  CHECK(t.Watermark() == 3'000);
  t.Observe({0, 1}, 1'000);  // out of order within the partition: its time stays
  CHECK(t.Watermark() == 3'000);
  t.Observe({0, 1}, 20'000);
  CHECK(t.Watermark() == 9'000);
}

TEST_CASE(
    "partition time: a caught-up partition turns idle after the timeout, until its next record") {
  PartitionTime t(10'000, 1'000);
  std::vector<PartitionTime::Partition> expired;
  t.Assign({0, 0});
  t.Assign({0, 1});
  t.End({0, 1}, /*now_ms=*/100, /*end_offset=*/0,
        kNoLag);  // empty: idle at once
  CHECK(t.Watermark() == kNone);
  t.Observe({0, 0}, 7'000);
  CHECK(t.Watermark() == 7'000);
  t.Observe({0, 1}, 4'000);  // active again, and slower
  CHECK(t.Watermark() == 4'000);
  t.End({0, 1}, 1'000, 5, kNoLag);  // caught up, but its share of a burst may still be on its way
  t.ExpireIdle(1'999, expired);
  CHECK(expired.empty());
  CHECK(t.Watermark() == 4'000);
  t.Observe({0, 1}, 4'500);  // it was: the clock starts again at its next end
  t.End({0, 1}, 1'500, 6, kNoLag);
  t.ExpireIdle(2'400, expired);
  CHECK(expired.empty());
  t.ExpireIdle(2'500, expired);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].key == Key{0, 1});
  CHECK(expired[0].end_offset == 6);
  CHECK(t.Watermark() == 7'000);
  CHECK_FALSE(t.AllIdle());
  t.End({0, 0}, 3'000, 9, kNoLag);
  CHECK_FALSE(t.AllIdle());
  t.ExpireIdle(4'000, expired);
  CHECK(t.AllIdle());
  CHECK(t.Watermark() == 7'000);  // everything read: the newest time of all
}

TEST_CASE("partition time: a rewound partition goes back to the time before its position") {
  // Scale-out's stage 1 with exactly_once: an aborted transaction's input is read again, and the
  // time it reports must not run ahead of the events it sends again.
  PartitionTime t(100'000, 1'000);
  t.Assign({0, 0});
  t.Assign({0, 1});
  t.Observe({0, 0}, 5'000);
  t.Observe({0, 1}, 6'000);
  t.End({0, 1}, 0, 10, kNoLag);
  std::vector<PartitionTime::Partition> expired;
  t.ExpireIdle(1'000, expired);
  REQUIRE(t.partitions()[1].idle);
  CHECK(t.Watermark() == 5'000);
  t.Observe({0, 0}, 9'000);
  CHECK(t.Watermark() == 9'000);  // every other partition is idle
  t.Rewind({0, 0}, 5'000);
  CHECK(t.partitions()[0].time == 5'000);
  CHECK(t.Watermark() == 5'000);
  t.Rewind({0, 1}, 4'000);  // read again: no longer idle, it holds time back
  CHECK_FALSE(t.partitions()[1].idle);
  CHECK(t.Watermark() == 4'000);
  t.Rewind({0, 1}, kNone);  // nothing of it committed yet: it holds everything back
  CHECK(t.Watermark() == kNone);
  t.Revoke({0, 0}, 2'000);
  t.Rewind({0, 0}, 3'000);  // a revoked one keeps the time for a reassignment
  CHECK(t.partitions()[0].time == 3'000);
  CHECK_FALSE(t.partitions()[0].assigned);
  t.Rewind({0, 9}, 1'000);  // unknown: nothing happens
  CHECK(t.partitions().size() == 2);
}

TEST_CASE("partition time: a revoked partition holds time until it expires or comes back") {
  PartitionTime t(10'000, 1'000);
  std::vector<PartitionTime::Partition> expired;
  t.Assign({0, 0});
  t.Assign({1, 0});
  t.Observe({0, 0}, 8'000);
  t.Observe({1, 0}, 3'000);
  CHECK(t.Watermark() == 3'000);
  // A rebalance revokes it: for a moment it still holds time back, it may well come back.
  t.Revoke({1, 0}, /*now_ms=*/10'000);
  CHECK(t.Watermark() == 3'000);
  t.Observe({1, 0}, 1'000);          // a record of a revoked partition counts for nothing
  t.End({1, 0}, 10'100, 5, kNoLag);  // nor does its end
  CHECK(t.Watermark() == 3'000);
  // Given back: it goes on where it stopped, from the time it had.
  t.Assign({1, 0});
  CHECK(t.Watermark() == 3'000);
  t.End({1, 0}, 10'200, 5, kNoLag);
  CHECK(t.Watermark() == 3'000);  // caught up, but not idle before the timeout
  t.Observe({1, 0}, 6'000);
  CHECK(t.Watermark() == 6'000);
  // Revoked for good: once the timeout passed, it no longer holds time back.
  t.Revoke({1, 0}, 20'000);
  CHECK(t.Watermark() == 6'000);
  t.ExpireIdle(20'999, expired);
  CHECK(t.Watermark() == 6'000);
  t.ExpireIdle(21'000, expired);
  CHECK(t.Watermark() == 8'000);
  REQUIRE(expired.size() == 1);  // said, so that the run loop can log it
  CHECK(expired[0].key == Key{1, 0});
  CHECK_FALSE(expired[0].assigned);
  CHECK_FALSE(t.HasCaughtUp());
  CHECK(t.partitions().size() == 2);
}

TEST_CASE("partition time: a restored partition assigned to no one holds time for the hold") {
  // A restart after kill -9, before the killed process's session expired: the checkpoint
  // covered four partitions, the group assigns this process two of them.
  PartitionTime t(10'000, 1'000);
  t.SetUnassignedHold(50'000);
  std::vector<PartitionTime::Partition> expired;
  for (int32_t p = 0; p < 4; ++p) t.Restore({0, p}, 3'000 + p * 100, /*now_ms=*/0);
  CHECK(t.Watermark() == 3'000);
  CHECK_FALSE(t.AllIdle());  // the wall clock must not move time on while nobody reads them
  t.Assign({0, 2});
  t.Assign({0, 3});
  t.Observe({0, 2}, 60'000);
  t.Observe({0, 3}, 60'000);
  CHECK(t.Watermark() == 3'000);  // partitions 0 and 1 are still owned by the dead process
  t.ExpireIdle(49'999, expired);
  CHECK(expired.empty());
  CHECK(t.Watermark() == 3'000);
  // Its session expired, the group assigns them here: they go on from their checkpoint times.
  t.Assign({0, 0});
  t.ExpireIdle(50'000, expired);
  CHECK(expired.size() == 1);  // partition 1 was not assigned within the hold
  CHECK(expired[0].key == Key{0, 1});
  CHECK(t.Watermark() == 3'000);  // partition 0 is read again, from its checkpoint time
  t.Observe({0, 0}, 61'000);
  CHECK(t.Watermark() == 60'000);
}

TEST_CASE("partition time: without an unassigned hold a restored partition holds nothing") {
  PartitionTime t(10'000, 1'000);
  t.Restore({0, 0}, 3'000, 0);
  t.Assign({0, 1});
  t.Observe({0, 1}, 9'000);
  CHECK(t.Watermark() == 9'000);
  t.Assign({0, 0});  // until it is assigned again and holds from its checkpoint time
  CHECK(t.Watermark() == 3'000);
}

TEST_CASE("partition time: a partition far ahead is paused, and resumed within half the bound") {
  PartitionTime t(10'000, 1'000);
  t.Assign({0, 0});
  t.Assign({0, 1});
  t.Observe({0, 0}, 0);
  t.Observe({0, 1}, 0);
  std::vector<Key> pause, resume;
  t.Observe({0, 0}, 10'000);  // exactly the bound: not past it
  t.TakeAlignment(pause, resume);
  CHECK(pause.empty());
  t.Observe({0, 0}, 10'001);
  t.TakeAlignment(pause, resume);
  REQUIRE(pause.size() == 1);
  CHECK(pause[0] == Key{0, 0});
  CHECK(t.paused() == 1);
  pause.clear();
  t.TakeAlignment(pause, resume);  // asked once only
  CHECK(pause.empty());
  t.Observe({0, 1}, 4'000);  // 6,001 behind: more than half the bound
  t.TakeAlignment(pause, resume);
  CHECK(resume.empty());
  t.Observe({0, 1}, 5'001);  // within 5,000
  t.TakeAlignment(pause, resume);
  REQUIRE(resume.size() == 1);
  CHECK(resume[0] == Key{0, 0});
  CHECK(t.paused() == 0);
}

TEST_CASE("partition time: a paused partition resumes when the slower ones are caught up") {
  PartitionTime t(10'000, 1'000);
  t.Assign({0, 0});
  t.Assign({0, 1});
  t.Observe({0, 0}, 0);
  t.Observe({0, 1}, 60'000);
  std::vector<Key> pause, resume;
  t.TakeAlignment(pause, resume);
  REQUIRE(pause.size() == 1);
  CHECK(pause[0] == Key{0, 1});
  std::vector<PartitionTime::Partition> expired;
  t.End({0, 0}, 0, 1, kNoLag);  // nothing more in the slow one: the paused one is now the slowest
  t.ExpireIdle(1'000, expired);
  t.TakeAlignment(pause, resume);
  REQUIRE(resume.size() == 1);
  CHECK(resume[0] == Key{0, 1});
  CHECK(t.Watermark() == 60'000);
}

TEST_CASE("partition time: a revoked paused partition is no longer counted as paused") {
  PartitionTime t(1'000, 1'000);
  t.Assign({0, 0});
  t.Assign({0, 1});
  t.Observe({0, 0}, 0);
  t.Observe({0, 1}, 5'000);
  std::vector<Key> pause, resume;
  t.TakeAlignment(pause, resume);
  CHECK(t.paused() == 1);
  t.Revoke({0, 1}, 0);
  CHECK(t.paused() == 0);
  t.TakeAlignment(pause, resume);
  CHECK(resume.empty());  // not assigned: nothing to resume
  t.Assign({0, 1});
  CHECK(t.paused() == 0);  // assigned again unpaused (the source resumes it), and so ahead:
  pause.clear();
  t.TakeAlignment(pause, resume);
  CHECK(pause.size() == 1);
}

TEST_CASE("partition time: caught up while another partition reads a backlog, it stops at once") {
  PartitionTime t(1'000, 1'000);
  for (int32_t p = 0; p < 3; ++p) t.Assign({0, p});
  t.Observe({0, 0}, 0);
  t.Observe({0, 1}, 60'000);
  t.Observe({0, 2}, 60'400);
  // Their records were written to Kafka long before (a backlog after downtime).
  for (int32_t p = 0; p < 3; ++p) t.Written({0, p}, 1'000'000);
  std::vector<Key> pause, resume;
  t.TakeAlignment(pause, resume);
  CHECK(pause.size() == 2);  // both far ahead of the slowest, which is being read
  const int64_t now = 1'000'000 + PartitionTime::kBacklogAgeMs;
  // The slowest is read to its end while the paused ones have records left that were written
  // before: what it gets next is written after those, so it holds nothing back, at once.
  t.End({0, 0}, now, /*end_offset=*/1, kAllLag);
  CHECK(t.Watermark() == 60'000);
  CHECK_FALSE(t.HasCaughtUp());  // nothing to wait out
  t.TakeAlignment(pause, resume);
  CHECK(resume.size() == 2);  // measured from partition 1 now: both within the bound
  CHECK(t.paused() == 0);
  // A record brings it back: it holds time at its own again.
  t.Observe({0, 0}, 70'000);
  CHECK(t.Watermark() == 60'000);
  t.Observe({0, 1}, 80'000);
  t.Observe({0, 2}, 80'000);
  CHECK(t.Watermark() == 70'000);
  // Caught up again, the others' records just written (live: a burst may be under way), or
  // none left to read: it waits out the timeout.
  t.Written({0, 1}, now + 4'000);
  t.End({0, 0}, now + 5'000, 2, [](Key k) { return k == Key{0, 1}; });
  CHECK(t.Watermark() == 70'000);
  CHECK(t.HasCaughtUp());
  t.Observe({0, 0}, 70'000);
  t.End({0, 0}, now + 5'000, 2, [](Key k) { return k == Key{0, 0}; });  // 2 has no lag
  CHECK(t.HasCaughtUp());
  std::vector<PartitionTime::Partition> expired;
  t.ExpireIdle(now + 5'999, expired);
  CHECK(t.Watermark() == 70'000);
  t.ExpireIdle(now + 6'000, expired);
  REQUIRE(expired.size() == 1);
  CHECK(t.Watermark() == 80'000);
}

TEST_CASE("partition time: waiting before idle, no end makes a partition idle before the timeout") {
  // Scale-out's stage 1: a partition got in a rebalance delivered to another instance before.
  PartitionTime t(1'000, 1'000);
  t.WaitBeforeIdle();
  for (int32_t p = 0; p < 2; ++p) t.Assign({0, p});
  t.Observe({0, 1}, 0);
  for (int32_t p = 0; p < 2; ++p) t.Written({0, p}, 1'000'000);
  const int64_t now = 1'000'000 + PartitionTime::kBacklogAgeMs;
  // Partition 0 delivered nothing here, and partition 1 reads a backlog: still not idle.
  t.End({0, 0}, now, /*end_offset=*/0, kAllLag);
  CHECK(t.HasCaughtUp());
  CHECK(t.Watermark() == kNone);
  std::vector<PartitionTime::Partition> expired;
  t.ExpireIdle(now + 999, expired);
  CHECK(expired.empty());
  CHECK(t.Watermark() == kNone);
  t.ExpireIdle(now + 1'000, expired);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].key == Key{0, 0});
  CHECK(t.Watermark() == 0);
}

TEST_CASE("partition time: a backlog is read by a partition that is not at its own end") {
  PartitionTime t(10'000, 1'000);
  t.Assign({0, 0});
  t.Assign({0, 1});
  t.Observe({0, 0}, 1'000);
  t.Observe({0, 1}, 3'000);
  t.Written({0, 0}, 0);
  t.Written({0, 1}, 0);
  t.End({0, 1}, 100'000, 4, kNoLag);  // waiting
  // Partition 1 is waiting at its end, not reading a backlog: partition 0 waits too.
  t.End({0, 0}, 100'000, 2, kAllLag);
  CHECK(t.Watermark() == 1'000);
  CHECK(t.HasCaughtUp());
}

TEST_CASE("partition time: when every partition is caught up, each waits out the timeout") {
  PartitionTime t(10'000, 1'000);
  t.Assign({0, 0});
  t.Assign({0, 1});
  t.Observe({0, 0}, 1'000);
  t.Observe({0, 1}, 3'000);
  t.End({0, 1}, 100, 4, kNoLag);
  t.End({0, 0}, 200, 2, kNoLag);
  std::vector<PartitionTime::Partition> expired;
  t.ExpireIdle(1'099, expired);
  CHECK(t.Watermark() == 1'000);  // both still held back: a burst may be on its way
  t.ExpireIdle(1'100, expired);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].key == Key{0, 1});
  CHECK(t.Watermark() == 1'000);
  t.Observe({0, 0}, 1'500);  // its share arrived within the timeout: it was not quiet
  CHECK(t.Watermark() == 1'500);
  t.ExpireIdle(5'000, expired);
  CHECK(expired.size() == 1);  // being read again: not expired
  CHECK_FALSE(t.AllIdle());
}

TEST_CASE("partition time: a caught-up partition found ahead of the one being read is paused") {
  std::vector<Key> pause, resume;
  PartitionTime u(1'000, 1'000);
  u.Assign({0, 0});
  u.Assign({0, 1});
  u.Observe({0, 1}, 10'000);
  u.Observe({0, 0}, 50'000);
  u.End({0, 0}, 0, 7, kNoLag);  // waits out its timeout (live: nobody else has a backlog)
  u.TakeAlignment(pause, resume);
  // Its next record, written after its end, must not overtake partition 1 either.
  REQUIRE(pause.size() == 1);
  CHECK(pause[0] == Key{0, 0});
  u.Observe({0, 1}, 49'600);  // within half the bound of it
  u.TakeAlignment(pause, resume);
  REQUIRE(resume.size() == 1);
  CHECK(resume[0] == Key{0, 0});
}

TEST_CASE("partition time: far-future times saturate instead of overflowing") {
  PartitionTime t(std::numeric_limits<int64_t>::max(), 1'000);
  t.Assign({0, 0});
  t.Assign({0, 1});
  t.Observe({0, 0}, std::numeric_limits<int64_t>::max() - 1);
  t.Observe({0, 1}, 1);
  std::vector<Key> pause, resume;
  t.TakeAlignment(pause, resume);
  CHECK(pause.empty());
  CHECK(t.Watermark() == 1);
}

TEST_CASE("partition time: an event stamped ahead of the clock does not drag its partition") {
  // The clock is at 100 s, the allowed lateness 5 s: one event stamped 20 minutes ahead must
  // neither pause its partition (the others would need 20 minutes to catch up) nor move the
  // watermark past what the clock allows.
  PartitionTime t(20'000, 1'000);
  t.SetMaxTime(105'000);
  std::vector<Key> pause, resume;
  t.Assign({0, 0});
  t.Assign({0, 1});
  t.Observe({0, 0}, 99'000);
  t.Observe({0, 1}, 99'500);
  t.Observe({0, 1}, 1'300'000);
  CHECK(t.partitions()[1].time == 105'000);
  t.TakeAlignment(pause, resume);
  CHECK(pause.empty());
  t.Observe({0, 0}, 104'000);
  CHECK(t.Watermark() == 104'000);
  // The clock moves on: so may the partitions, with their own events.
  t.SetMaxTime(125'000);
  t.Observe({0, 1}, 120'000);
  t.Observe({0, 0}, 121'000);
  CHECK(t.Watermark() == 120'000);
}

}  // namespace
}  // namespace klaxon::service
