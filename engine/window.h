// WindowKind: one condition kind (every, new value, count, unique, change, ratio) behind one
// interface, one file each (window_*.cpp). A kind keeps no state of its own: it reads and
// writes the group's window fields (rule_state.h) with the rule's compiled parameters. The
// engine owns groups, the lifecycle (lifecycle.h) and timers (event_time_queue.h). Internal.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/hash.h"
#include "engine/rule.h"
#include "engine/rule_state.h"
#include "engine/state_codec.h"

namespace klaxon {

class FieldTable;
struct DecodedEvent;

// Count thresholds up to this keep exact timestamps in a fixed ring (8 bytes per event).
inline constexpr uint32_t kMaxRingK = 64;
// Past it, and for ratio/change, runs of events are merged when closer than W / kRunsPerWindow.
inline constexpr int64_t kRunsPerWindow = 4096;
inline constexpr uint32_t kMaxUniqueK = 100000;
inline constexpr size_t kMaxNewValues = 100000;

// Parts of a group's GroupExtra in a snapshot (a mask byte says which follow, in this order).
// The window parts belong to the kinds; trigger and ids to the lifecycle.
inline constexpr uint8_t kExtraA = 1;
inline constexpr uint8_t kExtraB = 2;
inline constexpr uint8_t kExtraUnique = 4;
inline constexpr uint8_t kExtraSeen = 8;
inline constexpr uint8_t kExtraTrigger = 16;
inline constexpr uint8_t kExtraIds = 32;
inline constexpr uint8_t kExtraWindowParts = kExtraA | kExtraB | kExtraUnique | kExtraSeen;
inline constexpr uint8_t kExtraAll = 63;

// FNV-1a (engine/hash.h) with a final mix: unique and new-value sets bucket by the low bits.
inline uint64_t Hash64(std::string_view s) {
  const uint64_t h = Fnv1a64(s);
  return h ^ (h >> 29);
}

// (1-based) threshold k such that a count condition is "count >= k" (upper) or "count < k"
// (lower).
void ThresholdToK(CompareOp op, double x, uint64_t& k, bool& lower);

// Notifications a kind decides while adding an event (every, new value): a `firing` for the
// event being added, with the group's value and episode start as the kind just set them.
class WindowSink {
 public:
  virtual void Fire(Group& g) = 0;

 protected:
  ~WindowSink() = default;
};

class WindowKind {
 public:
  virtual ~WindowKind() = default;

  // Sets the rule's window parameters (mode, k, merge interval, fields) from its condition.
  virtual void Compile(const Condition& c, FieldTable& fields, CompiledRule& cr) const = 0;
  // Bytes of window state one group costs (StateBytesPerGroup), from the engine's type sizes.
  virtual size_t Bytes(const Condition& c) const = 0;
  // Whether the lifecycle step follows Add and timers; false for kinds that notify from Add
  // (copied to cr.has_lifecycle).
  virtual bool HasLifecycle() const { return true; }
  // Whether a matching event counts for the rule (a ratio counts its denominator's events; the
  // others only move its groups' clocks). Asked only when Compile set cr.counts_some.
  virtual bool Counts(const CompiledRule&, const DecodedEvent&) const { return true; }
  // Per-slot storage outside Group (a count's ring: k times per slot in RuleState::ring, which
  // the engine prefetches with the group) for `slots` slots.
  virtual void SizeSlots(const CompiledRule&, RuleState&, size_t /*slots*/,
                         bool /*explain*/) const {}

