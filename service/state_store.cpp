#include "service/state_store.h"

#include <sqlite3.h>

#include <cstring>

#include "engine/hash.h"

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
  if (!empty && found != kFormatVersion && found != 1) {
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
          "CREATE TABLE IF NOT EXISTS groups (rule INTEGER NOT NULL, slot INTEGER NOT NULL,"
          " rank INTEGER NOT NULL, bytes BLOB NOT NULL, sum INTEGER NOT NULL,"
          " PRIMARY KEY (rule, slot)) WITHOUT ROWID;"
          "PRAGMA user_version = 2;");
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
  // An incremental checkpoint's blob is its head; its groups are rows.
  constexpr char kHeadMagic[] = "KLXSHEAD";
  if (c.engine_state.size() >= 8 && std::memcmp(c.engine_state.data(), kHeadMagic, 8) == 0) {
    const std::string head = std::move(c.engine_state);
    if (Status s = LoadRows(head, c.engine_state); !s.ok()) return s;
  }
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

Status StateStore::LoadRows(std::string_view head, std::string& engine_state) {
  Statement rows;
  if (sqlite3_prepare_v2(db_, "SELECT rule, slot, rank, bytes, sum FROM groups", -1, &rows.s,
                         nullptr) != SQLITE_OK) {
    return Error("cannot read the checkpoint's groups");
  }
  std::vector<StateGroupRow> groups;
  int step;
  while ((step = sqlite3_step(rows.s)) == SQLITE_ROW) {
    StateGroupRow& g = groups.emplace_back();
    g.rule = static_cast<uint32_t>(sqlite3_column_int64(rows.s, 0));
    g.slot = static_cast<uint32_t>(sqlite3_column_int64(rows.s, 1));
    g.rank = static_cast<uint64_t>(sqlite3_column_int64(rows.s, 2));
    const void* blob = sqlite3_column_blob(rows.s, 3);
    g.bytes.assign(static_cast<const char*>(blob),
                   blob == nullptr ? 0 : static_cast<size_t>(sqlite3_column_bytes(rows.s, 3)));
    if (static_cast<uint64_t>(sqlite3_column_int64(rows.s, 4)) != Fnv1a64(g.bytes)) {
      return Status::InvalidArgument("state store " + path_ + ": group row (rule " +
                                     std::to_string(g.rule) + ", slot " + std::to_string(g.slot) +
                                     ") is corrupt (checksum mismatch)");
    }
  }
  if (step != SQLITE_DONE) return Error("cannot read the checkpoint's groups");
  if (Status s = AssembleState(head, groups, engine_state); !s.ok()) {
    return Status::InvalidArgument("state store " + path_ + ": " + s.message());
  }
  return Status::Ok();
}

// Group rows: a full set replaces all rows; otherwise a row with no bytes is a group gone, a
// rank of 0 keeps the row's rank (the group did not move in the LRU order).
Status StateStore::SaveRows(const StateChanges& changes) {
  if (changes.full) {
    if (Status s = Exec("DELETE FROM groups"); !s.ok()) return s;
  }
  Statement put, update, remove;
  if (sqlite3_prepare_v2(db_,
                         "INSERT OR REPLACE INTO groups (rule, slot, rank, bytes, sum)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)",
                         -1, &put.s, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db_,
                         "UPDATE groups SET bytes = ?3, sum = ?4 WHERE rule = ?1 AND slot = ?2", -1,
                         &update.s, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db_, "DELETE FROM groups WHERE rule = ?1 AND slot = ?2", -1, &remove.s,
                         nullptr) != SQLITE_OK) {
    return Error("cannot save the checkpoint's groups");
  }
  for (size_t i = 0; i < changes.group_count; ++i) {
    const StateGroupRow& g = changes.groups[i];
    sqlite3_stmt* st = g.bytes.empty() ? remove.s : g.rank == 0 ? update.s : put.s;
    sqlite3_bind_int64(st, 1, g.rule);
    sqlite3_bind_int64(st, 2, g.slot);
    if (st == put.s) {
      sqlite3_bind_int64(st, 3, static_cast<int64_t>(g.rank));
      sqlite3_bind_blob64(st, 4, g.bytes.data(), g.bytes.size(), SQLITE_STATIC);
      sqlite3_bind_int64(st, 5, static_cast<int64_t>(Fnv1a64(g.bytes)));
    } else if (st == update.s) {
      sqlite3_bind_blob64(st, 3, g.bytes.data(), g.bytes.size(), SQLITE_STATIC);
      sqlite3_bind_int64(st, 4, static_cast<int64_t>(Fnv1a64(g.bytes)));
    }
    if (sqlite3_step(st) != SQLITE_DONE) return Error("cannot save the checkpoint's groups");
    if (st == update.s && sqlite3_changes(db_) != 1) {
      return Status::Internal("state store " + path_ + ": an unchanged group's row is missing");
    }
    sqlite3_reset(st);
    last_save_bytes_ += g.bytes.size();
  }
  return Status::Ok();
}

Status StateStore::Save(const Checkpoint& c) {
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  last_save_bytes_ = 0;
  auto fail = [this](const std::string& what) {
    Status s = Error(what);
    (void)Exec("ROLLBACK");
    return s;
  };
  const std::string& state = c.changes != nullptr ? c.changes->head : c.engine_state;
  if (Status s = c.changes != nullptr ? SaveRows(*c.changes) : Exec("DELETE FROM groups");
      !s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  last_save_bytes_ += state.size();
  {
    Statement put;
    if (sqlite3_prepare_v2(db_,
                           "INSERT OR REPLACE INTO checkpoint (id, engine_state, saved_at_ms)"
                           " VALUES (1, ?1, ?2)",
                           -1, &put.s, nullptr) != SQLITE_OK) {
      return fail("cannot save the checkpoint");
    }
    sqlite3_bind_blob64(put.s, 1, state.data(), state.size(), SQLITE_STATIC);
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
