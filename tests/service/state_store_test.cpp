// The checkpoint store: a checkpoint round-trips and replaces the previous one; files that are
// not a Klaxon state store, of another version, damaged or not writable are refused with the
// file's name, never read as empty state.
#include "service/state_store.h"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/hash.h"
#include "engine/state_codec.h"

namespace klaxon::service {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "klaxon-state-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string File(const std::string& name) const { return (path / name).string(); }
};

Checkpoint Sample(const std::string& state, int64_t offset) {
  Checkpoint c;
  c.engine_state = state;
  c.engine_state.push_back('\0');  // binary, not text
  c.offsets = {{"events", 0, offset}, {"events", 7, offset + 10}, {"other", 0, 3}};
  c.saved_at_ms = 1764028800000;
  return c;
}

TEST_CASE("state store: a checkpoint round-trips, and a save replaces the previous one") {
  TempDir dir;
  const std::string path = dir.File("klaxon.state");
  {
    auto store = StateStore::Open(path);
    REQUIRE_MESSAGE(store.ok(), store.status().message());
    auto none = (*store)->Load();
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
    REQUIRE((*store)->Save(Sample("first", 100)).ok());
    REQUIRE((*store)->Save(Sample("second", 200)).ok());
  }
  auto store = StateStore::Open(path);  // as after a restart
  REQUIRE(store.ok());
  auto loaded = (*store)->Load();
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  const Checkpoint& c = **loaded;
  CHECK(c.engine_state == std::string("second") + '\0');
  CHECK(c.saved_at_ms == 1764028800000);
  REQUIRE(c.offsets.size() == 3);
  for (const PartitionOffset& o : c.offsets) {
    if (o.topic == "events" && o.partition == 0) CHECK(o.next_offset == 200);
    if (o.topic == "events" && o.partition == 7) CHECK(o.next_offset == 210);
    if (o.topic == "other") CHECK(o.next_offset == 3);
  }
}

TEST_CASE("state store: foreign, damaged and other-version files are refused by name") {
  TempDir dir;
  const std::string garbage = dir.File("garbage.state");
  std::ofstream(garbage) << std::string(8192, 'x');
  auto a = StateStore::Open(garbage);
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().message().find(garbage) != std::string::npos);
  CHECK(a.status().message().find("not a readable Klaxon state store") != std::string::npos);

  const std::string truncated = dir.File("truncated.state");
  {
    auto store = StateStore::Open(truncated);
    REQUIRE(store.ok());
    REQUIRE((*store)->Save(Sample(std::string(100000, 's'), 1)).ok());
    REQUIRE((*store)->Save(Sample(std::string(100000, 't'), 2)).ok());
  }
  fs::remove(truncated + "-wal");
  fs::remove(truncated + "-shm");
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  auto b = StateStore::Open(truncated);
  if (b.ok()) {
    // SQLite may open a cut file; reading what was cut off must then fail, never look empty.
    auto loaded = (*b)->Load();
    CHECK_FALSE((loaded.ok() && !loaded->has_value()));
  } else {
    CHECK(b.status().message().find(truncated) != std::string::npos);
  }

  const std::string other = dir.File("other.state");
  { REQUIRE(StateStore::Open(other).ok()); }
  {
    // As a later Klaxon with another format would have left it.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(other.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 7", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto c = StateStore::Open(other);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message() == "state store " + other +
                                    ": format version 7, this Klaxon reads 3 (move the file "
                                    "away to start with empty state)");
}