  // Adds the event (at ev.time_ms) to group `slot`; `counts` is Counts(cr, ev).
  virtual void Add(const CompiledRule& cr, RuleState& st, uint32_t slot, const DecodedEvent& ev,
                   bool counts, bool explain, WindowSink& sink) const = 0;
  // Sets the group's cond (and value) for time t; no event is added.
  virtual void Evaluate(const CompiledRule& cr, RuleState& st, uint32_t slot, int64_t t) const = 0;
  // The next time the window alone (no new event) could flip the condition, or kNever. Called
  // after the lifecycle step (some kinds look only while pending or firing).
  virtual int64_t NextChange(const CompiledRule& cr, RuleState& st, uint32_t slot,
                             int64_t t) const = 0;
  // Whether an inactive group may be evicted at t without changing any future output.
  virtual bool Evictable(const CompiledRule& cr, const Group& g, int64_t t) const = 0;
  // The value a notification or active alert at t reports.
  virtual double Value(const CompiledRule&, const RuleState& st, uint32_t slot, int64_t) const {
    return st.groups[slot].value;
  }
  // explain: the ids of the events behind an episode starting at `ev` (nullptr: a timer).
  virtual void TriggerIds(const CompiledRule& cr, const RuleState& st, uint32_t slot,
                          const DecodedEvent* ev, std::vector<std::string>& ids) const;

  // Snapshot of a group's window (engine/README.md, "State snapshots"). Save/Restore: what the
  // group holds outside GroupExtra (a count's ring), right after the lifecycle fields. Parts:
  // which window parts of its GroupExtra are saved; SaveParts/RestoreParts write and read them
  // in kExtra* order. Restore failures name what is wrong in `error`.
  virtual void Save(const CompiledRule&, const RuleState&, uint32_t /*slot*/, bool /*explain*/,
                    StateWriter&) const {}
  virtual bool Restore(const CompiledRule&, RuleState&, uint32_t /*slot*/, bool /*has_ids*/,
                       bool /*explain*/, StateReader&, std::string& /*error*/) const {
    return true;
  }
  virtual uint8_t Parts(const GroupExtra&) const { return 0; }
  virtual void SaveParts(const GroupExtra&, uint8_t /*parts*/, StateWriter&) const {}
  // `parts` holds only window bits; bits of another kind's parts are refused.
  virtual bool RestoreParts(uint8_t parts, StateReader&, GroupExtra&, std::string& error) const;
};

// Kinds whose GroupExtra window parts are run rings: count with k > kMaxRingK and change (A),
// ratio (A and B). `owned` says which.
class RunRingWindow : public WindowKind {
 public:
  uint8_t Parts(const GroupExtra& x) const override;
  void SaveParts(const GroupExtra& x, uint8_t parts, StateWriter& w) const override;
  bool RestoreParts(uint8_t parts, StateReader& r, GroupExtra& x,
                    std::string& error) const override;

 protected:
  explicit RunRingWindow(uint8_t owned) : owned_(owned) {}

 private:
  uint8_t owned_;
};

// Next change of a "count of kept observations >= k" condition (count, unique): an upper
// condition stops holding when the oldest of the k kept leaves the window; a lower one
// ("fewer than k", absence) can start once the group has been seen for a whole window and
// then when the oldest kept leaves. `oldest_kept()`: its time, or kNone with fewer than k.
template <typename OldestKept>
int64_t ThresholdNextChange(const CompiledRule& cr, const Group& g, int64_t t,
                            const OldestKept& oldest_kept) {
  if (!cr.lower) return g.cond ? SatAdd(oldest_kept(), cr.window) : kNever;
  if (g.cond || cr.k == 0) return kNever;
  const int64_t eligible = SatAdd(g.first_seen, cr.window);
  if (eligible > t) return eligible;
  const int64_t o = oldest_kept();
  return o == kNone ? kNever : std::max(eligible, SatAdd(o, cr.window));
}

// The kind of a condition (one object per kind, without state).
const WindowKind& WindowKindFor(Condition::Kind kind);
const WindowKind& EveryWindow();
const WindowKind& NewValueWindow();
const WindowKind& CountWindow();
const WindowKind& UniqueWindow();
const WindowKind& ChangeWindow();
const WindowKind& RatioWindow();

// Run rings in snapshots (count with large k, change, ratio): u32 runs, then (i64 ts, u64 count).
void SaveRuns(const RunRing& ring, StateWriter& w);
void LoadRuns(StateReader& r, RunRing& ring);

}  // namespace klaxon
