// `every`: each matching event notifies (at most once per `repeat` per group). No window, no
// lifecycle.
#include "engine/event_decoder.h"
#include "engine/window.h"

namespace klaxon {

namespace {

class Every final : public WindowKind {
 public:
  void Compile(const Condition&, FieldTable&, CompiledRule& cr) const override {
    cr.mode = Mode::kEvery;
  }
  size_t Bytes(const Condition&) const override { return sizeof(GroupExtra); }
  bool HasLifecycle() const override { return false; }

  void Add(const CompiledRule& cr, RuleState& st, uint32_t slot, const DecodedEvent& ev, bool, bool,
           WindowSink& sink) const override {
    Group& g = st.groups[slot];
    const int64_t t = ev.time_ms;
    const int64_t repeat = cr.lifecycle.repeat_ms;
    if (repeat > 0 && g.last_notified != kNone && t - g.last_notified < repeat) return;
    g.last_notified = t;
    g.value = 1;
    g.since = t;
    sink.Fire(g);
  }
  void Evaluate(const CompiledRule&, RuleState& st, uint32_t slot, int64_t) const override {
    st.groups[slot].cond = false;
  }
  int64_t NextChange(const CompiledRule&, RuleState&, uint32_t, int64_t) const override {
    return kNever;
  }
  bool Evictable(const CompiledRule& cr, const Group& g, int64_t t) const override {
    const int64_t repeat = cr.lifecycle.repeat_ms;
    return repeat == 0 || g.last_notified == kNone || SatAdd(g.last_notified, repeat) <= t;
  }
};

}  // namespace

const WindowKind& EveryWindow() {
  static const Every kind;
  return kind;
}

}  // namespace klaxon