TEST_CASE("state store: a file it cannot write is refused at open") {
  TempDir dir;
  const std::string path = dir.File("ro.state");
  { REQUIRE(StateStore::Open(path).ok()); }
  REQUIRE(::chmod(path.c_str(), 0444) == 0);
  REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
  // Root writes read-only files anyway: try as nobody, in a child.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
    auto store = StateStore::Open(path);
    if (store.ok()) ::_exit(1);
    ::_exit(store.status().message().find(path) != std::string::npos ? 0 : 2);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace klaxon::service

namespace klaxon::service {
namespace {

std::unique_ptr<Engine> CountEngine() {
  Rule r;
  r.name = "per-user";
  r.condition.kind = Condition::Kind::kCount;
  r.condition.op = CompareOp::kGt;
  r.condition.threshold = 2;
  r.condition.window_ms = 60000;
  FieldRef user;
  user.name = "user.id";
  user.kind = FieldRef::Kind::kPath;
  user.path = {"user", "id"};
  r.group_by = {user};
  RuleSet rs;
  rs.rules.push_back(r);
  EngineOptions o;
  o.allowed_lateness_ms = 0;
  auto e = Engine::Create(std::move(rs), o);
  REQUIRE(e.ok());
  return std::move(e).value();
}

void Feed(Engine& e, int from, int to, int users) {
  std::vector<Notification> out;
  for (int i = from; i < to; ++i) {
    e.Process("{\"timestamp\":" + std::to_string(1764028800 + i) + ",\"user\":{\"id\":\"u" +
                  std::to_string(i % users) + "\"}}",
              out);
  }
}

// A part written by hand, as a damaged file or an earlier Klaxon would hold it.
void InsertPart(sqlite3* db, const std::string& part, uint64_t sum) {
  sqlite3_stmt* put = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO parts (rows, sum) VALUES (?1, ?2)", -1, &put,
                             nullptr) == SQLITE_OK);
  sqlite3_bind_blob(put, 1, part.data(), static_cast<int>(part.size()), SQLITE_STATIC);
  sqlite3_bind_int64(put, 2, static_cast<int64_t>(sum));
  CHECK(sqlite3_step(put) == SQLITE_DONE);
  sqlite3_finalize(put);
}

TEST_CASE("state store: incremental checkpoints load as the engine's whole state") {
  TempDir dir;
  const std::string path = dir.File("klaxon.state");
  auto engine = CountEngine();
  StateChanges changes;
  Checkpoint c;
  c.changes = &changes;
  c.offsets = {{"events", 0, 1}};
  size_t first_bytes = 0;
  {
    auto store = StateStore::Open(path);
    REQUIRE(store.ok());
    Feed(*engine, 0, 2000, 500);
    REQUIRE(engine->SaveStateChanges(changes).ok());
    CHECK(changes.full);
    REQUIRE((*store)->Save(c).ok());
    first_bytes = (*store)->last_save_bytes();
    // A few users later: only their rows are written.
    int small = 0;
    int compactions = 0;
    for (int round = 0; round < 60; ++round) {
      Feed(*engine, 2000 + round * 10, 2010 + round * 10, 7 + round % 13);
      REQUIRE(engine->SaveStateChanges(changes).ok());
      CHECK_FALSE(changes.full);
      CHECK(changes.group_count <= 20);
      REQUIRE((*store)->Save(c).ok());
      small += (*store)->last_save_bytes() * 5 < first_bytes;
      compactions += (*store)->last_save_bytes() * 2 > first_bytes;
      std::string live;
      REQUIRE(engine->SaveState(live).ok());
      auto loaded = (*store)->Load();  // across compactions (the deltas outgrow the base)
      REQUIRE(loaded.ok());
      std::string assembled;
      REQUIRE((**loaded).WholeState(assembled).ok());
      REQUIRE(assembled == live);
    }
    CHECK(small >= 50);       // most checkpoints write only what changed
    CHECK(compactions >= 1);  // and the deltas were merged into a new base
  }
  std::string expected;
  REQUIRE(engine->SaveState(expected).ok());
  auto store = StateStore::Open(path);
  REQUIRE(store.ok());
  auto loaded = (*store)->Load();
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK((**loaded).engine_state.empty());  // restored from the rows
  std::string assembled;
  REQUIRE((**loaded).WholeState(assembled).ok());
  CHECK(assembled == expected);
  auto restored = CountEngine();
  REQUIRE((**loaded).Restore(*restored).ok());
  std::string again;
  REQUIRE(restored->SaveState(again).ok());
  CHECK(again == expected);

  // A whole checkpoint afterwards replaces the rows.
  Checkpoint whole;
  whole.engine_state = expected;
  REQUIRE((*store)->Save(whole).ok());
  loaded = (*store)->Load();
  REQUIRE(loaded.ok());
  CHECK((**loaded).engine_state == expected);
}

TEST_CASE("state store: a damaged checkpoint part is refused by name") {
  TempDir dir;
  const std::string path = dir.File("klaxon.state");
  auto engine = CountEngine();
  Feed(*engine, 0, 100, 10);
  StateChanges changes;
  REQUIRE(engine->SaveStateChanges(changes).ok());
  Checkpoint c;
  c.changes = &changes;
  {
    auto store = StateStore::Open(path);
    REQUIRE(store.ok());
    REQUIRE((*store)->Save(c).ok());
  }
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "UPDATE parts SET sum = sum + 1", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = StateStore::Open(path);
  REQUIRE(store.ok());
  auto loaded = (*store)->Load();
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().message() ==
        "state store " + path + ": checkpoint part 1 is corrupt (checksum mismatch)");
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "DELETE FROM parts", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  {
    // A well-formed part with a valid checksum that updates a group no part holds.
    std::string part;
    StateWriter w(part);
    w.Var(1);  // rows
    w.Var(0);  // rule
    w.Var(6);  // slot 3 (zigzag)
    w.Var(0);  // rank 0: an update of the group's bytes
    w.Var(1);
    part += "x";
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    InsertPart(db, part, WideChecksum64(part));
    sqlite3_close(db);
  }
  loaded = (*store)->Load();
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().message() ==
        "state store " + path + ": checkpoint parts do not fit together (corrupt)");
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "DELETE FROM parts", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  // Missing groups load, and the restore refuses what no longer adds up.
  loaded = (*store)->Load();
  REQUIRE(loaded.ok());
  auto restored = CountEngine();
  CHECK_FALSE((**loaded).Restore(*restored).ok());
}

