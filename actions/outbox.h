// Outbox: the durable queue of prepared notifications, in SQLite (WAL).
//
// Enqueue returns once the row is committed: from then on the notification survives a crash or
// kill -9 and is delivered after restart (LoadPending). Rows are removed when the receiver
// accepted them (or they were given up, counted). (action, idempotency_key) is unique, so the
// same notification enqueued twice (a replayed Kafka offset after a crash) is stored once.
//
// Durability: journal_mode=WAL with synchronous=NORMAL by default: a commit is in the WAL (the
// OS page cache) when Enqueue returns, which survives the process dying at any point; only an
// OS crash or power loss can lose the last commits. OutboxOptions::full_sync = true selects
// synchronous=FULL (an fsync per commit) for that case too, at a large throughput cost.
//
// Open refuses a file it cannot write (read-only file or directory) instead of accepting
// notifications it would lose. Every enqueue checks that the file is still where it was opened:
// one deleted or moved meanwhile makes Enqueue fail (the caller must not commit its offsets),
// since rows written to an unlinked file vanish at the next start.
//
// Thread-safe (one connection behind a mutex).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actions/action.h"
#include "engine/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace klaxon::actions {

struct OutboxStatement;

struct OutboxItem {
  int64_t id = 0;  // assigned by Enqueue; increasing in enqueue order
  Prepared prepared;
  int64_t created_at_ms = 0;
  int64_t next_attempt_ms = 0;
  uint32_t attempts = 0;
};

struct OutboxOptions {
  bool full_sync = false;
};

class Outbox {
 public:
  static Result<std::unique_ptr<Outbox>> Open(const std::string& path, OutboxOptions options = {});
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Durable when it returns. Sets item.id; an item already stored under the same (action,
  // idempotency key) is not stored again and keeps its id (returned in item.id, and
  // `*duplicate` set when given).
  Status Enqueue(OutboxItem& item, bool* duplicate = nullptr);
  // Several items in one transaction (one commit for a batch of notifications).
  // duplicates[i] tells whether items[i] was already stored.
  Status EnqueueBatch(std::vector<OutboxItem>& items, std::vector<bool>& duplicates);
  Status Remove(int64_t id);
  Status Remove(const std::vector<int64_t>& ids);  // one transaction
  // Records a failed attempt so a restart keeps the backoff and the attempt count.
  Status Reschedule(int64_t id, uint32_t attempts, int64_t next_attempt_ms);
  // Every stored item, oldest first.
  Result<std::vector<OutboxItem>> LoadPending();
  Result<int64_t> Size();

 private:
  Outbox(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status Exec(const char* sql);
  // Under mu_: an error when the database file was deleted or renamed since Open.
  Status CheckFile();
  Status InsertLocked(OutboxItem& item, bool& duplicate);
  // Prepared once per SQL text (statements are string literals) and reused; under mu_.
  int Prepare(const char* sql, struct OutboxStatement& st);

  std::mutex mu_;
  sqlite3* db_;
  std::string path_;
  std::map<const char*, sqlite3_stmt*> statements_;
};

}  // namespace klaxon::actions
