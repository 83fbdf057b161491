// `ratio(A, B) OP P% in W`: among the group's B events in the last W, the share that are also
// A. Runs of (time, count) for A and for B. Events of the rule's filter outside B only move the
// group's clock. Looked at again, while pending or firing, when a run leaves the window.
#include <algorithm>

#include "engine/event_decoder.h"
#include "engine/window.h"

namespace klaxon {

namespace {

class Ratio final : public RunRingWindow {
 public:
  Ratio() : RunRingWindow(kExtraA | kExtraB) {}
  void Compile(const Condition& c, FieldTable& fields, CompiledRule& cr) const override {
    cr.mode = Mode::kRatio;
    cr.numerator = CompiledPredicate::Compile(c.numerator, fields);
    cr.denominator = CompiledPredicate::Compile(c.denominator, fields);
    cr.merge_ms = std::max<int64_t>(1, c.window_ms / kRunsPerWindow);
    cr.counts_some = true;
  }
  size_t Bytes(const Condition&) const override {
    return sizeof(GroupExtra);  // plus runs as they arrive
  }
  bool Counts(const CompiledRule& cr, const DecodedEvent& ev) const override {
    return cr.denominator.Eval(ev);
  }

  void Add(const CompiledRule& cr, RuleState& st, uint32_t slot, const DecodedEvent& ev,
           bool counts, bool, WindowSink&) const override {
    if (!counts) return;
    GroupExtra& x = st.groups[slot].X();
    x.b.Push(ev.time_ms, cr.merge_ms);
    if (ev.routed ? ev.numerator : cr.numerator.Eval(ev)) x.a.Push(ev.time_ms, cr.merge_ms);
  }

  void Evaluate(const CompiledRule& cr, RuleState& st, uint32_t slot, int64_t t) const override {
    Group& g = st.groups[slot];
    const int64_t cutoff = SatSub(t, cr.window);
    GroupExtra& x = g.X();
    x.a.Expire(cutoff);
    x.b.Expire(cutoff);
    g.value = x.b.total == 0
                  ? 0
                  : 100.0 * static_cast<double>(x.a.total) / static_cast<double>(x.b.total);
    g.cond = x.b.total > 0 && Compare(g.value, cr.rule->condition.op, cr.rule->condition.threshold);
  }

  int64_t NextChange(const CompiledRule& cr, RuleState& st, uint32_t slot, int64_t) const override {
    Group& g = st.groups[slot];
    if (g.life == Life::kInactive) return kNever;
    int64_t due = kNever;
    if (!g.X().a.empty()) due = std::min(due, SatAdd(g.X().a.front().ts, cr.window));
    if (!g.X().b.empty()) due = std::min(due, SatAdd(g.X().b.front().ts, cr.window));
    return due;
  }

  bool Evictable(const CompiledRule& cr, const Group& g, int64_t t) const override {
    return SatAdd(g.last_event, cr.window) <= t;
  }
};

}  // namespace

const WindowKind& RatioWindow() {
  static const Ratio kind;
  return kind;
}

}  // namespace klaxon
