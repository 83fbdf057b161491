// `unique(field) OP N in W`: distinct values of a field per group in the last W. The newest k
// distinct values (FNV-1a hashes with their last time seen, oldest first) are all it needs.
#include <algorithm>

#include "engine/event_decoder.h"
#include "engine/window.h"

namespace klaxon {

namespace {

class Unique final : public WindowKind {
 public:
  void Compile(const Condition& c, FieldTable& fields, CompiledRule& cr) const override {
    cr.mode = Mode::kUnique;
    cr.value_field = fields.Intern(c.field);
    ThresholdToK(c.op, c.threshold, cr.k, cr.lower);
  }
  size_t Bytes(const Condition& c) const override {
    uint64_t k = 1;
    bool lower = false;
    ThresholdToK(c.op, c.threshold, k, lower);
    return sizeof(GroupExtra) + k * sizeof(std::pair<uint64_t, int64_t>);
  }

  void Add(const CompiledRule& cr, RuleState& st, uint32_t slot, const DecodedEvent& ev, bool, bool,
           WindowSink&) const override {
    auto& u = st.groups[slot].X().unique;
    for (const DecodedValue* v = ev.Begin(cr.value_field); v != ev.End(cr.value_field); ++v) {
      if (v->type == ValueType::kPresent) continue;
      const uint64_t h = Hash64(ev.Text(*v));
      auto it = std::find_if(u.begin(), u.end(), [&](const auto& p) { return p.first == h; });
      if (it != u.end()) u.erase(it);
      u.emplace_back(h, ev.time_ms);
      if (u.size() > cr.k) u.erase(u.begin());
    }
  }

  void Evaluate(const CompiledRule& cr, RuleState& st, uint32_t slot, int64_t t) const override {
    Group& g = st.groups[slot];
    const int64_t cutoff = SatSub(t, cr.window);
    uint64_t count = 0;
    for (const auto& p : g.X().unique) count += p.second > cutoff;
    g.value = static_cast<double>(count);
    const bool has_k = count >= cr.k;
    g.cond = cr.lower ? (!has_k && SatAdd(g.first_seen, cr.window) <= t) : has_k;
  }

  int64_t NextChange(const CompiledRule& cr, RuleState& st, uint32_t slot,
                     int64_t t) const override {
    Group& g = st.groups[slot];
    auto oldest_kept = [&]() -> int64_t {  // last time of the oldest of the k kept values
      const auto& u = g.X().unique;
      return u.size() < cr.k || u.empty() ? kNone : u.front().second;
    };
    return ThresholdNextChange(cr, g, t, oldest_kept);
  }

  bool Evictable(const CompiledRule& cr, const Group& g, int64_t t) const override {
    return SatAdd(g.last_event, cr.window) <= t;
  }

  uint8_t Parts(const GroupExtra& x) const override { return x.unique.empty() ? 0 : kExtraUnique; }
  void SaveParts(const GroupExtra& x, uint8_t parts, StateWriter& w) const override {
    if ((parts & kExtraUnique) == 0) return;
    w.U32(static_cast<uint32_t>(x.unique.size()));
    for (const auto& [hash, last_seen] : x.unique) {
      w.U64(hash);
      w.I64(last_seen);
    }
  }
  bool RestoreParts(uint8_t parts, StateReader& r, GroupExtra& x,
                    std::string& error) const override {
    if ((parts & ~kExtraUnique) != 0) return WindowKind::RestoreParts(parts, r, x, error);
    if ((parts & kExtraUnique) == 0) return true;
    const uint32_t unique = r.Count(16);
    if (unique > kMaxUniqueK) {
      error = "too many unique values";
      return false;
    }
    x.unique.resize(unique);
    for (auto& [hash, last_seen] : x.unique) {
      hash = r.U64();
      last_seen = r.I64();
    }
    return true;
  }
};

}  // namespace

const WindowKind& UniqueWindow() {
  static const Unique kind;
  return kind;
}

}  // namespace klaxon
