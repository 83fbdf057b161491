#include "actions/outbox.h"

#include <sqlite3.h>

namespace klaxon::actions {

// A cached statement, reset (not finalized) on every path.
struct OutboxStatement {
  sqlite3_stmt* s = nullptr;
  ~OutboxStatement() {
    if (s != nullptr) {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
  }
};
using Stmt = OutboxStatement;

namespace {

Status Error(sqlite3* db, const std::string& what) {
  return Status::IoError("outbox: " + what + ": " + sqlite3_errmsg(db));
}

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string ColumnText(sqlite3_stmt* s, int i) {
  const unsigned char* p = sqlite3_column_text(s, i);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p),
                                    static_cast<size_t>(sqlite3_column_bytes(s, i)));
}

}  // namespace

Result<std::unique_ptr<Outbox>> Outbox::Open(const std::string& path, OutboxOptions options) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IoError("outbox: cannot open " + path + ": " + msg);
  }
  std::unique_ptr<Outbox> box(new Outbox(db, path));
  sqlite3_busy_timeout(db, 5000);
  // SQLite opens a file it may not write read-only without a word; every enqueue would then
  // fail. Refuse it here, naming the file.
  if (sqlite3_db_readonly(db, "main") == 1) {
    return Status::IoError("outbox: " + path + " is read-only; Klaxon must be able to write it");
  }
  const std::string pragmas = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") +
                              (options.full_sync ? "FULL" : "NORMAL") +
                              // Checkpoints are what fsync under NORMAL; do them less often.
                              "; PRAGMA wal_autocheckpoint=10000;";
  // Errors of the set-up name the file: a read-only directory shows up here (the WAL files
  // cannot be created) and the operator must know which path to fix.
  auto named = [&path](const Status& s) {
    std::string m = s.message();
    if (m.rfind("outbox: ", 0) == 0) m.erase(0, 8);
    return Status::IoError("outbox: " + path + " cannot be used: " + m +
                           " (Klaxon must be able to write the file and its directory)");
  };
  if (Status s = box->Exec(pragmas.c_str()); !s.ok()) return named(s);
  if (Status s =
          box->Exec("CREATE TABLE IF NOT EXISTS outbox ("
                    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                    " action TEXT NOT NULL, idempotency_key TEXT NOT NULL, order_key TEXT NOT NULL,"
                    " state TEXT NOT NULL, payload TEXT NOT NULL, created_at_ms INTEGER NOT NULL,"
                    " next_attempt_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
                    " UNIQUE(action, idempotency_key))");
      !s.ok())
    return named(s);
  // A read-only directory lets the open succeed but not the journal: try a real write.
  if (Status s = box->Exec("BEGIN IMMEDIATE; DELETE FROM outbox WHERE 0; COMMIT;"); !s.ok()) {
    box->Exec("ROLLBACK");
    return named(s);
  }
  return box;
}

Status Outbox::CheckFile() {
  int moved = 0;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
      moved != 0) {
    return Status::IoError("outbox: " + path_ +
                           " was deleted or moved while Klaxon was running; notifications "
                           "stored now would be lost at the next start");
  }
  return Status::Ok();
}

Outbox::~Outbox() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

int Outbox::Prepare(const char* sql, Stmt& st) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return rc;
    it = statements_.emplace(sql, stmt).first;
  }
  st.s = it->second;
  return SQLITE_OK;
}

Status Outbox::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return Status::IoError("outbox: " + msg);
  }
  return Status::Ok();
}

Status Outbox::Enqueue(OutboxItem& item, bool* duplicate) {
  std::lock_guard lock(mu_);
  if (Status s = CheckFile(); !s.ok()) return s;
  bool dup = false;
  Status s = InsertLocked(item, dup);
  if (duplicate != nullptr) *duplicate = dup;
  return s;
}

Status Outbox::EnqueueBatch(std::vector<OutboxItem>& items, std::vector<bool>& duplicates) {
  std::lock_guard lock(mu_);
  duplicates.assign(items.size(), false);
  if (Status s = CheckFile(); !s.ok()) return s;
  if (Status s = Exec("BEGIN"); !s.ok()) return s;
  for (size_t i = 0; i < items.size(); ++i) {
    bool dup = false;
    if (Status s = InsertLocked(items[i], dup); !s.ok()) {
      Exec("ROLLBACK");
      return s;
    }
    duplicates[i] = dup;
  }
  return Exec("COMMIT");
}

