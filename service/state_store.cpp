#include "service/state_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>

#include "engine/hash.h"
#include "engine/state_codec.h"

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
          "CREATE TABLE IF NOT EXISTS parts (seq INTEGER PRIMARY KEY, rows BLOB NOT NULL,"
          " sum INTEGER NOT NULL);"
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
  {
    // The base (first part) and the deltas after it decide when to compact.
    Statement sizes;
    if (sqlite3_prepare_v2(db, "SELECT length(rows) FROM parts ORDER BY seq", -1, &sizes.s,
                           nullptr) != SQLITE_OK) {
      return store->Error("cannot read the checkpoint's parts");
    }
    bool first = true;
    while (sqlite3_step(sizes.s) == SQLITE_ROW) {
      (first ? store->base_bytes_ : store->delta_bytes_) +=
          static_cast<size_t>(sqlite3_column_int64(sizes.s, 0));
      first = false;
    }
  }
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
    if (Status s = LoadRows(head, c.engine_state, c.last_rank); !s.ok()) return s;
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

namespace {

// A part: u32 row count, per row u32 rule, u32 slot, u64 rank, u32 length + bytes.
template <typename Row>
void AppendRows(const Row* rows, size_t n, std::string& out) {
  StateWriter w(out);
  w.U32(static_cast<uint32_t>(n));
  for (size_t i = 0; i < n; ++i) {
    w.U32(rows[i].rule);
    w.U32(rows[i].slot);
    w.U64(rows[i].rank);
    w.Str(rows[i].bytes);
  }
}

// Applies parts in order, as the engine produced them: the latest row of a group wins, a row
// without bytes removes the group, a rank of 0 keeps the group's rank. The rows point into
// `parts` (no group is copied) and come out sorted by rule and slot. A sort rather than a hash
// map over the groups: a restart with a million groups spends its time here.
bool MergeParts(const std::vector<std::string>& parts, std::vector<StateGroupView>& rows) {
  rows.clear();
  for (const std::string& part : parts) {
    StateReader r(part);
    const uint32_t n = r.Count(4 + 4 + 8 + 4);
    rows.reserve(rows.size() + n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
      StateGroupView& row = rows.emplace_back();
      row.rule = r.U32();
      row.slot = r.U32();
      row.rank = r.U64();
      row.bytes = r.Str();
    }
    if (!r.ok() || r.Left() != 0) return false;
  }
  // Stable: the rows of one group stay in the order of their parts. A compacted base alone is
  // sorted already.
  auto by_group = [](const StateGroupView& a, const StateGroupView& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.slot < b.slot;
  };
  if (!std::is_sorted(rows.begin(), rows.end(), by_group)) {
    std::stable_sort(rows.begin(), rows.end(), by_group);
  }
  size_t kept = 0;
  for (size_t i = 0; i < rows.size();) {
    StateGroupView merged = rows[i];
    if (merged.rank == 0 && !merged.bytes.empty()) return false;  // an update of nothing
    size_t j = i + 1;
    for (; j < rows.size() && rows[j].rule == merged.rule && rows[j].slot == merged.slot; ++j) {
      const StateGroupView& row = rows[j];
      if (row.rank == 0 && !row.bytes.empty()) {
        if (merged.bytes.empty()) return false;  // nothing to update
        merged.bytes = row.bytes;
      } else {
        merged = row;  // without bytes: removed
      }
    }
    if (!merged.bytes.empty()) rows[kept++] = merged;
    i = j;
  }
  rows.resize(kept);
  return true;
}

}  // namespace

