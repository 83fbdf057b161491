// `change(...) OP P% in W vs O ago`: the count in the last W against the count in the W that
// ended O ago, from runs of (time, count) covering O + W. Looked at again, while pending or
// firing, whenever a run enters or leaves one of the two windows.
#include <algorithm>
#include <initializer_list>

#include "engine/event_decoder.h"
#include "engine/window.h"

namespace klaxon {

namespace {

class Change final : public RunRingWindow {
 public:
  Change() : RunRingWindow(kExtraA) {}
  void Compile(const Condition& c, FieldTable&, CompiledRule& cr) const override {
    cr.mode = Mode::kChange;
    cr.merge_ms = std::max<int64_t>(1, (c.window_ms + c.offset_ms) / kRunsPerWindow);
  }
  size_t Bytes(const Condition&) const override {
    return sizeof(GroupExtra);  // plus runs as they arrive
  }

  void Add(const CompiledRule& cr, RuleState& st, uint32_t slot, const DecodedEvent& ev, bool, bool,
           WindowSink&) const override {
    st.groups[slot].X().a.Push(ev.time_ms, cr.merge_ms);
  }

  void Evaluate(const CompiledRule& cr, RuleState& st, uint32_t slot, int64_t t) const override {
    Group& g = st.groups[slot];
    const int64_t cutoff = SatSub(t, cr.window);
    RunRing& a = g.X().a;
    const int64_t prev_hi = SatSub(t, cr.offset);
    a.Expire(SatSub(prev_hi, cr.window));
    const uint64_t cur = a.CountIn(cutoff, t);
    const uint64_t prev = a.CountIn(SatSub(prev_hi, cr.window), prev_hi);
    g.value = prev == 0 ? 0 : 100.0 * static_cast<double>(cur) / static_cast<double>(prev);
    const bool covered = SatAdd(g.first_seen, cr.offset + cr.window) <= t;
    g.cond = covered && prev > 0 &&
             Compare(g.value, cr.rule->condition.op, cr.rule->condition.threshold);
  }

  int64_t NextChange(const CompiledRule& cr, RuleState& st, uint32_t slot,
                     int64_t t) const override {
    Group& g = st.groups[slot];
    if (g.life == Life::kInactive) return kNever;
    int64_t due = kNever;
    const RunRing& a = g.X().a;
    for (size_t i = a.head; i < a.runs.size(); ++i) {
      const int64_t ts = a.runs[i].ts;
      for (int64_t d :
           {SatAdd(ts, cr.window), SatAdd(ts, cr.offset), SatAdd(ts, cr.offset + cr.window)}) {
        if (d > t) due = std::min(due, d);
      }
    }
    return due;
  }

  bool Evictable(const CompiledRule& cr, const Group& g, int64_t t) const override {
    return SatAdd(g.last_event, cr.window + cr.offset) <= t;
  }
};

}  // namespace

const WindowKind& ChangeWindow() {
  static const Change kind;
  return kind;
}

}  // namespace klaxon