// Format 2's rows: u32 count, per row u32 rule, u32 slot, u64 rank, u32 length + bytes.
std::string FixedPart(const StateChanges& c) {
  std::string part;
  StateWriter w(part);
  w.U32(static_cast<uint32_t>(c.group_count));
  for (size_t i = 0; i < c.group_count; ++i) {
    w.U32(c.groups[i].rule);
    w.U32(c.groups[i].slot);
    w.U64(c.groups[i].rank);
    w.Str(c.groups[i].bytes);
  }
  return part;
}

TEST_CASE("state store: a format-2 file is read, upgraded to 3, and continued") {
  TempDir dir;
  const std::string path = dir.File("klaxon.state");
  auto engine = CountEngine();
  // As the Klaxon before format 3 left it: a base and two deltas of fixed-width rows.
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db,
                         "PRAGMA journal_mode=WAL;"
                         "CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1),"
                         " engine_state BLOB NOT NULL, saved_at_ms INTEGER NOT NULL);"
                         "CREATE TABLE offsets (topic TEXT NOT NULL, partition INTEGER NOT NULL,"
                         " next_offset INTEGER NOT NULL, event_time_ms INTEGER NOT NULL,"
                         " PRIMARY KEY (topic, partition));"
                         "CREATE TABLE parts (seq INTEGER PRIMARY KEY, rows BLOB NOT NULL,"
                         " sum INTEGER NOT NULL);"
                         "INSERT INTO offsets VALUES ('events', 0, 1234, 5);"
                         "PRAGMA user_version = 2;",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    StateChanges changes;
    for (int round = 0; round < 3; ++round) {
      Feed(*engine, round * 300, round * 300 + 300, round == 0 ? 200 : 17);
      REQUIRE(engine->SaveStateChanges(changes).ok());
      CHECK(changes.full == (round == 0));
      const std::string part = FixedPart(changes);
      InsertPart(db, part, Fnv1a64(part));  // format 2's checksum
    }
    sqlite3_stmt* head = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO checkpoint VALUES (1, ?1, 7)", -1, &head,
                               nullptr) == SQLITE_OK);
    sqlite3_bind_blob(head, 1, changes.head.data(), static_cast<int>(changes.head.size()),
                      SQLITE_STATIC);
    CHECK(sqlite3_step(head) == SQLITE_DONE);
    sqlite3_finalize(head);
    sqlite3_close(db);
  }
  std::string expected;
  REQUIRE(engine->SaveState(expected).ok());
  auto store = StateStore::Open(path);
  REQUIRE_MESSAGE(store.ok(), store.status().message());
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(db,
                               "SELECT (SELECT user_version FROM pragma_user_version),"
                               " (SELECT count(*) FROM parts)",
                               -1, &q, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    CHECK(sqlite3_column_int(q, 0) == 3);
    CHECK(sqlite3_column_int(q, 1) == 1);  // merged into one packed base
    sqlite3_finalize(q);
    sqlite3_close(db);
  }
  auto loaded = (*store)->Load();
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  REQUIRE(loaded->has_value());
  CHECK((**loaded).offsets.at(0).next_offset == 1234);
  CHECK((**loaded).saved_at_ms == 7);
  std::string assembled;
  REQUIRE((**loaded).WholeState(assembled).ok());
  CHECK(assembled == expected);
  auto restored = CountEngine();
  REQUIRE((**loaded).Restore(*restored).ok());
  REQUIRE(restored->ContinueChanges((**loaded).last_rank));
  // The restored engine goes on appending to the upgraded rows.
  Feed(*restored, 900, 950, 13);
  StateChanges changes;
  REQUIRE(restored->SaveStateChanges(changes).ok());
  CHECK_FALSE(changes.full);
  Checkpoint c;
  c.changes = &changes;
  REQUIRE((*store)->Save(c).ok());
  REQUIRE(restored->SaveState(expected).ok());
  loaded = (*store)->Load();
  REQUIRE(loaded.ok());
  REQUIRE((**loaded).WholeState(assembled).ok());
  CHECK(assembled == expected);
}

