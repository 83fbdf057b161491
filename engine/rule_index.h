// RuleIndex: which rules an event can match, without visiting every rule. Keys are exact
// conjuncts of the rules' filters (engine/README.md, "Predicates and the rule index"). Built
// once per rule set; lookups reuse their buffers (no allocation per event). Internal.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/rule.h"

namespace klaxon {

class FieldTable;
struct DecodedEvent;

class RuleIndex {
 public:
  // Indexes `rules` (disabled ones are left out), interning the fields it keys on. `exact[i]`
  // tells whether rule i's index key implies its whole filter (the filter need not be run).
  void Build(const std::vector<Rule>& rules, FieldTable& fields, std::vector<bool>& exact);

  // The rules `ev` may match, ascending (rule order is evaluation order), into `out`.
  void Candidates(const DecodedEvent& ev, std::vector<uint32_t>& out);

 private:
  struct SvHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // One exact conjunct (f2 == kNil) or a pair of them on two fields.
  struct Slot {
    uint32_t f1;
    uint32_t f2;
    std::unordered_map<std::string, std::vector<uint32_t>, SvHash, std::equal_to<>> map;
  };
  std::vector<Slot> slots_;
  std::vector<uint32_t> unindexed_;
  std::string key_;              // reused lookup key
  std::vector<uint64_t> stamp_;  // per rule: the lookup that last found it (deduplication)
  uint64_t current_stamp_ = 0;
};

}  // namespace klaxon
