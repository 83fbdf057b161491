#include "cli/input_summary.h"

#include <fmt/format.h>

#include "engine/time_format.h"

namespace klaxon::cli {

void InputSummary::Count(RejectReason reason, bool was_late) {
  ++read;
  if (reason != RejectReason::kNone) ++rejected[static_cast<size_t>(reason)];
  if (was_late) ++late;
}

void InputSummary::AddGroupsDropped(const EngineStats& stats) {
  if (groups_dropped.size() < stats.rules.size()) groups_dropped.resize(stats.rules.size());
  for (size_t i = 0; i < stats.rules.size(); ++i)
    groups_dropped[i] += stats.rules[i].groups_dropped;
}

uint64_t InputSummary::rejected_total() const {
  uint64_t total = 0;
  for (uint64_t n : rejected) total += n;
  return total;
}

std::string FormatInputSummary(std::string_view command, const InputSummary& summary,
                               const RuleSet& rules, const EngineOptions& options,
                               const SummaryHints& hints) {
  std::string reasons;
  for (size_t i = 0; i < summary.rejected.size(); ++i) {
    if (summary.rejected[i] == 0) continue;
    reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ",
                           RejectReasonName(static_cast<RejectReason>(i)), summary.rejected[i]);
  }
  std::string out =
      fmt::format("klaxon {}: {} event{} read, {} rejected{}, {} late\n", command, summary.read,
                  summary.read == 1 ? "" : "s", summary.rejected_total(),
                  reasons.empty() ? "" : " (" + reasons + ")", summary.late);
  if (summary.late > 0) {
    out += fmt::format(
        "klaxon {}: {} late event{} not evaluated: older than the newest event by more than the "
        "allowed lateness ({}); is the input out of order? (raise {})\n",
        command, summary.late, summary.late == 1 ? " was" : "s were",
        FormatDurationMs(options.allowed_lateness_ms), hints.lateness);
  }
  for (size_t i = 0; i < summary.groups_dropped.size() && i < rules.rules.size(); ++i) {
    if (summary.groups_dropped[i] == 0) continue;
    out += fmt::format(
        "klaxon {}: rule {}: {} group{} dropped at the limit of {} group{} per rule (raise {})\n",
        command, rules.rules[i].name, summary.groups_dropped[i],
        summary.groups_dropped[i] == 1 ? "" : "s", options.max_groups_per_rule,
        options.max_groups_per_rule == 1 ? "" : "s", hints.max_groups);
  }
  return out;
}

}  // namespace klaxon::cli