TEST_CASE("state store: changes that outweigh the stored base are written once, as the base") {
  TempDir dir;
  const std::string path = dir.File("klaxon.state");
  auto engine = CountEngine();
  auto store = StateStore::Open(path);
  REQUIRE(store.ok());
  StateChanges changes;
  Checkpoint c;
  c.changes = &changes;
  Feed(*engine, 0, 10, 10);
  REQUIRE(engine->SaveStateChanges(changes).ok());
  REQUIRE((*store)->Save(c).ok());
  // Many new groups at once, as the checkpoint after the first read of a backlog.
  Feed(*engine, 10, 5010, 5000);
  REQUIRE(engine->SaveStateChanges(changes).ok());
  CHECK_FALSE(changes.full);
  size_t row_bytes = 0;
  for (size_t i = 0; i < changes.group_count; ++i) row_bytes += changes.groups[i].bytes.size();
  REQUIRE((*store)->Save(c).ok());
  // One base holding every group, each with a few bytes of framing: not a delta and a base.
  CHECK((*store)->last_save_bytes() <
        row_bytes + changes.group_count * 8 + changes.head.size() + 1000);
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM parts", -1, &q, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    CHECK(sqlite3_column_int(q, 0) == 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
  }
  std::string expected;
  REQUIRE(engine->SaveState(expected).ok());
  auto loaded = (*store)->Load();
  REQUIRE(loaded.ok());
  std::string assembled;
  REQUIRE((**loaded).WholeState(assembled).ok());
  CHECK(assembled == expected);
}

}  // namespace
}  // namespace klaxon::service
