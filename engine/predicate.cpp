#include "engine/predicate.h"

#include <charconv>
#include <cstdlib>

namespace klaxon {

bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == text;
  // Leading literal must be a prefix.
  std::string_view head = pattern.substr(0, star);
  if (text.substr(0, head.size()) != head) return false;
  size_t pos = head.size();
  pattern.remove_prefix(star + 1);
  while (true) {
    star = pattern.find('*');
    if (star == std::string_view::npos) {
      // Trailing literal must be a suffix that does not overlap what was consumed.
      if (text.size() < pos + pattern.size()) return false;
      return text.substr(text.size() - pattern.size()) == pattern;
    }
    std::string_view piece = pattern.substr(0, star);
    if (!piece.empty()) {
      size_t found = text.find(piece, pos);
      if (found == std::string_view::npos) return false;
      pos = found + piece.size();
    }
    pattern.remove_prefix(star + 1);
  }
}

CompiledPredicate CompiledPredicate::Compile(const Predicate& p, FieldTable& fields) {
  CompiledPredicate c;
  c.root_ = c.Add(p, fields);
  return c;
}

uint32_t CompiledPredicate::Add(const Predicate& p, FieldTable& fields) {
  Node n;
  n.kind = p.kind;
  switch (p.kind) {
    case Predicate::Kind::kTrue:
      break;
    case Predicate::Kind::kAnd:
    case Predicate::Kind::kOr:
    case Predicate::Kind::kNot:
      for (const auto& c : p.children) n.children.push_back(Add(c, fields));
      break;
    case Predicate::Kind::kMatch:
      n.field = fields.Intern(p.field);
      for (const auto& v : p.values) n.patterns.push_back({v, v.find('*') != std::string::npos});
      break;
    case Predicate::Kind::kHas:
      n.field = fields.Intern(p.field);
      break;
    case Predicate::Kind::kCompare:
      n.field = fields.Intern(p.field);
      n.op = p.op;
      n.number = p.number;
      break;
  }
  nodes_.push_back(std::move(n));
  return static_cast<uint32_t>(nodes_.size() - 1);
}

namespace {

bool NumberOf(const DecodedEvent& e, const DecodedValue& v, double& out) {
  if (v.type == ValueType::kNumber) {
    out = v.number;
    return true;
  }
  if (v.type != ValueType::kString) return false;
  std::string_view t = e.Text(v);
  if (t.empty()) return false;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  return ec == std::errc() && ptr == t.data() + t.size();
}

}  // namespace

bool CompiledPredicate::EvalNode(uint32_t idx, const DecodedEvent& e) const {
  const Node& n = nodes_[idx];
  switch (n.kind) {
    case Predicate::Kind::kTrue:
      return true;
    case Predicate::Kind::kAnd:
      for (uint32_t c : n.children) {
        if (!EvalNode(c, e)) return false;
      }
      return true;
    case Predicate::Kind::kOr:
      for (uint32_t c : n.children) {
        if (EvalNode(c, e)) return true;
      }
      return false;
    case Predicate::Kind::kNot:
      return n.children.empty() ? false : !EvalNode(n.children[0], e);
    case Predicate::Kind::kHas:
      return e.Has(n.field);
    case Predicate::Kind::kMatch:
      for (const DecodedValue* v = e.Begin(n.field); v != e.End(n.field); ++v) {
        if (v->type == ValueType::kPresent) continue;
        std::string_view text = e.Text(*v);
        for (const auto& p : n.patterns) {
          if (p.wildcard ? GlobMatch(p.text, text) : p.text == text) return true;
        }
      }
      return false;
    case Predicate::Kind::kCompare:
      for (const DecodedValue* v = e.Begin(n.field); v != e.End(n.field); ++v) {
        double x;
        if (NumberOf(e, *v, x) && Compare(x, n.op, n.number)) return true;
      }
      return false;
  }
  return false;
}

}  // namespace klaxon
