// PartitionTime: event time per input partition, the watermark they allow, and which
// partitions to pause so that none runs far ahead of the others.
//
// Kafka hands out a backlog one partition-sized chunk at a time, so the newest event time seen
// overall says little about the partitions not fetched yet. As in Flink (per-split watermarks,
// watermark alignment) and Kafka Streams (stream time per partition), each partition keeps its
// own event time, the newest it delivered, and the engine may evaluate up to the minimum of
// them. A partition that has delivered nothing yet holds time back.
//
// A partition read to its end (caught up) stops holding time back until its next record:
// at once when it never delivered anything, or when another partition is reading a backlog
// (Kafka Streams waits only for partitions with lag): it has records left to read (known lag)
// and its last one was written to Kafka at least kBacklogAgeMs before this end. Whatever the
// caught-up partition gets next is written after its end, so it is newer than the backlog
// being read (producers write in event-time order, within the allowed lateness). Otherwise,
// when every partition is caught up or reading what was written just now (live operation), only
// once it stayed caught up for `idle_after_ms` of wall-clock time: a producer writing a burst
// to several partitions fills them one after the other, and a partition read to its end a
// moment before its share arrived is not quiet yet (Flink's idleness timeout, Kafka Streams'
// max.task.idle.ms). A partition more than `max_ahead_ms` past the slowest partition still
// being read is to be paused, and resumed once within half of that, so a backlog is evaluated
// as if read in time order and the events held back stay bounded.
//
// Not thread-safe: the run loop owns it. Reads no clock: event times and the wall-clock time of
// idleness are passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace klaxon::service {

class PartitionTime {
 public:
  static constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
  // How much older than a partition's end (wall clock against Kafka's record timestamps) the
  // records another partition reads must be to count as a backlog: covers the time from a
  // partition's end in Kafka to the run loop seeing it, while a producer may write on, and the
  // producer's clock against this one.
  static constexpr int64_t kBacklogAgeMs = 2000;

  struct Key {
    uint32_t topic = 0;  // the caller's index of the topic name
    int32_t partition = -1;
    bool operator==(const Key&) const = default;
  };
  struct Partition {
    Key key;
    int64_t time = kNone;  // newest event time delivered; kNone before the first
    bool idle = false;     // caught up (and no longer waited for), no record since
    bool paused = false;
    int64_t caught_up_since = kNone;  // wall-clock ms of its end, while not idle yet
    int64_t end_offset = -1;          // the caller's position of its last end
    bool assigned = true;             // false: revoked; its time is kept for a reassignment
    int64_t held_since = kNone;  // wall-clock ms since it is revoked or unassigned, while it counts
    int64_t written_ms = kNone;  // Kafka timestamp of its last record, when it has one
    int64_t hold_ms = 0;         // how long after held_since it still counts
  };

  PartitionTime(int64_t max_ahead_ms, int64_t idle_after_ms)
      : max_ahead_ms_(max_ahead_ms), idle_after_ms_(idle_after_ms) {}

  // A partition read to its end becomes idle only once caught up for idle_after_ms, even when
  // it delivered nothing here yet or a backlog is read elsewhere. Scale-out's stage 1: a
  // partition this instance got in a rebalance delivered to the instance before it, and the
  // time it reached there holds stage 2 back until this instance finds it quiet; the other
  // partitions of the input are read by other instances, so none of them says a backlog is read.
  void WaitBeforeIdle() { wait_before_idle_ = true; }

