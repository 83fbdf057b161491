// Incremental snapshots: a store that keeps the latest head and one row per group, fed by
// SaveStateChanges at random moments, assembles exactly the bytes SaveState writes, and an
// engine restored from it continues as the live one.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>

#include "tests/engine/engine_test_util.h"

namespace klaxon {
namespace {

using namespace klaxon::testing;

// What a state store does with the changes (service/state_store.cpp does it in SQLite).
struct RowStore {
  std::string head;
  std::map<std::pair<uint32_t, uint32_t>, StateGroupRow> rows;

  void Apply(const StateChanges& c) {
    head = c.head;
    if (c.full) rows.clear();
    for (size_t i = 0; i < c.group_count; ++i) {
      const StateGroupRow& r = c.groups[i];
      const auto key = std::make_pair(r.rule, r.slot);
      if (r.bytes.empty()) {
        rows.erase(key);
      } else if (r.rank == 0) {
        auto it = rows.find(key);
        REQUIRE(it != rows.end());  // an unmoved group was listed before
        it->second.bytes = r.bytes;
      } else {
        rows[key] = r;
      }
    }
  }
  std::string Assemble() const {
    std::vector<StateGroupRow> v;
    for (const auto& [key, row] : rows) v.push_back(row);
    std::shuffle(v.begin(), v.end(), std::mt19937_64(v.size()));  // any order
    std::string out;
    const Status s = AssembleState(head, v, out);
    REQUIRE_MESSAGE(s.ok(), s.message());
    return out;
  }
  // Engine::RestoreChanges straight from the rows, in any order.
  Status RestoreInto(Engine& e) const {
    std::vector<StateGroupView> v;
    for (const auto& [key, row] : rows) v.push_back({row.rule, row.slot, row.rank, row.bytes});
    std::shuffle(v.begin(), v.end(), std::mt19937_64(v.size() + 1));
    return e.RestoreChanges(head, v);
  }
};

std::vector<Rule> Rules() {
  FieldRef user = PathField("user.id", {"user", "id"});
  std::vector<Rule> rules;
  Rule c = CountRule("count", Predicate(), CompareOp::kGt, 3, 2000);
  c.group_by = {Service(), user};
  c.pending_ms = 300;
  c.keep_firing_ms = 200;
  c.repeat_ms = 700;
  rules.push_back(c);
  Rule flat = CountRule("flat", Predicate(), CompareOp::kLt, 2, 1500);
  flat.group_by = {user};
  rules.push_back(flat);
  Rule big = CountRule("big", Predicate(), CompareOp::kGt, 70, 20000);
  big.group_by = {Service()};
  rules.push_back(big);
  Rule u = CountRule("unique", Predicate(), CompareOp::kGt, 2, 3000);
  u.condition.kind = Condition::Kind::kUnique;
  u.condition.field = user;
  u.group_by = {Service()};
  rules.push_back(u);
  Rule ratio = RatioRule("ratio", Match(Level(), {"error"}), Predicate(), 60, 2000);
  ratio.group_by = {Service()};
  ratio.keep_firing_ms = 300;
  rules.push_back(ratio);
  Rule every = EveryRule("every", Match(Level(), {"fatal"}));
  every.repeat_ms = 500;
  every.group_by = {user};
  rules.push_back(every);
  Rule chg = CountRule("change", Predicate(), CompareOp::kGt, 150, 1000);
  chg.condition.kind = Condition::Kind::kChange;
  chg.condition.offset_ms = 2000;
  chg.group_by = {Service()};
  rules.push_back(chg);
  Rule nv = EveryRule("new", Predicate());
  nv.condition.kind = Condition::Kind::kNewValue;
  nv.condition.field = user;
  nv.group_by = {Service()};
  rules.push_back(nv);
  return rules;
}

std::unique_ptr<Engine> Make(const EngineOptions& options) {
  RuleSet rs;
  rs.rules = Rules();
  auto e = Engine::Create(std::move(rs), options);
  REQUIRE(e.ok());
  return std::move(e).value();
}

// SaveState of an engine restored straight from the store's rows.
std::string RestoredState(const RowStore& store, const EngineOptions& options) {
  auto e = Make(options);
  const Status s = store.RestoreInto(*e);
  REQUIRE_MESSAGE(s.ok(), s.message());
  std::string out;
  REQUIRE(e->SaveState(out).ok());
  return out;
}

std::string Event(std::mt19937_64& rng, int64_t t, int i) {
  const char* services[] = {"a", "b", "c", "d"};
  const char* levels[] = {"info", "error", "fatal"};
  return Ev(t, "\"event_id\":\"e" + std::to_string(i) + "\",\"tags\":{\"service\":\"" +
                   services[rng() % 4] + "\"},\"level\":\"" + levels[rng() % 3] +
                   "\",\"user\":{\"id\":\"u" + std::to_string(rng() % 40) + "\"}");
}

TEST_CASE("incremental snapshots assemble to SaveState's bytes at every checkpoint") {
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    EngineOptions options;
    options.allowed_lateness_ms = static_cast<int64_t>(rng() % 3) * 100;
    options.explain = seed % 2 == 0;
    options.max_groups_per_rule = seed % 3 == 0 ? 6 : 100000;  // eviction and slot reuse
    auto live = Make(options);
    RowStore store;
    StateChanges changes;
    std::vector<Notification> out;
    int64_t t = kT0;
    int checkpoints = 0;
    size_t incremental_rows = 0;
    for (int i = 0; i < 1500; ++i) {
      t += rng() % 50 == 0 ? 5000 : static_cast<int64_t>(rng() % 120);
      const int64_t jitter = options.allowed_lateness_ms > 0
                                 ? static_cast<int64_t>(rng() % options.allowed_lateness_ms)
                                 : 0;
      live->Process(Event(rng, t - jitter, i), out);
      if (rng() % 97 == 0) live->AdvanceTo(t + static_cast<int64_t>(rng() % 3000), out);
      if (rng() % 40 != 0) continue;
      REQUIRE(live->SaveStateChanges(changes).ok());
      CHECK(changes.full == (checkpoints == 0));
      if (checkpoints > 0) incremental_rows += changes.group_count;
      store.Apply(changes);
      ++checkpoints;
      std::string full;
      REQUIRE(live->SaveState(full).ok());
      REQUIRE(store.Assemble() == full);
      // Restored straight from the rows: the same engine.
      REQUIRE(RestoredState(store, options) == full);
      // Nothing happened since: nothing to write.
      REQUIRE(live->SaveStateChanges(changes).ok());
      CHECK(changes.group_count == 0);
      store.Apply(changes);
    }
    CHECK(checkpoints > 10);
    CHECK(incremental_rows > 0);

    // Restored from the store after a last checkpoint, an engine continues as the live one.
    REQUIRE(live->SaveStateChanges(changes).ok());
    store.Apply(changes);
    auto restored = Make(options);
    if (seed % 4 < 2) {
      REQUIRE(restored->RestoreState(store.Assemble()).ok());
    } else {
      REQUIRE(store.RestoreInto(*restored).ok());
    }
    std::vector<Notification> a, b;
    std::mt19937_64 tail(seed * 7);
    for (int i = 0; i < 300; ++i) {
      t += static_cast<int64_t>(tail() % 150);
      const std::string ev = Event(tail, t, 100000 + i);
      live->Process(ev, a);
      restored->Process(ev, b);
    }
    live->Flush(a);
    restored->Flush(b);
    CHECK(ShowAll(a) == ShowAll(b));
    std::string sa, sb;
    REQUIRE(live->SaveState(sa).ok());
    REQUIRE(restored->SaveState(sb).ok());
    CHECK(sa == sb);
    // The restored engine's first changes list every group: the store starts over from them.
    REQUIRE(restored->SaveStateChanges(changes).ok());
    CHECK(changes.full);
    RowStore fresh;
    fresh.Apply(changes);
    CHECK(fresh.Assemble() == sb);
  }
}

TEST_CASE("incremental snapshots: a rule with many groups restores from the rows alike") {
  // Above the engine's threshold a rule's rows are parsed on two threads.
  for (const bool explain : {false, true}) {
    CAPTURE(explain);
    EngineOptions options;
    options.allowed_lateness_ms = 0;
    options.explain = explain;
    auto live = Make(options);
    std::vector<Notification> out;
    for (int i = 0; i < 60000; ++i) {
      live->Process(Ev(kT0 + i, "\"event_id\":\"e" + std::to_string(i) +
                                    "\",\"tags\":{\"service\":\"s" + std::to_string(i % 7) +
                                    "\"},\"level\":\"" + (i % 5 == 0 ? "fatal" : "error") +
                                    "\",\"user\":{\"id\":\"u" + std::to_string(i % 20011) + "\"}"),
                    out);
    }
    RowStore store;
    StateChanges changes;
    REQUIRE(live->SaveStateChanges(changes).ok());
    store.Apply(changes);
    REQUIRE(changes.group_count > 40000);
    std::string whole;
    REQUIRE(live->SaveState(whole).ok());
    CHECK(RestoredState(store, options) == whole);
    // A damaged row is refused in the first half of the rows and in the second.
    std::vector<StateGroupView> views;
    for (const auto& [key, row] : store.rows) {
      views.push_back({row.rule, row.slot, row.rank, row.bytes});
    }
    size_t last_of_rule0 = 0;
    while (last_of_rule0 + 1 < views.size() && views[last_of_rule0 + 1].rule == 0) ++last_of_rule0;
    REQUIRE(last_of_rule0 > 20000);
    for (const size_t at : {size_t{5}, last_of_rule0}) {
      std::vector<StateGroupView> cut = views;
      cut[at].bytes.remove_suffix(1);
      auto refused = Make(options);
      const Status r = refused->RestoreChanges(store.head, cut);
      CHECK(r.message().find("truncated") != std::string::npos);
    }
  }
}

TEST_CASE("incremental snapshots: changes a store failed to write are listed again") {
  EngineOptions options;
  options.allowed_lateness_ms = 0;
  std::mt19937_64 rng(5);
  auto e = Make(options);
  std::vector<Notification> out;
  int64_t t = kT0;
  auto feed = [&](int n) {
    for (int i = 0; i < n; ++i) e->Process(Event(rng, t += 37, i), out);
  };
  RowStore store;
  StateChanges c;
  feed(300);
  REQUIRE(e->SaveStateChanges(c).ok());
  store.Apply(c);
  feed(200);
  REQUIRE(e->SaveStateChanges(c).ok());  // the store's write fails: these rows are lost
  REQUIRE(c.group_count > 0);
  e->ResendAllChanges();
  feed(20);
  REQUIRE(e->SaveStateChanges(c).ok());
  CHECK(c.full);
  store.Apply(c);
  std::string whole;
  REQUIRE(e->SaveState(whole).ok());
  CHECK(store.Assemble() == whole);
  // Listed once: the next changes are incremental again.
  feed(5);
  REQUIRE(e->SaveStateChanges(c).ok());
  CHECK_FALSE(c.full);
  store.Apply(c);
  REQUIRE(e->SaveState(whole).ok());
  CHECK(store.Assemble() == whole);
}

TEST_CASE("incremental snapshots: a restored engine continues the stored rows") {
  EngineOptions options;
  options.allowed_lateness_ms = 100;
  options.max_groups_per_rule = 9;  // eviction and slot reuse
  std::mt19937_64 rng(11);
  int64_t t = kT0;
  std::vector<Notification> out;
  auto feed = [&](Engine& e, int n) {
    for (int i = 0; i < n; ++i) e.Process(Event(rng, t += 53, i), out);
  };
  auto live = Make(options);
  RowStore store;
  StateChanges c;
  for (int round = 0; round < 5; ++round) {
    feed(*live, 150);
    REQUIRE(live->SaveStateChanges(c).ok());
    store.Apply(c);
  }
  uint64_t last_rank = 0;
  for (const auto& [key, row] : store.rows) last_rank = std::max(last_rank, row.rank);

  auto restored = Make(options);
  REQUIRE(store.RestoreInto(*restored).ok());
  REQUIRE(restored->ContinueChanges(last_rank));
  REQUIRE(restored->SaveStateChanges(c).ok());
  CHECK_FALSE(c.full);
  CHECK(c.group_count == 0);  // nothing changed since the restore
  store.Apply(c);
  for (int round = 0; round < 5; ++round) {
    feed(*restored, 4);  // a few groups: the others keep their stored ranks
    REQUIRE(restored->SaveStateChanges(c).ok());
    CHECK_FALSE(c.full);
    store.Apply(c);
    std::string whole;
    REQUIRE(restored->SaveState(whole).ok());
    REQUIRE(store.Assemble() == whole);
  }
  // Only right after the restore, and not twice.
  CHECK_FALSE(restored->ContinueChanges(last_rank));

  // Rules changed between the runs, or other options: the stored rows are not this engine's.
  std::string state;
  REQUIRE(live->SaveState(state).ok());
  RuleSet fewer;
  fewer.rules = Rules();
  fewer.rules.erase(fewer.rules.begin());
  auto changed = Engine::Create(std::move(fewer), options);
  REQUIRE(changed.ok());
  REQUIRE((*changed)->RestoreState(state).ok());
  CHECK_FALSE((*changed)->ContinueChanges(last_rank));
  EngineOptions explain = options;
  explain.explain = true;
  auto other = Make(explain);
  REQUIRE(other->RestoreState(state).ok());
  CHECK_FALSE(other->ContinueChanges(last_rank));
  auto fresh = Make(options);
  CHECK_FALSE(fresh->ContinueChanges(last_rank));  // nothing restored
}

TEST_CASE("incremental snapshots: a damaged head or rows that do not fit are refused") {
  EngineOptions options;
  options.allowed_lateness_ms = 0;
  auto e = Make(options);
  std::vector<Notification> out;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) e->Process(Event(rng, kT0 + i * 10, i), out);
  StateChanges c;
  REQUIRE(e->SaveStateChanges(c).ok());
  RowStore store;
  store.Apply(c);
  REQUIRE(!store.rows.empty());
  std::vector<StateGroupRow> rows;
  for (const auto& [key, row] : store.rows) rows.push_back(row);
  std::string out_bytes;
  // Both ways of reading them refuse alike, and a refusing engine stays empty and usable.
  auto refused = [&](std::string head, std::vector<StateGroupRow> r) {
    const Status s = AssembleState(head, r, out_bytes);
    CHECK(!s.ok());
    std::vector<StateGroupView> v;
    for (const StateGroupRow& row : r) v.push_back({row.rule, row.slot, row.rank, row.bytes});
    auto direct = Make(options);
    const Status d = direct->RestoreChanges(head, v);
    CHECK(!d.ok());
    CHECK(d.message() == s.message());
    CHECK(direct->Stats().rules[0].groups == 0);
    return s.message();
  };
  std::string head = store.head;
  head[head.size() / 2] ^= 1;
  CHECK(refused(head, rows).find("checksum mismatch") != std::string::npos);
  CHECK(refused(store.head.substr(0, 10), rows).find("truncated") != std::string::npos);
  CHECK(refused(std::string(64, 'x'), rows).find("bad magic") != std::string::npos);
  std::vector<StateGroupRow> extra = rows;
  extra.push_back(rows.front());  // the same group twice
  CHECK(refused(store.head, extra).find("two rows") != std::string::npos);
  std::vector<StateGroupRow> stray = rows;
  stray.back().rule = 1000;  // a rule the head does not have
  CHECK(refused(store.head, stray).find("no rule") != std::string::npos);
  // A group row that lost its bytes is refused by the restore (counts do not match).
  std::vector<StateGroupRow> missing(rows.begin() + 1, rows.end());
  std::string assembled;
  REQUIRE(AssembleState(store.head, missing, assembled).ok());
  auto fresh = Make(options);
  const Status whole = fresh->RestoreState(assembled);
  CHECK(!whole.ok());
  std::vector<StateGroupView> views;
  for (const StateGroupRow& row : missing) {
    views.push_back({row.rule, row.slot, row.rank, row.bytes});
  }
  auto direct = Make(options);
  const Status d = direct->RestoreChanges(store.head, views);
  CHECK(!d.ok());
  CHECK(d.message().find("free slots do not match") != std::string::npos);
  // A row whose bytes are cut short.
  views.clear();
  for (const StateGroupRow& row : rows) views.push_back({row.rule, row.slot, row.rank, row.bytes});
  views.back().bytes.remove_suffix(1);
  auto cut = Make(options);
  CHECK(!cut->RestoreChanges(store.head, views).ok());
  // The refusing engines are still fresh: the whole rows restore into them.
  for (StateGroupView& v : views) v.bytes = store.rows[{v.rule, v.slot}].bytes;
  CHECK(cut->RestoreChanges(store.head, views).ok());
}

}  // namespace
}  // namespace klaxon
