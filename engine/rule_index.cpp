// The rule index (rule_index.h).
#include "engine/rule_index.h"

#include <algorithm>

#include "engine/event_decoder.h"
#include "engine/time_math.h"

namespace klaxon {

namespace {

void AppendIndexKey(std::string& key, std::string_view v) {
  const auto len = static_cast<uint32_t>(v.size());
  key.append(reinterpret_cast<const char*>(&len), 4);
  key.append(v);
}

}  // namespace

// Index keys are one exact conjunct (field, value) or, when a rule has two exact conjuncts on
// different fields, the pair of them: an event then looks up the few (v1, v2) combinations of
// its own values instead of visiting every rule that shares, say, its service.
void RuleIndex::Build(const std::vector<Rule>& rules, FieldTable& fields,
                      std::vector<bool>& exact_out) {
  stamp_.assign(rules.size(), 0);
  exact_out.assign(rules.size(), false);
  auto exact = [](const Predicate& p) {
    if (p.kind != Predicate::Kind::kMatch || p.values.empty()) return false;
    for (const auto& v : p.values) {
      if (v.find('*') != std::string::npos) return false;
    }
    return true;
  };
  auto conjuncts = [&](const Predicate& f) {
    std::vector<const Predicate*> out;
    if (exact(f)) out.push_back(&f);
    if (f.kind == Predicate::Kind::kAnd) {
      for (const auto& c : f.children) {
        if (exact(c)) out.push_back(&c);
      }
    }
    return out;
  };
  // How many rules share each single key: rarer keys are more selective.
  std::unordered_map<std::string, uint32_t> freq;
  auto key_of = [&](const Predicate& p, const std::string& v) {
    return std::to_string(fields.Intern(p.field)) + '\x1f' + v;
  };
  auto cost = [&](const Predicate* p) {
    uint64_t c = 0;
    for (const auto& v : p->values) c += freq[key_of(*p, v)];
    return c;
  };
  for (const Rule& rule : rules) {
    for (const Predicate* p : conjuncts(rule.filter)) {
      for (const auto& v : p->values) ++freq[key_of(*p, v)];
    }
  }
  auto slot_for = [&](uint32_t f1, uint32_t f2) -> Slot& {
    for (auto& s : slots_) {
      if (s.f1 == f1 && s.f2 == f2) return s;
    }
    slots_.push_back(Slot{f1, f2, {}});
    return slots_.back();
  };
  for (uint32_t index = 0; index < rules.size(); ++index) {
    const Rule& rule = rules[index];
    if (!rule.enabled) continue;
    auto cs = conjuncts(rule.filter);
    if (cs.empty()) {
      unindexed_.push_back(index);
      continue;
    }
    std::stable_sort(cs.begin(), cs.end(),
                     [&](const Predicate* a, const Predicate* b) { return cost(a) < cost(b); });
    const Predicate* first = cs[0];
    const Predicate* second = nullptr;
    const uint32_t f1 = fields.Intern(first->field);
    for (size_t i = 1; i < cs.size() && second == nullptr; ++i) {
      if (fields.Intern(cs[i]->field) != f1 && first->values.size() * cs[i]->values.size() <= 64) {
        second = cs[i];
      }
    }
    auto add = [&](Slot& slot, const std::string& key) {
      auto& list = slot.map[key];
      if (list.empty() || list.back() != index) list.push_back(index);
    };
    const Predicate& filter = rule.filter;
    const bool is_and = filter.kind == Predicate::Kind::kAnd;
    if (second == nullptr) {
      exact_out[index] = first == &filter || (is_and && filter.children.size() == 1);
      Slot& slot = slot_for(f1, kNil);
      for (const auto& v : first->values) add(slot, v);
      continue;
    }
    exact_out[index] = is_and && filter.children.size() == 2;
    const uint32_t f2 = fields.Intern(second->field);
    const Predicate* lo = f1 < f2 ? first : second;
    const Predicate* hi = f1 < f2 ? second : first;
    Slot& slot = slot_for(std::min(f1, f2), std::max(f1, f2));
    for (const auto& a : lo->values) {
      for (const auto& b : hi->values) {
        std::string key;
        AppendIndexKey(key, a);
        AppendIndexKey(key, b);
        add(slot, key);
      }
    }
  }
}

void RuleIndex::Candidates(const DecodedEvent& ev, std::vector<uint32_t>& out) {
  ++current_stamp_;
  out.clear();
  auto hit = [&](const std::vector<uint32_t>& rules) {
    for (uint32_t r : rules) {
      if (stamp_[r] != current_stamp_) {
        stamp_[r] = current_stamp_;
        out.push_back(r);
      }
    }
  };
  for (const Slot& slot : slots_) {
    for (const DecodedValue* a = ev.Begin(slot.f1); a != ev.End(slot.f1); ++a) {
      if (a->type == ValueType::kPresent) continue;
      if (slot.f2 == kNil) {
        auto it = slot.map.find(ev.Text(*a));
        if (it != slot.map.end()) hit(it->second);
        continue;
      }
      for (const DecodedValue* b = ev.Begin(slot.f2); b != ev.End(slot.f2); ++b) {
        if (b->type == ValueType::kPresent) continue;
        key_.clear();
        AppendIndexKey(key_, ev.Text(*a));
        AppendIndexKey(key_, ev.Text(*b));
        auto it = slot.map.find(std::string_view(key_));
        if (it != slot.map.end()) hit(it->second);
      }
    }
  }
  out.insert(out.end(), unindexed_.begin(), unindexed_.end());
  std::sort(out.begin(), out.end());
}

}  // namespace klaxon
