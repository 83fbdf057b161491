// StateStore: the service's checkpoint, one SQLite file beside the outbox.
//
// A checkpoint is the engine's whole state (Engine::SaveState) and, for every Kafka partition,
// the offset after the last record the engine had admitted when the state was taken: restoring
// the state and seeking each partition there continues exactly where the checkpoint was made
// (Flink's checkpoints with source offsets; Kafka Streams' state stores). Save replaces the
// previous checkpoint in one SQLite transaction, so a crash leaves the old one or the new one,
// never a mix. A checkpoint is written whole (engine_state) or incrementally
// (Engine::SaveStateChanges): the head replaces the previous one and the rows of the groups
// that changed are appended as one part (a delta after a base; compacted into a new base when
// the deltas would outweigh it); Load merges the parts into one row per group, which
// Checkpoint::Restore gives the engine (Engine::RestoreChanges), so its caller sees no
// difference. Notifications the engine produced before a checkpoint are in the outbox before it
// is saved; those recomputed after a crash carry the same idempotency keys, which the outbox
// stores once.
//
// Open refuses, naming the file, what would silently lose state: a file that is not a Klaxon
// state store, of another format version, corrupt, or that cannot be written.
//
// Not thread-safe: the run loop owns it.
#pragma once

#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/status.h"

struct sqlite3;

namespace klaxon::service {

struct PartitionOffset {
  std::string topic;
  int32_t partition = -1;
  int64_t next_offset = -1;           // the first record not covered by the checkpoint's state
  int64_t event_time_ms = INT64_MIN;  // the partition's event time then; INT64_MIN: none
};

struct Checkpoint {
  // Engine::SaveState: a checkpoint saved whole (Load), or what Save writes when `changes` is
  // not set.
  std::string engine_state;
  // When set, Save writes these (Engine::SaveStateChanges) instead of engine_state.
  const StateChanges* changes = nullptr;
  std::vector<PartitionOffset> offsets;
  int64_t saved_at_ms = 0;  // wall clock, for logs and metrics
  // Load, of an incremental checkpoint: its head and, for every live group, its latest row
  // (sorted by rule and slot; the bytes point into `parts`), restored by Engine::RestoreChanges
  // without assembling the whole state. engine_state stays empty then.
  std::string head;
  std::vector<StateGroupView> rows;
  std::vector<std::string> parts;
  // The highest rank of the rows, for Engine::ContinueChanges (the next save then appends only
  // what changed). 0: saved whole.
  uint64_t last_rank = 0;

  // Restores `engine` (fresh) from this checkpoint, whichever way it was saved.
  Status Restore(Engine& engine);
  // The engine's whole state (Engine::SaveState's bytes), assembled from the rows when the
  // checkpoint was saved incrementally: for tests and tools; a restart uses Restore.
  Status WholeState(std::string& out) const;
  // What was read: the whole state, or the head and the rows' parts.
  size_t Bytes() const;
};

class StateStore {
 public:
  // 3: group rows packed with varints (about 5 bytes of framing a row instead of 20). A
  // version-2 file (fixed-width rows) is upgraded when opened; a version-1 file (whole
  // checkpoints only) gains the table of rows.
  static constexpr int kFormatVersion = 3;

  static Result<std::unique_ptr<StateStore>> Open(const std::string& path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // The last checkpoint saved, or none on a first start.
  Result<std::optional<Checkpoint>> Load();
  // Replaces the checkpoint atomically; durable (in the WAL) when it returns.
  Status Save(const Checkpoint& checkpoint);

  // Bytes the last Save wrote (head or whole state, plus group rows).
  size_t last_save_bytes() const { return last_save_bytes_; }

  const std::string& path() const { return path_; }

 private:
  StateStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status Exec(const char* sql);
  Status Error(const std::string& what) const;
  Status Upgrade(int found);
  Status SaveRows(const StateChanges& changes);
  // The parts' bytes into `parts` (checksums checked), their rows (pointing into `parts`,
  // unmerged, in part order) appended to `rows`. `packed`: format 3's rows, else format 2's.
  Status ReadParts(std::vector<std::string>& parts, std::vector<StateGroupView>& rows,
                   bool packed = true);
  Status PutPart(const std::string& part);

  sqlite3* db_;
  std::string path_;
  size_t last_save_bytes_ = 0;
  size_t base_bytes_ = 0;   // the first part: every group at the last full save or compaction
  size_t delta_bytes_ = 0;  // the parts after it
  std::string part_;        // reused
};

}  // namespace klaxon::service
