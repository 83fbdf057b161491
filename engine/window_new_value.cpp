// `new(field)`: notifies the first time a group sees a value of the field. The seen values
// (FNV-1a hashes, at most kMaxNewValues per group) are the whole state; no lifecycle.
#include <algorithm>

#include "engine/event_decoder.h"
#include "engine/window.h"

namespace klaxon {

namespace {

class NewValue final : public WindowKind {
 public:
  void Compile(const Condition& c, FieldTable& fields, CompiledRule& cr) const override {
    cr.mode = Mode::kNewValue;
    cr.value_field = fields.Intern(c.field);
  }
  size_t Bytes(const Condition&) const override { return sizeof(GroupExtra); }
  bool HasLifecycle() const override { return false; }

  void Add(const CompiledRule& cr, RuleState& st, uint32_t slot, const DecodedEvent& ev, bool, bool,
           WindowSink& sink) const override {
    Group& g = st.groups[slot];
    GroupExtra& x = g.X();
    for (const DecodedValue* v = ev.Begin(cr.value_field); v != ev.End(cr.value_field); ++v) {
      if (v->type == ValueType::kPresent) continue;
      const uint64_t h = Hash64(ev.Text(*v));
      if (x.seen.count(h)) continue;
      if (x.seen.size() >= kMaxNewValues) {
        ++st.stats.groups_dropped;  // past the bound new values are not tracked
        continue;
      }
      x.seen.insert(h);
      g.value = static_cast<double>(x.seen.size());
      g.since = ev.time_ms;
      sink.Fire(g);
    }
  }
  void Evaluate(const CompiledRule&, RuleState& st, uint32_t slot, int64_t) const override {
    st.groups[slot].cond = false;
  }
  int64_t NextChange(const CompiledRule&, RuleState&, uint32_t, int64_t) const override {
    return kNever;
  }
  bool Evictable(const CompiledRule&, const Group&, int64_t) const override {
    return false;  // forgetting seen values would re-announce them
  }

  uint8_t Parts(const GroupExtra& x) const override { return x.seen.empty() ? 0 : kExtraSeen; }
  void SaveParts(const GroupExtra& x, uint8_t parts, StateWriter& w) const override {
    if ((parts & kExtraSeen) == 0) return;
    std::vector<uint64_t> seen(x.seen.begin(), x.seen.end());
    std::sort(seen.begin(), seen.end());  // equal sets, equal bytes
    w.U32(static_cast<uint32_t>(seen.size()));
    for (uint64_t h : seen) w.U64(h);
  }
  bool RestoreParts(uint8_t parts, StateReader& r, GroupExtra& x,
                    std::string& error) const override {
    if ((parts & ~kExtraSeen) != 0) return WindowKind::RestoreParts(parts, r, x, error);
    if ((parts & kExtraSeen) == 0) return true;
    const uint32_t seen = r.Count(8);
    if (seen > kMaxNewValues) {
      error = "too many new values";
      return false;
    }
    x.seen.reserve(seen);
    for (uint32_t i = 0; i < seen; ++i) x.seen.insert(r.U64());
    return true;
  }
};

}  // namespace

const WindowKind& NewValueWindow() {
  static const NewValue kind;
  return kind;
}

}  // namespace klaxon
