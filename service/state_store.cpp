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

namespace {

// A part (format 3): varint row count, then per row varint rule, zigzag varint slot and rank,
// each the difference to the row before (a base lists slots in order, a delta ranks in order:
// mostly one byte), varint length and the group's bytes.
uint64_t ZigZag(uint64_t delta) {
  return (delta << 1) ^ static_cast<uint64_t>(static_cast<int64_t>(delta) >> 63);
}
uint64_t UnZigZag(uint64_t v) { return (v >> 1) ^ (~(v & 1) + 1); }

template <typename Row>
void AppendRows(const Row* rows, size_t n, std::string& out) {
  StateWriter w(out);
  w.Var(n);
  uint64_t slot = 0;
  uint64_t rank = 0;
  for (size_t i = 0; i < n; ++i) {
    w.Var(rows[i].rule);
    w.Var(ZigZag(rows[i].slot - slot));
    w.Var(ZigZag(rows[i].rank - rank));
    w.Var(rows[i].bytes.size());
    out.append(rows[i].bytes);
    slot = rows[i].slot;
    rank = rows[i].rank;
  }
}

// Appends a part's rows to `rows`; false when it is malformed.
bool DecodePart(std::string_view part, std::vector<StateGroupView>& rows) {
  StateReader r(part);
  const uint64_t n = r.Var();
  if (!r.ok() || n > r.Left() / 4) return false;  // a row takes at least 4 bytes
  rows.reserve(rows.size() + n);
  uint64_t slot = 0;
  uint64_t rank = 0;
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    StateGroupView& row = rows.emplace_back();
    const uint64_t rule = r.Var();
    slot += UnZigZag(r.Var());
    rank += UnZigZag(r.Var());
    if (rule > UINT32_MAX || slot > UINT32_MAX) return false;
    row.rule = static_cast<uint32_t>(rule);
    row.slot = static_cast<uint32_t>(slot);
    row.rank = rank;
    row.bytes = r.Bytes(r.Var());
  }
  return r.ok() && r.Left() == 0;
}

// Format 2's parts: u32 row count, per row u32 rule, u32 slot, u64 rank, u32 length + bytes.
bool DecodeFixedPart(std::string_view part, std::vector<StateGroupView>& rows) {
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
  return r.ok() && r.Left() == 0;
}