Status Outbox::InsertLocked(OutboxItem& item, bool& duplicate) {
  Stmt st;
  if (Prepare("INSERT OR IGNORE INTO outbox (action, idempotency_key, order_key, state,"
              " payload, created_at_ms, next_attempt_ms, attempts)"
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
              st) != SQLITE_OK)
    return Error(db_, "prepare insert");
  const Prepared& p = item.prepared;
  BindText(st.s, 1, p.action);
  BindText(st.s, 2, p.idempotency_key);
  BindText(st.s, 3, p.order_key);
  BindText(st.s, 4, p.state);
  BindText(st.s, 5, p.payload);
  sqlite3_bind_int64(st.s, 6, item.created_at_ms);
  sqlite3_bind_int64(st.s, 7, item.next_attempt_ms);
  sqlite3_bind_int64(st.s, 8, item.attempts);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error(db_, "insert");
  const bool dup = sqlite3_changes(db_) == 0;
  duplicate = dup;
  if (!dup) {
    item.id = sqlite3_last_insert_rowid(db_);
    return Status::Ok();
  }
  Stmt q;
  if (Prepare("SELECT id FROM outbox WHERE action = ? AND idempotency_key = ?", q) != SQLITE_OK)
    return Error(db_, "prepare lookup");
  BindText(q.s, 1, p.action);
  BindText(q.s, 2, p.idempotency_key);
  if (sqlite3_step(q.s) == SQLITE_ROW) item.id = sqlite3_column_int64(q.s, 0);
  return Status::Ok();
}

Status Outbox::Remove(int64_t id) { return Remove(std::vector<int64_t>{id}); }

Status Outbox::Remove(const std::vector<int64_t>& ids) {
  std::lock_guard lock(mu_);
  if (ids.size() > 1) {
    if (Status s = Exec("BEGIN"); !s.ok()) return s;
  }
  Stmt st;
  if (Prepare("DELETE FROM outbox WHERE id = ?", st) != SQLITE_OK) {
    if (ids.size() > 1) Exec("ROLLBACK");
    return Error(db_, "prepare delete");
  }
  for (int64_t id : ids) {
    sqlite3_reset(st.s);
    sqlite3_bind_int64(st.s, 1, id);
    if (sqlite3_step(st.s) != SQLITE_DONE) {
      Status err = Error(db_, "delete");
      if (ids.size() > 1) Exec("ROLLBACK");
      return err;
    }
  }
  if (ids.size() > 1) return Exec("COMMIT");
  return Status::Ok();
}

Status Outbox::Reschedule(int64_t id, uint32_t attempts, int64_t next_attempt_ms) {
  std::lock_guard lock(mu_);
  Stmt st;
  if (Prepare("UPDATE outbox SET attempts = ?, next_attempt_ms = ? WHERE id = ?", st) != SQLITE_OK)
    return Error(db_, "prepare update");
  sqlite3_bind_int64(st.s, 1, attempts);
  sqlite3_bind_int64(st.s, 2, next_attempt_ms);
  sqlite3_bind_int64(st.s, 3, id);
  if (sqlite3_step(st.s) != SQLITE_DONE) return Error(db_, "update");
  return Status::Ok();
}

Result<std::vector<OutboxItem>> Outbox::LoadPending() {
  std::lock_guard lock(mu_);
  Stmt st;
  if (Prepare("SELECT id, action, idempotency_key, order_key, state, payload,"
              " created_at_ms, next_attempt_ms, attempts FROM outbox ORDER BY id",
              st) != SQLITE_OK)
    return Error(db_, "prepare select");
  std::vector<OutboxItem> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    OutboxItem item;
    item.id = sqlite3_column_int64(st.s, 0);
    item.prepared.action = ColumnText(st.s, 1);
    item.prepared.idempotency_key = ColumnText(st.s, 2);
    item.prepared.order_key = ColumnText(st.s, 3);
    item.prepared.state = ColumnText(st.s, 4);
    item.prepared.payload = ColumnText(st.s, 5);
    item.created_at_ms = sqlite3_column_int64(st.s, 6);
    item.next_attempt_ms = sqlite3_column_int64(st.s, 7);
    item.attempts = static_cast<uint32_t>(sqlite3_column_int64(st.s, 8));
    out.push_back(std::move(item));
  }
  if (rc != SQLITE_DONE) return Error(db_, "select");
  return out;
}

Result<int64_t> Outbox::Size() {
  std::lock_guard lock(mu_);
  Stmt st;
  if (Prepare("SELECT COUNT(*) FROM outbox", st) != SQLITE_OK) return Error(db_, "prepare count");
  if (sqlite3_step(st.s) != SQLITE_ROW) return Error(db_, "count");
  return static_cast<int64_t>(sqlite3_column_int64(st.s, 0));
}

}  // namespace klaxon::actions
