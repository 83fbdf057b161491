// How replay and test show notifications: one JSON object per line, a readable timeline, and the
// per-rule noise table ("how noisy would this rule have been last week").
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "engine/notification.h"
#include "engine/rule.h"

namespace klaxon::cli {

// The replay JSON line: at, rule, state, group, value, actions (+ explain fields).
nlohmann::ordered_json NotificationJson(const Rule& rule, const Notification& n, bool explain);

// "2025-11-25T00:01:07.250Z  firing    orders-db-errors {environment=production} 6 > 5 in 1m"
std::string NotificationText(const Rule& rule, const Notification& n, bool explain);

// Accumulates notifications per rule; prints the noise table at the end of a replay.
class NoiseTable {
 public:
  explicit NoiseTable(const RuleSet& rules) : rules_(rules), rows_(rules.rules.size()) {}
  void Add(const Notification& n);
  // An episode already firing at `since_ms` (replay --since): counted from there, without the
  // firing notification it had before.
  void AddOpen(const Notification& firing, int64_t since_ms);
  // `end_ms` closes episodes still firing at the end of the replay. `matched_before`: each
  // rule's matches not to count (those before --since); empty: none.
  void Print(std::ostream& out, const EngineStats& stats, int64_t end_ms,
             const std::vector<uint64_t>& matched_before = {}) const;

 private:
  struct Row {
    uint64_t notifications = 0;
    uint64_t episodes = 0;
    int64_t firing_ms = 0;
  };
  const RuleSet& rules_;
  std::vector<Row> rows_;
  // Start of the open episode per (rule, group key).
  std::map<std::pair<uint32_t, std::string>, int64_t> open_;
};

}  // namespace klaxon::cli
