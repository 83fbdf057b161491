// ComputeRuleId: FNV-1a 64 over a canonical, length-prefixed serialisation of what a rule
// evaluates. Name, summary, labels and actions are left out on purpose: renaming a rule or
// changing where it notifies must not reset its window state on reload.
#include <cstdio>
#include <string>

#include "engine/hash.h"
#include "engine/rule.h"

namespace klaxon {
namespace {

class Canon {
 public:
  void Str(std::string_view s) {
    Int(static_cast<int64_t>(s.size()));
    out_.append(s);
  }
  void Int(int64_t v) {
    out_.append(std::to_string(v));
    out_.push_back(';');
  }
  void Num(double v) {
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%.17g;", v);
    out_.append(buf);
  }
  void Field(const FieldRef& f) {
    Int(static_cast<int>(f.kind));
    Int(static_cast<int64_t>(f.path.size()));
    for (const auto& p : f.path) Str(p);
    Int(f.array_at);
    Str(f.tag);
    // `more_paths` are left out: they follow from the built-in named by kind and path, and
    // reading a new event shape for a built-in must not reset the state of its rules.
  }
  void Pred(const Predicate& p) {
    out_.push_back('(');
    Int(static_cast<int>(p.kind));
    switch (p.kind) {
      case Predicate::Kind::kTrue:
        break;
      case Predicate::Kind::kAnd:
      case Predicate::Kind::kOr:
      case Predicate::Kind::kNot:
        Int(static_cast<int64_t>(p.children.size()));
        for (const auto& c : p.children) Pred(c);
        break;
      case Predicate::Kind::kMatch:
        Field(p.field);
        Int(static_cast<int64_t>(p.values.size()));
        for (const auto& v : p.values) Str(v);
        break;
      case Predicate::Kind::kHas:
        Field(p.field);
        break;
      case Predicate::Kind::kCompare:
        Field(p.field);
        Int(static_cast<int>(p.op));
        Num(p.number);
        break;
    }
    out_.push_back(')');
  }
  const std::string& out() const { return out_; }

 private:
  std::string out_;
};

}  // namespace

std::string ComputeRuleId(const Rule& rule) {
  Canon c;
  c.Str("klaxon-rule-v1");
  c.Pred(rule.filter);
  const Condition& k = rule.condition;
  c.Int(static_cast<int>(k.kind));
  c.Int(static_cast<int>(k.op));
  c.Num(k.threshold);
  c.Int(k.window_ms);
  c.Int(k.offset_ms);
  c.Field(k.field);
  c.Pred(k.numerator);
  c.Pred(k.denominator);
  c.Int(static_cast<int64_t>(rule.group_by.size()));
  for (const auto& g : rule.group_by) c.Field(g);
  c.Int(rule.pending_ms);
  c.Int(rule.keep_firing_ms);
  c.Int(rule.repeat_ms);
  const uint64_t h = Fnv1a64(c.out());
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace klaxon
