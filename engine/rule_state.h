// The engine's per-rule state: groups (key, lifecycle, window fields), the per-rule slabs, and
// the compiled rule that reads them. Plain data shared by the engine and the window kinds
// (window.h); only the engine creates and removes groups. Internal to the engine.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "engine/group_table.h"
#include "engine/lifecycle.h"
#include "engine/predicate.h"
#include "engine/run_ring.h"
#include "engine/time_math.h"

namespace klaxon {

class WindowKind;

// The condition kind; its number is part of the snapshot format (a rule section's layout).
enum class Mode : uint8_t { kEvery, kNewValue, kCount, kUnique, kChange, kRatio };

// Rarely needed or per-kind state, allocated when a group first needs it.
struct GroupExtra {
  RunRing a;  // count (large k), change: all events; ratio: A and B
  RunRing b;  // ratio: B
  std::vector<std::pair<uint64_t, int64_t>> unique;  // (value hash, last seen), oldest first
  std::unordered_set<uint64_t> seen;                 // new value
  std::string trigger_json;
  std::vector<std::string> trigger_ids;
};

struct Group {
  std::string key;  // the group-by values, encoded (see BuildGroupKey)
  uint64_t key_hash = 0;
  uint32_t prev = kNil;
  uint32_t next = kNil;
  uint32_t gen = 0;
  uint32_t ring_head = 0;  // small count rings (window_count.cpp)
  uint32_t ring_size = 0;
  uint32_t repeat_index = 0;
  bool alive = false;
  bool cond = false;
  Life life = Life::kInactive;
  // Incremental snapshots: changed / moved to the LRU tail since the last one (in padding,
  // so a group costs no more).
  bool dirty = false;
  bool touched = false;
  int64_t first_seen = 0;
  int64_t last_event = 0;
  int64_t since = 0;  // pending since, or episode start while firing
  int64_t false_since = kNone;
  int64_t last_notified = kNone;
  int64_t scheduled = kNever;
  double value = 0;
  std::unique_ptr<GroupExtra> extra;

  GroupExtra& X() {
    if (!extra) extra = std::make_unique<GroupExtra>();
    return *extra;
  }
};

// Everything that survives a reload of an unchanged rule.
struct RuleState {
  GroupTable table;
  std::vector<Group> groups;
  std::vector<uint32_t> free_slots;
  std::vector<int64_t> ring;          // k timestamps per slot (small count rules)
  std::vector<std::string> ring_ids;  // parallel event ids (explain)
  uint32_t lru_head = kNil;
  uint32_t lru_tail = kNil;
  uint32_t single_slot = kNil;  // the group of a rule without group by
  // Slots whose group changed since the last SaveStateChanges; kept only once one was asked for
  // (an engine that never checkpoints incrementally pays nothing per group).
  std::vector<uint32_t> dirty_slots;
  bool track_changes = false;
  RuleStats stats;
};

// Fields read per matching event come first and are copied out of Rule, so a match touches
// few cache lines (10,000 rules do not fit in L1/L2).
struct CompiledRule {
  Mode mode = Mode::kEvery;
  bool lower = false;  // count/unique `<`/`<=`: the condition is "fewer than k"
  bool small_ring = false;
  bool index_exact = false;  // the index key implies the whole filter: skip evaluating it
  // Copied from the kind (WindowKind::HasLifecycle, whether Counts can say no), so that most
  // matches make no call to ask.
  bool has_lifecycle = true;
  bool counts_some = false;
  uint32_t index = 0;
  uint32_t value_field = 0;
  uint64_t k = 1;  // count/unique: the condition is about "at least k"
  int64_t merge_ms = 1;
  int64_t window = 0;
  int64_t offset = 0;
  LifecycleRule lifecycle;
  std::vector<uint32_t> group_fields;
  std::unique_ptr<RuleState> state;
  const WindowKind* kind = nullptr;
  CompiledPredicate filter;
  const Rule* rule = nullptr;
  CompiledPredicate numerator;
  CompiledPredicate denominator;
};

}  // namespace klaxon
