// ValueHistory: each rule's measured value over the last hours of event time, for the status
// page's sparklines. The run loop samples it (Engine::RuleValue visits every group of a rule,
// so once per step, not per event); kept per rule id, so a reload that leaves a rule unchanged
// keeps its line.
#pragma once

#include <climits>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "report/series.h"

namespace klaxon::service {

class ValueHistory {
 public:
  ValueHistory(int64_t span_ms, int64_t step_ms) : span_ms_(span_ms), step_ms_(step_ms) {}

  // Samples every rule with a value once `at_ms` (event time) passed the next step; true when
  // it did.
  bool Sample(const Engine& engine, int64_t at_ms);
  // Every rule's points, for a snapshot.
  std::map<std::string, std::vector<report::Point>> All() const;
  // The points of one rule (by id), oldest first; empty when unknown.
  std::vector<report::Point> Points(const std::string& rule_id) const;
  int64_t span_ms() const { return span_ms_; }

 private:
  int64_t span_ms_;
  int64_t step_ms_;
  int64_t next_ms_ = INT64_MIN;
  std::map<std::string, std::deque<report::Point>> by_rule_;
};

}  // namespace klaxon::service
