// ShuffleTime: event time and de-duplication for one stage-2 task, i.e. one partition of the
// repartition topic (docs/scale_out.md).
//
// The events of one input partition are spread over every repartition partition, and an input
// partition whose events match no rule sends no record at all, so a task cannot take event
// time from the records it receives. Stage 1 reports each input partition's event time in
// records and in watermark marks (service/shuffle_record.h); a task keeps, per partition of the
// input topics, the newest time reported, and its watermark is the minimum over ALL of those
// partitions, as many as the topics' metadata says there are, not only those some instance has
// reported: a partition owned by nobody for the moment (its instance died, the group has not
// reassigned it yet) holds time back until its new owner reports it. An idle partition (caught
// up and quiet, as its owner's PartitionTime decides) holds nothing back until it reports a
// record again; when every partition is idle the newest time of all is the watermark.
//
// A stage-1 failover re-sends what was read after the last input commit. Per input partition a
// task keeps the highest input offset it accepted and the rule of the last record accepted at
// it (an event of several rules is several records with one offset, sent in rule order); a
// record at or below that (offset, rule) is a re-send and is refused. That is exact because one
// owner reads a partition in offset order and its producer keeps that order per repartition
// partition (see docs/scale_out.md for what a still-running former owner can do without
// transactions).
//
// Reported times never move back: a new owner re-reading from an older commit reports older
// times, which change nothing. The state (per partition: time, highest offset, idle) is saved
// with the task's checkpoint (SaveState / RestoreState).
//
// Not thread-safe: the task's thread owns it. Reads no clock.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "service/shuffle_record.h"

namespace klaxon::service {

class ShuffleTime {
 public:
  static constexpr int64_t kNone = std::numeric_limits<int64_t>::min();

  struct InputTopic {
    std::string name;
    int32_t partitions = 0;  // from the topic's metadata
  };
  struct Partition {
    int64_t time = kNone;         // the newest event time reported; kNone before any
    int64_t highest_offset = -1;  // the highest input offset accepted; -1 before any
    uint32_t highest_rule = 0;    // the rule of the last record accepted at highest_offset
    bool reported = false;        // a record or a mark has come for it
    bool idle = false;            // its last report said idle, and no record came since
  };

  // The partitions of the input topics (every partition of every topic listed). Partitions
  // newly listed hold time back until reported; topics no longer listed are forgotten, as are
  // partitions past a topic's count. Reports of partitions still listed are kept.
  void SetInputs(const std::vector<InputTopic>& topics);

  // A record of rule index `rule`: false when its input offset is below the highest accepted
  // for its input partition, or equal to it and its rule at or below the rule accepted there
  // (a re-send: drop it). An event matching several rules gives one record per rule, sent in
  // rule order with the same input offset: each is accepted once. Otherwise notes the offset and
  // the partition's time, and the partition is no longer idle. A partition not listed yet is added
  // (the metadata was older than the record), and with it the partitions below it.
  bool Accept(const ShuffleSource& source, uint32_t rule = 0);
  // A watermark mark: the partition's time, and whether it is idle.
  void Mark(const ShuffleMark& mark);

  // The minimum time over partitions not idle; kNone while one of them has not reported, or
  // has reported no time yet. When every partition is idle, the newest time of all. It can go
  // back when partitions are added (SetInputs); the engine's own watermark never does.
  int64_t Watermark() const { return watermark_; }
  // Every partition listed has reported and is idle: the input is caught up and quiet.
  bool AllIdle() const { return unreported_ == 0 && all_idle_ && !topics_.empty(); }
  // Partitions listed that no report has come for yet.
  size_t unreported() const { return unreported_; }
  // The partition's state; nullopt when it is not listed.
  std::optional<Partition> Find(std::string_view topic, int32_t partition) const;

  // Appends the state (every partition listed, with its reports) to `out`, versioned.
  void SaveState(std::string& out) const;
  // Restores SaveState's bytes into a ShuffleTime that has no inputs yet; the caller then sets
  // the inputs of the topics' current metadata. Refuses (and stays empty) bytes that are
  // truncated, corrupt or of another version.
  Status RestoreState(std::string_view bytes);

 private:
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  // Adds the partition (and those below it) when missing, saying so in `added`; null for a
  // negative partition.
  Partition* Get(std::string_view topic, int32_t partition, bool& added);
  // Called after a partition changed from `before`: recomputes the watermark when the change
  // can move it.
  void Changed(const Partition& before, const Partition& after);
  void Recompute();

  std::vector<Topic> topics_;
  size_t last_topic_ = 0;  // the topic found last (records come in runs)
  // Derived by Recompute:
  int64_t watermark_ = kNone;
  size_t unreported_ = 0;
  bool all_idle_ = true;
};

}  // namespace klaxon::service
