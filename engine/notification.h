// Notification: what the engine returns when an alert changes state. The engine never sends
// anything; the caller hands notifications to actions (or prints them, in replay).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/rule.h"

namespace klaxon {

enum class AlertState { kFiring, kRepeat, kResolved };

const char* AlertStateName(AlertState s);  // "firing", "repeat", "resolved"

struct Notification {
  int64_t at_ms = 0;        // event time of the state change, Unix ms
  uint32_t rule_index = 0;  // index into the RuleSet the engine was created with
  std::string rule_name;
  std::string rule_id;
  AlertState state = AlertState::kFiring;
  // One entry per group_by field, in rule order; nullopt when the event lacked the field.
  std::vector<std::optional<std::string>> group;
  double value = 0;  // the measured value (count, distinct count, percentage)
  double threshold = 0;
  int64_t window_ms = 0;
  int64_t episode_start_ms = 0;  // when this firing episode began
  uint32_t repeat_index = 0;     // 0 for firing, n for the n-th repeat, unchanged on resolve
  // Explanation: the window the value was measured over, (window_start_ms, window_end_ms],
  // and the ids of the events that made it fire (only with EngineOptions::explain).
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  std::vector<std::string> event_ids;
  // The raw JSON of the event that triggered the episode (empty for time-driven notifications
  // of groups whose triggering event is unknown); templates read `event.*` from it.
  std::string event_json;
  // A rule without episodes (every event, a new value): one notification per event, told apart
  // by the event itself (two in the same millisecond are two notifications).
  bool one_shot = false;
};

}  // namespace klaxon