  // A partition assigned again keeps the time it had: the caller goes on reading it where it
  // stopped (KafkaSourceOptions::resume_own_position), so its events continue from there. A
  // revoked one goes on holding time back for idle_after_ms: a rebalance revokes every
  // partition and assigns most of them back moments later, and time must not have passed them.
  void Assign(Key key);
  void Revoke(Key key, int64_t now_ms);
  // The time a partition had when a checkpoint was taken, before it is assigned again: a
  // restart goes on reading it where the checkpoint was, so its events continue from there.
  // Until it is assigned, it holds time back at that time for the unassigned hold (from
  // `now_ms`): a process killed with kill -9 stays a member of the consumer group until its
  // session times out, and a restart before then is assigned only part of the partitions; the
  // rest, owned by nobody alive, must not be overtaken (Flink's unassigned splits). `time` is
  // kNone for a partition of the topic that no checkpoint covers: it holds everything back.
  void Restore(Key key, int64_t time, int64_t now_ms);
  // How long a restored partition waits to be assigned (0: not at all). The caller derives it
  // from the consumer group's session timeout.
  void SetUnassignedHold(int64_t hold_ms) { unassigned_hold_ms_ = hold_ms; }
  // The caller reads the partition again from an earlier position (scale-out's stage 1 after
  // an aborted transaction): its time goes back to `time`, the newest event time before that
  // position (kNone: none known), and an assigned one is no longer caught up or idle.
  void Rewind(Key key, int64_t time);
  // The newest event time a partition may take: the wall clock plus the allowed lateness,
  // moved on by the run loop. An event stamped further ahead (accepted, within the engine's
  // future limit) is evaluated once the others' time reaches it, but does not drag its
  // partition's time ahead: that partition would otherwise be paused by alignment until the
  // clock caught up (measured: 20 minutes of one partition's events unread, then counted late,
  // for one event stamped 20 minutes ahead).
  void SetMaxTime(int64_t max_time_ms) { max_time_ms_ = max_time_ms; }
  // A record's event time. Records of a partition not assigned (revoked meanwhile) count for
  // nothing.
  void Observe(Key key, int64_t event_time_ms);
  // When the partition's last record was written (its Kafka timestamp).
  void Written(Key key, int64_t written_ms);
  // The partition is caught up at `now_ms` (wall clock) at the caller's `end_offset`.
  // `behind` tells whether a partition has records left to read (its known lag).
  void End(Key key, int64_t now_ms, int64_t end_offset, const std::function<bool(Key)>& behind);
  // Partitions caught up for idle_after_ms by `now_ms` become idle; they are appended to
  // `expired`. Revoked partitions stop holding time back after as long, restored ones never
  // assigned after the unassigned hold; both are appended too (with `assigned` false).
  void ExpireIdle(int64_t now_ms, std::vector<Partition>& expired);

  // The time the engine may evaluate up to: the minimum over partitions that are not idle;
  // kNone while one of them has delivered nothing yet. When every partition is idle, the
  // newest time of all (everything there is has been read).
  int64_t Watermark() const { return watermark_; }
  // No partition is assigned, or every one is idle.
  bool AllIdle() const { return active_ == 0; }
  size_t paused() const { return paused_; }
  // Whether ExpireIdle has anything to look at.
  bool HasCaughtUp() const { return waiting_ > 0; }
  // Assigned and revoked ones (Partition::assigned).
  const std::vector<Partition>& partitions() const { return partitions_; }

  // Partitions to pause and to resume now; they are recorded as such. Appends to both.
  void TakeAlignment(std::vector<Key>& pause, std::vector<Key>& resume);

 private:
  Partition* Find(Key key);  // assigned or not
  Partition* FindAssigned(Key key);
  void Recompute();
  // Another partition reads a backlog: see the class comment.
  bool BacklogElsewhere(Key key, int64_t now_ms, const std::function<bool(Key)>& behind) const;

  int64_t max_ahead_ms_;
  int64_t idle_after_ms_;
  bool wait_before_idle_ = false;
  int64_t unassigned_hold_ms_ = 0;
  int64_t max_time_ms_ = std::numeric_limits<int64_t>::max();
  std::vector<Partition> partitions_;
  size_t last_ = 0;  // index of the last partition found (records come in runs)
  // Derived by Recompute from partitions_ (a few dozen at most):
  size_t active_ = 0;          // partitions holding time back: assigned or lately revoked, not idle
  size_t paused_ = 0;          // partitions recorded as paused
  size_t waiting_ = 0;         // caught up, or revoked, and not expired yet
  int64_t watermark_ = kNone;  // see Watermark()
  int64_t slowest_ = kNone;    // minimum over active partitions that have a time
  int64_t reading_ = kNone;    // the same over those not caught up (alignment's reference)
};

}  // namespace klaxon::service
