// CompiledPredicate: a rule's filter turned into a flat node array over interned field ids.
//
// Immutable after Compile; Eval is const and allocation-free. For a field with several values
// (exception.type over exception.values[]) a kMatch/kCompare node holds when ANY value does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/event_decoder.h"
#include "engine/rule.h"

namespace klaxon {

// '*' matches any run of bytes (case-sensitive, no other metacharacters). The pattern is split
// at '*'; each literal piece is searched once, leftmost first, so matching never backtracks.
bool GlobMatch(std::string_view pattern, std::string_view text);

class CompiledPredicate {
 public:
  // Interns every field it reads into `fields`.
  static CompiledPredicate Compile(const Predicate& p, FieldTable& fields);
  bool Eval(const DecodedEvent& e) const { return EvalNode(root_, e); }
  bool always_true() const { return nodes_[root_].kind == Predicate::Kind::kTrue; }

 private:
  struct Pattern {
    std::string text;
    bool wildcard = false;
  };
  struct Node {
    Predicate::Kind kind = Predicate::Kind::kTrue;
    uint32_t field = 0;
    std::vector<Pattern> patterns;
    CompareOp op = CompareOp::kGt;
    double number = 0;
    std::vector<uint32_t> children;
  };
  uint32_t Add(const Predicate& p, FieldTable& fields);
  bool EvalNode(uint32_t n, const DecodedEvent& e) const;

  std::vector<Node> nodes_;
  uint32_t root_ = 0;
};

}  // namespace klaxon