Status StateStore::ReadParts(std::vector<std::string>& parts, std::vector<StateGroupView>& rows) {
  Statement read;
  if (sqlite3_prepare_v2(db_, "SELECT seq, rows, sum FROM parts ORDER BY seq", -1, &read.s,
                         nullptr) != SQLITE_OK) {
    return Error("cannot read the checkpoint's parts");
  }
  parts.clear();
  int step;
  while ((step = sqlite3_step(read.s)) == SQLITE_ROW) {
    const void* blob = sqlite3_column_blob(read.s, 1);
    std::string& part = parts.emplace_back(
        static_cast<const char*>(blob),
        blob == nullptr ? 0 : static_cast<size_t>(sqlite3_column_bytes(read.s, 1)));
    if (static_cast<uint64_t>(sqlite3_column_int64(read.s, 2)) != Fnv1a64(part)) {
      return Status::InvalidArgument("state store " + path_ + ": checkpoint part " +
                                     std::to_string(sqlite3_column_int64(read.s, 0)) +
                                     " is corrupt (checksum mismatch)");
    }
  }
  if (step != SQLITE_DONE) return Error("cannot read the checkpoint's parts");
  if (!MergeParts(parts, rows)) {
    return Status::InvalidArgument("state store " + path_ +
                                   ": checkpoint parts do not fit together (corrupt)");
  }
  return Status::Ok();
}

Status StateStore::LoadRows(std::string_view head, std::string& engine_state, uint64_t& last_rank) {
  std::vector<std::string> parts;
  std::vector<StateGroupView> rows;
  if (Status s = ReadParts(parts, rows); !s.ok()) return s;
  last_rank = 0;
  for (const StateGroupView& row : rows) last_rank = std::max(last_rank, row.rank);
  if (Status s = AssembleState(head, rows, engine_state); !s.ok()) {
    return Status::InvalidArgument("state store " + path_ + ": " + s.message());
  }
  return Status::Ok();
}

Status StateStore::PutPart(const std::string& part) {
  Statement put;
  if (sqlite3_prepare_v2(db_, "INSERT INTO parts (rows, sum) VALUES (?1, ?2)", -1, &put.s,
                         nullptr) != SQLITE_OK) {
    return Error("cannot save the checkpoint's groups");
  }
  sqlite3_bind_blob64(put.s, 1, part.data(), part.size(), SQLITE_STATIC);
  sqlite3_bind_int64(put.s, 2, static_cast<int64_t>(Fnv1a64(part)));
  if (sqlite3_step(put.s) != SQLITE_DONE) return Error("cannot save the checkpoint's groups");
  last_save_bytes_ += part.size();
  return Status::Ok();
}

// Base + deltas: a full set of changes replaces every part (the base); otherwise the changes
// are appended as one delta. Once the deltas outweigh the base they are merged into a new base
// (compaction), so a restart reads at most about twice the state.
Status StateStore::SaveRows(const StateChanges& changes) {
  if (changes.full) {
    if (Status s = Exec("DELETE FROM parts"); !s.ok()) return s;
    base_bytes_ = delta_bytes_ = 0;
  }
  part_.clear();
  AppendRows(changes.groups.data(), changes.group_count, part_);
  if (Status s = PutPart(part_); !s.ok()) return s;
  (changes.full ? base_bytes_ : delta_bytes_) += part_.size();
  if (delta_bytes_ <= base_bytes_) return Status::Ok();
  std::vector<std::string> parts;
  std::vector<StateGroupView> rows;
  if (Status s = ReadParts(parts, rows); !s.ok()) return s;
  part_.clear();
  AppendRows(rows.data(), rows.size(), part_);
  if (Status s = Exec("DELETE FROM parts"); !s.ok()) return s;
  if (Status s = PutPart(part_); !s.ok()) return s;
  base_bytes_ = part_.size();
  delta_bytes_ = 0;
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
  if (c.changes == nullptr) base_bytes_ = delta_bytes_ = 0;
  if (Status s = c.changes != nullptr ? SaveRows(*c.changes) : Exec("DELETE FROM parts"); !s.ok()) {
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
  if (Status s = Exec("COMMIT"); !s.ok()) {
    (void)Exec("ROLLBACK");  // an open transaction would make every later save fail
    return s;
  }
  return Status::Ok();
}

}  // namespace klaxon::service
