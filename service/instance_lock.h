// InstanceLock: one `klaxon run` per outbox. Two processes on the same outbox and state store
// would both checkpoint into the same file (each overwriting the other's partition offsets) and
// both deliver the same outbox rows. Acquire takes an exclusive flock (LOCK_NB) on OUTBOX.lock
// beside the outbox and writes the holder's pid into it; the lock lasts as long as the object
// (the kernel releases it when the process dies, so a crash leaves no stale lock to clean up).
//
// Not thread-safe; one per process.
#pragma once

#include <memory>
#include <string>

#include "engine/status.h"

namespace klaxon::service {

class InstanceLock {
 public:
  // FailedPrecondition "OUTBOX is in use by another klaxon process (pid N)" when another open
  // holds the lock; IoError when the lock file cannot be created.
  static Result<std::unique_ptr<InstanceLock>> Acquire(const std::string& outbox_path);
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

  static std::string LockPath(const std::string& outbox_path) { return outbox_path + ".lock"; }

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace klaxon::service
