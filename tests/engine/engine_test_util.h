// Helpers for engine tests: rules built in code, events as JSON text, a harness that records
// notifications. Header-only; included by the engine *_test.cpp files.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace klaxon::testing {

inline FieldRef PathField(std::string name, std::vector<std::string> path, int array_at = -1) {
  FieldRef f;
  f.name = std::move(name);
  f.kind = FieldRef::Kind::kPath;
  f.path = std::move(path);
  f.array_at = array_at;
  return f;
}
inline FieldRef TagField(std::string tag) {
  FieldRef f;
  f.name = tag;
  f.kind = FieldRef::Kind::kTag;
  f.tag = std::move(tag);
  return f;
}
inline FieldRef PathThenTagField(std::string name) {
  FieldRef f;
  f.name = name;
  f.kind = FieldRef::Kind::kPathThenTag;
  f.path = {name};
  f.tag = std::move(name);
  return f;
}
inline FieldRef ExceptionType() {
  return PathField("exception.type", {"exception", "values", "type"}, 2);
}
inline FieldRef Service() { return PathThenTagField("service"); }
inline FieldRef Level() { return PathField("level", {"level"}); }

inline Predicate Match(FieldRef f, std::vector<std::string> values) {
  Predicate p;
  p.kind = Predicate::Kind::kMatch;
  p.field = std::move(f);
  p.values = std::move(values);
  return p;
}
inline Predicate Has(FieldRef f) {
  Predicate p;
  p.kind = Predicate::Kind::kHas;
  p.field = std::move(f);
  return p;
}
inline Predicate Cmp(FieldRef f, CompareOp op, double n) {
  Predicate p;
  p.kind = Predicate::Kind::kCompare;
  p.field = std::move(f);
  p.op = op;
  p.number = n;
  return p;
}
inline Predicate Node(Predicate::Kind k, std::vector<Predicate> children) {
  Predicate p;
  p.kind = k;
  p.children = std::move(children);
  return p;
}
inline Predicate And(std::vector<Predicate> c) { return Node(Predicate::Kind::kAnd, std::move(c)); }
inline Predicate Or(std::vector<Predicate> c) { return Node(Predicate::Kind::kOr, std::move(c)); }
inline Predicate Not(Predicate c) { return Node(Predicate::Kind::kNot, {std::move(c)}); }

inline Rule CountRule(std::string name, Predicate filter, CompareOp op, double n, int64_t window) {
  Rule r;
  r.name = std::move(name);
  r.filter = std::move(filter);
  r.condition.kind = Condition::Kind::kCount;
  r.condition.op = op;
  r.condition.threshold = n;
  r.condition.window_ms = window;
  return r;
}
// `> percent` of the denominator's events in `window` also match the numerator.
inline Rule RatioRule(std::string name, Predicate numerator, Predicate denominator, double percent,
                      int64_t window) {
  Rule r;
  r.name = std::move(name);
  r.condition.kind = Condition::Kind::kRatio;
  r.condition.op = CompareOp::kGt;
  r.condition.threshold = percent;
  r.condition.window_ms = window;
  r.condition.numerator = std::move(numerator);
  r.condition.denominator = std::move(denominator);
  return r;
}
inline Rule EveryRule(std::string name, Predicate filter) {
  Rule r;
  r.name = std::move(name);
  r.filter = std::move(filter);
  r.condition.kind = Condition::Kind::kEvery;
  return r;
}

// Epoch seconds with exact milliseconds as a JSON number: 1764028800.123
inline std::string Secs(int64_t ms) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%lld.%03lld", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  return buf;
}

// {"timestamp": <ms as seconds>, <extra>}
inline std::string Ev(int64_t ms, const std::string& extra = "") {
  std::string s = "{\"timestamp\":" + Secs(ms);
  if (!extra.empty()) s += "," + extra;
  return s + "}";
}

constexpr int64_t kT0 = 1764028800000;  // 2025-11-25T00:00:00Z

struct Harness {
  std::unique_ptr<Engine> engine;
  std::vector<Notification> out;

  explicit Harness(std::vector<Rule> rules, EngineOptions opts = Lateness(0)) {
    RuleSet rs;
    rs.rules = std::move(rules);
    auto r = Engine::Create(std::move(rs), std::move(opts));
    if (r.ok()) engine = std::move(r.value());
  }
  static EngineOptions Lateness(int64_t ms) {
    EngineOptions o;
    o.allowed_lateness_ms = ms;
    return o;
  }
  ProcessResult Send(const std::string& json) { return engine->Process(json, out); }
  ProcessResult At(int64_t ms, const std::string& extra = "") { return Send(Ev(ms, extra)); }
  void Advance(int64_t ms) { engine->AdvanceTo(ms, out); }
  void Flush() { engine->Flush(out); }
};

// A compact, comparable rendering of a notification.
inline std::string Show(const Notification& n) {
  std::string s = std::to_string(n.at_ms) + " " + n.rule_name + " " + AlertStateName(n.state) +
                  " v=" + std::to_string(static_cast<long long>(n.value)) + " g=";
  for (const auto& g : n.group) s += (g ? *g : std::string("null")) + ",";
  return s;
}
inline std::vector<std::string> ShowAll(const std::vector<Notification>& v) {
  std::vector<std::string> out;
  for (const auto& n : v) out.push_back(Show(n));
  return out;
}

}  // namespace klaxon::testing