// Applies rows in the order of their parts, as the engine produced them: the latest row of a
// group wins, a row without bytes removes the group, a rank of 0 keeps the group's rank. The
// rows come out sorted by rule and slot, one per live group. A sort rather than a hash map over
// the groups: a restart with a million groups spends its time here.
bool MergeRows(std::vector<StateGroupView>& rows) {
  // Stable: the rows of one group stay in the order of their parts. A compacted base is sorted
  // already and the deltas after it are small: only they are sorted, then merged with the base
  // in one pass.
  auto by_group = [](const StateGroupView& a, const StateGroupView& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.slot < b.slot;
  };
  const auto sorted_end = std::is_sorted_until(rows.begin(), rows.end(), by_group);
  if (sorted_end != rows.end()) {
    std::stable_sort(sorted_end, rows.end(), by_group);
    std::inplace_merge(rows.begin(), sorted_end, rows.end(), by_group);
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
  if (!empty && found != kFormatVersion && found != 2 && found != 1) {
    return Status::FailedPrecondition("state store " + path + ": format version " +
                                      std::to_string(found) + ", this Klaxon reads " +
                                      std::to_string(kFormatVersion) +
                                      " (move the file away to start with empty state)");
  }
  // A restart reads the whole state once: mapped, SQLite hands the parts' pages over without
  // copying them into its page cache first.
  if (Status s = store->Exec(
          "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA mmap_size=1073741824;"
          "CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1),"
          " engine_state BLOB NOT NULL, saved_at_ms INTEGER NOT NULL);"
          "CREATE TABLE IF NOT EXISTS offsets (topic TEXT NOT NULL, partition INTEGER NOT NULL,"
          " next_offset INTEGER NOT NULL, event_time_ms INTEGER NOT NULL,"
          " PRIMARY KEY (topic, partition));"
          "CREATE TABLE IF NOT EXISTS parts (seq INTEGER PRIMARY KEY, rows BLOB NOT NULL,"
          " sum INTEGER NOT NULL);");
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
  if (found != kFormatVersion) {
    if (Status s = store->Upgrade(empty ? kFormatVersion : found); !s.ok()) return s;
  }
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
    c.head = std::move(c.engine_state);
    c.engine_state.clear();
    if (Status s = ReadParts(c.parts, c.rows); !s.ok()) return s;
    if (!MergeRows(c.rows)) {
      return Status::InvalidArgument("state store " + path_ +
                                     ": checkpoint parts do not fit together (corrupt)");
    }
    for (const StateGroupView& row : c.rows) c.last_rank = std::max(c.last_rank, row.rank);
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

Status StateStore::ReadParts(std::vector<std::string>& parts, std::vector<StateGroupView>& rows,
                             bool packed) {
  Statement read;
  if (sqlite3_prepare_v2(db_, "SELECT seq, length(rows), sum FROM parts ORDER BY seq", -1, &read.s,
                         nullptr) != SQLITE_OK) {
    return Error("cannot read the checkpoint's parts");
  }
  parts.clear();
  std::vector<std::pair<int64_t, uint64_t>> sums;  // (seq, sum)
  int step;
  while ((step = sqlite3_step(read.s)) == SQLITE_ROW) {
    sums.emplace_back(sqlite3_column_int64(read.s, 0),
                      static_cast<uint64_t>(sqlite3_column_int64(read.s, 2)));
    parts.emplace_back().resize(static_cast<size_t>(sqlite3_column_int64(read.s, 1)));
  }
  if (step != SQLITE_DONE) return Error("cannot read the checkpoint's parts");
  for (size_t i = 0; i < parts.size(); ++i) {
    // Straight into the part's buffer (a column blob would be copied twice).
    sqlite3_blob* blob = nullptr;
    if (sqlite3_blob_open(db_, "main", "parts", "rows", sums[i].first, 0, &blob) != SQLITE_OK) {
      sqlite3_blob_close(blob);
      return Error("cannot read the checkpoint's parts");
    }
    const bool read_ok =
        sqlite3_blob_bytes(blob) == static_cast<int>(parts[i].size()) &&
        sqlite3_blob_read(blob, parts[i].data(), static_cast<int>(parts[i].size()), 0) == SQLITE_OK;
    sqlite3_blob_close(blob);
    if (!read_ok) return Error("cannot read the checkpoint's parts");
    if (sums[i].second != (packed ? WideChecksum64(parts[i]) : Fnv1a64(parts[i]))) {
      return Status::InvalidArgument("state store " + path_ + ": checkpoint part " +
                                     std::to_string(sums[i].first) +
                                     " is corrupt (checksum mismatch)");
    }
  }
  for (const std::string& part : parts) {
    if (!(packed ? DecodePart(part, rows) : DecodeFixedPart(part, rows))) {
      return Status::InvalidArgument("state store " + path_ +
                                     ": checkpoint parts do not fit together (corrupt)");
    }
  }
  return Status::Ok();
}

// Format 2 -> 3: the parts' rows packed anew, in the transaction that marks the file 3 (a
// crash leaves a file of either version, whole).
Status StateStore::Upgrade(int found) {
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  auto fail = [this](Status s) {
    (void)Exec("ROLLBACK");
    return s;
  };
  if (found == 2) {
    std::vector<std::string> parts;
    std::vector<StateGroupView> rows;
    if (Status s = ReadParts(parts, rows, /*packed=*/false); !s.ok()) return fail(s);
    if (!parts.empty()) {
      // One part of the merged rows: what a compaction would write.
      if (!MergeRows(rows)) {
        return fail(Status::InvalidArgument("state store " + path_ +
                                            ": checkpoint parts do not fit together (corrupt)"));
      }
      part_.clear();
      AppendRows(rows.data(), rows.size(), part_);
      if (Status s = Exec("DELETE FROM parts"); !s.ok()) return fail(s);
      if (Status s = PutPart(part_); !s.ok()) return fail(s);
    }
  }
  const std::string version = "PRAGMA user_version = " + std::to_string(kFormatVersion);
  if (Status s = Exec(version.c_str()); !s.ok()) return fail(s);
  if (Status s = Exec("COMMIT"); !s.ok()) return fail(s);
  return Status::Ok();
}

Status StateStore::PutPart(const std::string& part) {
  Statement put;
  if (sqlite3_prepare_v2(db_, "INSERT INTO parts (rows, sum) VALUES (?1, ?2)", -1, &put.s,
                         nullptr) != SQLITE_OK) {
    return Error("cannot save the checkpoint's groups");
  }
  sqlite3_bind_blob64(put.s, 1, part.data(), part.size(), SQLITE_STATIC);
  sqlite3_bind_int64(put.s, 2, static_cast<int64_t>(WideChecksum64(part)));
  if (sqlite3_step(put.s) != SQLITE_DONE) return Error("cannot save the checkpoint's groups");
  last_save_bytes_ += part.size();
  return Status::Ok();
}

// Base + deltas: a full set of changes replaces every part (the base); otherwise the changes
// are appended as one delta, unless the deltas would then outweigh the base: the stored parts
// and the changes are merged in memory into a new base (compaction), written once. So a restart
// reads at most about twice the state, and changes larger than the state (the checkpoint that
// first writes a million groups) are never written as a delta and then again.
Status StateStore::SaveRows(const StateChanges& changes) {
  part_.clear();
  AppendRows(changes.groups.data(), changes.group_count, part_);
  if (!changes.full && delta_bytes_ + part_.size() > base_bytes_) {
    std::vector<std::string> parts;
    std::vector<StateGroupView> rows;
    if (Status s = ReadParts(parts, rows); !s.ok()) return s;
    rows.reserve(rows.size() + changes.group_count);
    for (size_t i = 0; i < changes.group_count; ++i) {
      const StateGroupRow& row = changes.groups[i];
      rows.push_back({row.rule, row.slot, row.rank, row.bytes});
    }
    if (!MergeRows(rows)) {
      return Status::InvalidArgument("state store " + path_ +
                                     ": checkpoint parts do not fit together (corrupt)");
    }
    part_.clear();
    AppendRows(rows.data(), rows.size(), part_);
  } else if (!changes.full) {
    if (Status s = PutPart(part_); !s.ok()) return s;
    delta_bytes_ += part_.size();
    return Status::Ok();
  }
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
  if (Status s = c.changes != nullptr ? SaveRows(*c.changes) : Exec("DELETE FROM parts"); !s.ok()) {
    (void)Exec("ROLLBACK");
    // The sizes may no longer be those of the stored parts: compact at the next save.
    base_bytes_ = 0;
    return s;
  }
  if (c.changes == nullptr) base_bytes_ = delta_bytes_ = 0;
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

Status Checkpoint::Restore(Engine& engine) {
  if (head.empty()) return engine.RestoreState(engine_state);
  return engine.RestoreChanges(head, rows);
}

Status Checkpoint::WholeState(std::string& out) const {
  if (head.empty()) {
    out = engine_state;
    return Status::Ok();
  }
  std::vector<StateGroupView> copy = rows;
  return AssembleState(head, copy, out);
}

size_t Checkpoint::Bytes() const {
  size_t n = engine_state.size() + head.size();
  for (const std::string& part : parts) n += part.size();
  return n;
}

}  // namespace klaxon::service
