// What `klaxon replay` and `klaxon test` read, told on stderr after every run: events read,
// rejected by reason, late, and groups dropped per rule, so that a log in the wrong order or a
// group cap never passes for a quiet rule.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/rule.h"

namespace klaxon::cli {

struct InputSummary {
  uint64_t read = 0;
  uint64_t late = 0;  // accepted but behind the watermark: not evaluated
  std::array<uint64_t, static_cast<size_t>(RejectReason::kCount_)> rejected{};
  std::vector<uint64_t> groups_dropped;  // by rule index

  void Count(RejectReason reason, bool late);
  // Adds an engine's per-rule dropped groups (one engine per replay, one per test case).
  void AddGroupsDropped(const EngineStats& stats);
  uint64_t rejected_total() const;
};

// How the user raises each limit, e.g. "--allowed-lateness" or "allowed_lateness:".
struct SummaryHints {
  std::string lateness;
  std::string max_groups;
};

// "klaxon replay: 9 events read, 3 rejected (invalid_json 1, ...), 2 late\n", then a line on
// late events and one per rule that dropped groups, when there are any.
std::string FormatInputSummary(std::string_view command, const InputSummary& summary,
                               const RuleSet& rules, const EngineOptions& options,
                               const SummaryHints& hints);

}  // namespace klaxon::cli
