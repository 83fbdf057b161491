// TaskCache: a stage-2 task's changelog kept on the instance's own disk, the local store that
// the changelog backs (docs/scale_out.md, "The local cache"): a task assigned here again, after
// a restart or back from another instance, reads only what its changelog partition got since,
// as Kafka Streams' local state stores do.
//
// One file per repartition partition, `<dir>/changelog-<partition>`, of frames appended in
// order: [u32 body length][u64 FNV-1a of the body][body], little-endian. A body is
//   'R' key, value or tombstone  a changelog record as it was committed, or
//   'E' offset                   every committed record of the partition below `offset` is in
//                                the frames before this one.
// A load takes the records up to the last 'E' and leaves the rest (frames after it, a torn tail,
// a frame failing its checksum and all after it) to the changelog, read on from that offset.
// Records go in only once their transaction committed (a failed checkpoint's are cut off again);
// an 'E' is written with the partition's end offset as the broker gives it after a commit.
// The generations of heads and rows (service/task_changelog.h) make a cache that missed a
// tombstone no worse than a changelog read: rows of older generations are not restored.
//
// Not thread-safe: the run loop's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "service/task_changelog.h"

namespace klaxon::service {

class TaskCache {
 public:
  static std::string PathFor(const std::string& dir, int32_t partition);

  // The records up to the last 'E' into `collector` (which should be empty), and that offset;
  // nullopt when the file is missing or holds no whole image. `records`: how many it added.
  // An I/O error other than a missing file is an error.
  static Result<std::optional<int64_t>> Load(const std::string& path, ChangelogCollector& collector,
                                             int64_t& records);

  // Replaces the file by `collector`'s records and an 'E' at `end` (written aside, renamed
  // over it), and opens it for appending.
  static Result<TaskCache> Write(const std::string& path, const ChangelogCollector& collector,
                                 int64_t end);

  TaskCache(TaskCache&& other) noexcept;
  TaskCache& operator=(TaskCache&& other) noexcept;
  TaskCache(const TaskCache&) = delete;
  TaskCache& operator=(const TaskCache&) = delete;
  ~TaskCache();

  // A checkpoint's record, kept until Commit or Abort (a large checkpoint's are written as they
  // come, and cut off again by Abort).
  Status Add(std::string_view key, std::optional<std::string_view> value);
  // The checkpoint committed: its records are appended; with `end`, an 'E' after them.
  Status Commit(std::optional<int64_t> end);
  // The checkpoint was aborted: its records are dropped (cut off the file if written already).
  Status Abort();
  // The file grew to more than twice its size when last written whole, plus 16 MiB: time to
  // Load and Write it again (only right after an 'E', so nothing follows it).
  bool Oversized() const;
  const std::string& path() const { return path_; }

 private:
  TaskCache(std::string path, int fd, uint64_t size);
  Status Flush();

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;          // bytes in the file
  uint64_t committed_ = 0;     // bytes of whole checkpoints
  uint64_t written_size_ = 0;  // bytes when written whole
  std::string pending_;        // frames not written yet
  std::string body_;           // reused
};

}  // namespace klaxon::service
