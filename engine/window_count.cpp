// `count(...) OP N in W`: events per group in the last W. Up to kMaxRingK the newest k event
// times sit in a per-rule slab (k per slot, RuleState::ring), so "count >= k" is one compare of
// the oldest; beyond it, runs of (time, count) kept only as far as needed to know "total >= k".
#include <algorithm>

#include "engine/event_decoder.h"
#include "engine/window.h"

namespace klaxon {

namespace {

class Count final : public RunRingWindow {
 public:
  Count() : RunRingWindow(kExtraA) {}
  void Compile(const Condition& c, FieldTable&, CompiledRule& cr) const override {
    cr.mode = Mode::kCount;
    ThresholdToK(c.op, c.threshold, cr.k, cr.lower);
    cr.small_ring = cr.k <= kMaxRingK;
    cr.merge_ms = cr.small_ring ? 1 : std::max<int64_t>(1, c.window_ms / kRunsPerWindow);
  }
  size_t Bytes(const Condition& c) const override {
    uint64_t k = 1;
    bool lower = false;
    ThresholdToK(c.op, c.threshold, k, lower);
    // Ring head/size live in Group; they count as window state.
    if (k <= kMaxRingK) return k * sizeof(int64_t) + 2 * sizeof(uint32_t);
    return sizeof(GroupExtra) + std::min<uint64_t>(k, kRunsPerWindow + 1) * sizeof(Run);
  }
  void SizeSlots(const CompiledRule& cr, RuleState& st, size_t slots, bool explain) const override {
    if (!cr.small_ring) return;
    st.ring.resize(slots * cr.k);
    if (explain) st.ring_ids.resize(slots * cr.k);
  }
  void Add(const CompiledRule& cr, RuleState& st, uint32_t slot, const DecodedEvent& ev, bool,
           bool explain, WindowSink&) const override {
    Group& g = st.groups[slot];
    const int64_t t = ev.time_ms;
    if (!cr.small_ring) {
      RunRing& a = g.X().a;
      a.Push(t, cr.merge_ms);
      a.TrimKeep(cr.k);
      return;
    }
    const size_t base = static_cast<size_t>(slot) * cr.k;
    size_t pos;
    if (g.ring_size < cr.k) {
      uint64_t off = g.ring_head + g.ring_size;
      if (off >= cr.k) off -= cr.k;
      pos = base + off;
      ++g.ring_size;
    } else {
      pos = base + g.ring_head;
      if (++g.ring_head == cr.k) g.ring_head = 0;
    }
    st.ring[pos] = t;
    if (explain) st.ring_ids[pos].assign(ev.EventId());
  }

  void Evaluate(const CompiledRule& cr, RuleState& st, uint32_t slot, int64_t t) const override {
    Group& g = st.groups[slot];
    const int64_t cutoff = SatSub(t, cr.window);
    bool has_k = false;
    if (cr.small_ring) {
      // The ring holds the newest k times, oldest at ring_head: "count >= k" is one compare.
      // The count itself is computed only when a notification reports it (Value).
      const int64_t* ring = st.ring.data() + static_cast<size_t>(slot) * cr.k;
      has_k = cr.k > 0 && g.ring_size == cr.k && ring[g.ring_head] > cutoff;
    } else {
      RunRing& a = g.X().a;
      a.Expire(cutoff);
      has_k = a.total >= cr.k;
      g.value = static_cast<double>(a.total);
    }
    g.cond = cr.lower ? (!has_k && SatAdd(g.first_seen, cr.window) <= t) : has_k;
  }

  int64_t NextChange(const CompiledRule& cr, RuleState& st, uint32_t slot,
                     int64_t t) const override {
    Group& g = st.groups[slot];
    auto oldest_kept = [&]() -> int64_t {  // time of the oldest of the k kept events
      if (cr.small_ring) {
        if (g.ring_size < cr.k || cr.k == 0) return kNone;
        return st.ring[static_cast<size_t>(slot) * cr.k + g.ring_head];
      }
      return g.X().a.empty() ? kNone : g.X().a.front().ts;
    };
    return ThresholdNextChange(cr, g, t, oldest_kept);
  }

  bool Evictable(const CompiledRule& cr, const Group& g, int64_t t) const override {
    return SatAdd(g.last_event, cr.window) <= t;
  }

  double Value(const CompiledRule& cr, const RuleState& st, uint32_t slot,
               int64_t t) const override {
    const Group& g = st.groups[slot];
    if (!cr.small_ring) return g.value;
    const int64_t* ring = st.ring.data() + static_cast<size_t>(slot) * cr.k;
    const int64_t cutoff = SatSub(t, cr.window);
    uint64_t count = 0;
    uint32_t pos = g.ring_head;
    for (uint32_t i = 0; i < g.ring_size; ++i) {
      count += ring[pos] > cutoff;
      if (++pos == cr.k) pos = 0;
    }
    return static_cast<double>(count);
  }

  void TriggerIds(const CompiledRule& cr, const RuleState& st, uint32_t slot,
                  const DecodedEvent* ev, std::vector<std::string>& ids) const override {
    if (!cr.small_ring) return WindowKind::TriggerIds(cr, st, slot, ev, ids);
    const Group& g = st.groups[slot];
    const size_t base = static_cast<size_t>(slot) * cr.k;
    const int64_t cutoff = SatSub(ev ? ev->time_ms : 0, cr.window);
    for (uint32_t i = 0; i < g.ring_size; ++i) {
      const size_t pos = base + (g.ring_head + i) % cr.k;
      if (st.ring[pos] > cutoff) ids.push_back(st.ring_ids[pos]);
    }
  }

  void Save(const CompiledRule& cr, const RuleState& st, uint32_t slot, bool explain,
            StateWriter& w) const override {
    if (!cr.small_ring) return;
    // Oldest first; the restored ring starts at its head 0 (same contents, same order).
    const Group& g = st.groups[slot];
    w.U32(g.ring_size);
    for (uint32_t i = 0; i < g.ring_size; ++i) {
      const size_t pos = slot * cr.k + (g.ring_head + i) % cr.k;
      w.I64(st.ring[pos]);
      if (explain) w.Str(pos < st.ring_ids.size() ? st.ring_ids[pos] : std::string());
    }
  }
  bool Restore(const CompiledRule& cr, RuleState& st, uint32_t slot, bool has_ids, bool explain,
               StateReader& r, std::string& error) const override {
    if (!cr.small_ring) return true;
    const uint32_t size = r.U32();
    if (size > cr.k) {
      error = "count ring larger than the threshold";
      return false;
    }
    st.groups[slot].ring_size = size;
    for (uint32_t i = 0; i < size; ++i) {
      const size_t pos = static_cast<size_t>(slot) * cr.k + i;
      st.ring[pos] = r.I64();
      if (!has_ids) continue;
      const std::string_view id = r.Str();
      if (explain) st.ring_ids[pos].assign(id);
    }
    return true;
  }
};

}  // namespace

const WindowKind& CountWindow() {
  static const Count kind;
  return kind;
}

}  // namespace klaxon
