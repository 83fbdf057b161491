// Scale-out's changelog (docs/scale_out.md): a stage-2 task's state as records of the compacted
// topic <application_id>-changelog, partition = the task's repartition partition, and back.
//
// Keys, one per piece of state, so that compaction keeps the latest of each:
//   "T"                   the task: the repartition offset its state covers, its engines' time
//                         and its ShuffleTime (event time and de-duplication per input partition)
//   "H" rule id           the head of the task's engine of that rule (Engine::SaveStateChanges)
//   "R" rule id, slot     one group of that engine (its row), or a tombstone when the slot is empty
//   "C" key, index        a chunk of a value larger than a Kafka message may be (an engine's head
//                         holds the events waiting for lateness): the value under the key itself
//                         is then a manifest (chunk count, length, FNV-1a), written after its
//                         chunks in the same transaction
// Values start with a format version. Heads and rows carry the engine's generation: it grows at
// every save that lists every group (the first after a start or a failed commit), and a restore
// takes only the rows of its head's generation, so rows of groups that died before a full save
// (never rewritten since) are not brought back. A row's rank is written whole (the engine's rank
// 0, "unchanged", is replaced by the slot's last rank), since compaction keeps only the latest
// row of a slot. The records of one checkpoint are written in one Kafka transaction with the
// repartition offsets, so a read_committed restore sees a whole checkpoint.
//
// Pure functions and a collector; refuses malformed records with a clear error, never reads past
// them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/status.h"

namespace klaxon::service {

inline constexpr uint8_t kChangelogVersion = 1;

struct TaskHead {
  int64_t next_offset = -1;         // the first repartition record the state does not cover
  int64_t advanced_to = INT64_MIN;  // what the engines were last moved to
  int64_t newest = INT64_MIN;       // the highest watermark seen
  std::string shuffle_time;         // ShuffleTime::SaveState
};

std::string TaskHeadKey();
std::string EngineHeadKey(std::string_view rule_id);
std::string RowKey(std::string_view rule_id, uint32_t slot);

void EncodeTaskHead(const TaskHead& head, std::string& out);
void EncodeEngineHead(uint64_t generation, std::string_view head, std::string& out);
void EncodeRow(uint64_t generation, uint64_t rank, std::string_view bytes, std::string& out);

// The records of one value: the value itself when it is at most `max_bytes`, otherwise its
// chunks and then the manifest under `key`. `emit` is called in the order to produce them.
inline constexpr size_t kMaxChangelogValue = 512 * 1024;
Status EmitChangelogValue(std::string_view key, std::string_view value, size_t max_bytes,
                          const std::function<Status(std::string_view, std::string_view)>& emit);

// One engine's state as a restore finds it: the head and the rows of its generation.
struct RestoredEngine {
  uint64_t generation = 0;
  std::string_view head;
  std::vector<StateGroupView> rows;  // rule 0 (a task's engine holds one rule)
  uint64_t last_rank = 0;
};

// What one changelog partition holds, read in offset order (Add) and then taken apart (Finish).
// The views point into the collector's own copies of the latest value of each key.
class ChangelogCollector {
 public:
  // A record; `value` nullopt is a tombstone.
  void Add(std::string_view key, std::optional<std::string_view> value);
  // Decodes the latest records: the task head (nullopt when the partition holds none) and, per
  // rule id, its engine. InvalidArgument naming the key for a record that does not decode.
  Status Finish(std::optional<TaskHead>& task, std::map<std::string, RestoredEngine>& engines);
  size_t keys() const { return latest_.size(); }
  // The latest value of each key, in key order (service/task_cache.h writes them).
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [key, value] : latest_) fn(std::string_view(key), std::string_view(value));
  }
  size_t bytes() const { return bytes_; }

 private:
  std::map<std::string, std::string, std::less<>> latest_;
  size_t bytes_ = 0;
};

}  // namespace klaxon::service
