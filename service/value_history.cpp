#include "service/value_history.h"

#include <climits>

namespace klaxon::service {

bool ValueHistory::Sample(const Engine& engine, int64_t at_ms) {
  if (at_ms == INT64_MIN || at_ms < next_ms_) return false;
  next_ms_ = at_ms + step_ms_;
  const RuleSet& rules = engine.Rules();
  std::map<std::string, std::deque<report::Point>> kept;
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    const Rule& r = rules.rules[i];
    const bool highest = r.condition.op != CompareOp::kLt && r.condition.op != CompareOp::kLe;
    const std::optional<double> v = engine.RuleValue(static_cast<uint32_t>(i), highest);
    if (!v && !HasEpisodes(r.condition)) continue;
    std::deque<report::Point>& points = by_rule_[r.id];
    points.push_back({at_ms, v.value_or(0)});
    while (!points.empty() && points.front().at_ms < at_ms - span_ms_) points.pop_front();
    kept[r.id] = std::move(points);
  }
  by_rule_ = std::move(kept);  // rules removed by a reload are forgotten
  return true;
}

std::map<std::string, std::vector<report::Point>> ValueHistory::All() const {
  std::map<std::string, std::vector<report::Point>> out;
  for (const auto& [id, points] : by_rule_) out[id].assign(points.begin(), points.end());
  return out;
}

std::vector<report::Point> ValueHistory::Points(const std::string& rule_id) const {
  auto it = by_rule_.find(rule_id);
  if (it == by_rule_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

}  // namespace klaxon::service
