#include "service/state_store.h"

#include <sqlite3.h>

namespace klaxon::service {
namespace {

// Finalizes a prepared statement on every path.
struct Statement {
  sqlite3_stmt* s = nullptr;
  ~Statement() { sqlite3_finalize(s); }
};

}  // namespace

Status StateStore::Error(const std::string& what) const {
  return Status::IoError("state store " + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

Status StateStore::Exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return Status::Ok();
  std::string m = message != nullptr ? message : sqlite3_errmsg(db_);
  sqlite3_free(message);
  return Status::IoError("state store " + path_ + ": " + m);
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IoError("state store " + path + ": cannot open: " + msg);
  }
  std::unique_ptr<StateStore> store(new StateStore(db, path));
  sqlite3_busy_timeout(db, 5000);
  if (sqlite3_db_readonly(db, "main") == 1) {
    return Status::IoError("state store " + path +
                           " is read-only; Klaxon must be able to write it");
  }
  // The first read tells a foreign or damaged file apart ("file is not a database").
  int found = 0;
  bool empty = false;
  {
    Statement version;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &version.s, nullptr) != SQLITE_OK ||
        sqlite3_step(version.s) != SQLITE_ROW) {
      return store->Error("not a readable Klaxon state store");
    }
    found = sqlite3_column_int(version.s, 0);
    Statement tables;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &tables.s, nullptr) !=
            SQLITE_OK ||
        sqlite3_step(tables.s) != SQLITE_ROW) {
      return store->Error("not a readable Klaxon state store");
    }
    empty = sqlite3_column_int(tables.s, 0) == 0;
  }
  if (!empty && found != kFormatVersion) {
    return Status::FailedPrecondition("state store " + path + ": format version " +
                                      std::to_string(found) + ", this Klaxon reads " +
                                      std::to_string(kFormatVersion) +
                                      " (move the file away to start with empty state)");
  }
  if (Status s = store->Exec(
          "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
          "CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1),"
          " engine_state BLOB NOT NULL, saved_at_ms INTEGER NOT NULL);"
          "CREATE TABLE IF NOT EXISTS offsets (topic TEXT NOT NULL, partition INTEGER NOT NULL,"
          " next_offset INTEGER NOT NULL, event_time_ms INTEGER NOT NULL,"
          " PRIMARY KEY (topic, partition));"
          "PRAGMA user_version = 1;");
      !s.ok()) {
    return Status::IoError(s.message() +
                           " (Klaxon must be able to write the file and its directory)");
  }
  // A read-only directory lets the open succeed but not the journal: try a real write.
  if (Status s = store->Exec("BEGIN IMMEDIATE; DELETE FROM offsets WHERE 0; COMMIT;"); !s.ok()) {
    (void)store->Exec("ROLLBACK");
    return Status::IoError(s.message() +
                           " (Klaxon must be able to write the file and its directory)");
  }
  if (Status s = store->Exec("PRAGMA quick_check"); !s.ok()) return s;
  return store;
}

StateStore::~StateStore() { sqlite3_close(db_); }

Result<std::optional<Checkpoint>> StateStore::Load() {
  Statement row;
  if (sqlite3_prepare_v2(db_, "SELECT engine_state, saved_at_ms FROM checkpoint WHERE id = 1", -1,
                         &row.s, nullptr) != SQLITE_OK) {
    return Error("cannot read the checkpoint");
  }
  const int rc = sqlite3_step(row.s);
  if (rc == SQLITE_DONE) return std::optional<Checkpoint>();
  if (rc != SQLITE_ROW) return Error("cannot read the checkpoint");
  Checkpoint c;
  const void* blob = sqlite3_column_blob(row.s, 0);
  c.engine_state.assign(static_cast<const char*>(blob),
                        blob == nullptr ? 0 : static_cast<size_t>(sqlite3_column_bytes(row.s, 0)));
  c.saved_at_ms = sqlite3_column_int64(row.s, 1);
  Statement offsets;
  if (sqlite3_prepare_v2(db_, "SELECT topic, partition, next_offset, event_time_ms FROM offsets",
                         -1, &offsets.s, nullptr) != SQLITE_OK) {
    return Error("cannot read the checkpoint's offsets");
  }
  int step;
  while ((step = sqlite3_step(offsets.s)) == SQLITE_ROW) {
    const unsigned char* topic = sqlite3_column_text(offsets.s, 0);
    c.offsets.push_back({topic == nullptr ? std::string() : reinterpret_cast<const char*>(topic),
                         sqlite3_column_int(offsets.s, 1), sqlite3_column_int64(offsets.s, 2),
                         sqlite3_column_int64(offsets.s, 3)});
  }
  if (step != SQLITE_DONE) return Error("cannot read the checkpoint's offsets");
  return std::optional<Checkpoint>(std::move(c));
}

Status StateStore::Save(const Checkpoint& c) {
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  auto fail = [this](const std::string& what) {
    Status s = Error(what);
    (void)Exec("ROLLBACK");
    return s;
  };
  {
    Statement put;
    if (sqlite3_prepare_v2(db_,
                           "INSERT OR REPLACE INTO checkpoint (id, engine_state, saved_at_ms)"
                           " VALUES (1, ?1, ?2)",
                           -1, &put.s, nullptr) != SQLITE_OK) {
      return fail("cannot save the checkpoint");
    }
    sqlite3_bind_blob64(put.s, 1, c.engine_state.data(), c.engine_state.size(), SQLITE_STATIC);
    sqlite3_bind_int64(put.s, 2, c.saved_at_ms);
    if (sqlite3_step(put.s) != SQLITE_DONE) return fail("cannot save the checkpoint");
  }
  {
    Statement put;
    if (sqlite3_prepare_v2(db_,
                           "INSERT OR REPLACE INTO offsets (topic, partition, next_offset,"
                           " event_time_ms) VALUES (?1, ?2, ?3, ?4)",
                           -1, &put.s, nullptr) != SQLITE_OK) {
      return fail("cannot save the checkpoint's offsets");
    }
    for (const PartitionOffset& o : c.offsets) {
      sqlite3_bind_text(put.s, 1, o.topic.data(), static_cast<int>(o.topic.size()), SQLITE_STATIC);
      sqlite3_bind_int(put.s, 2, o.partition);
      sqlite3_bind_int64(put.s, 3, o.next_offset);
      sqlite3_bind_int64(put.s, 4, o.event_time_ms);
      if (sqlite3_step(put.s) != SQLITE_DONE) return fail("cannot save the checkpoint's offsets");
      sqlite3_reset(put.s);
    }
  }
  return Exec("COMMIT");
}

}  // namespace klaxon::service
