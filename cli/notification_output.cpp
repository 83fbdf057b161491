#include "cli/notification_output.h"

#include <cmath>
#include <cstdio>
#include <ostream>

#include <fmt/format.h>

#include "engine/time_format.h"
#include "service/notification_fields.h"

namespace klaxon::cli {
namespace {

std::string GroupKey(const Notification& n) {
  std::string key;
  for (const auto& v : n.group) {
    key += v ? "s" + *v : "n";
    key.push_back('\0');
  }
  return key;
}

}  // namespace

nlohmann::ordered_json NotificationJson(const Rule& rule, const Notification& n, bool explain) {
  // ordered_json keeps the documented key order of a replay line.
  nlohmann::ordered_json j;
  j["at"] = FormatTimeMs(n.at_ms);
  j["rule"] = rule.name;
  j["state"] = AlertStateName(n.state);
  j["group"] = service::GroupJson(rule, n);
  if (n.value == std::floor(n.value) && std::fabs(n.value) < 1e15) {
    j["value"] = static_cast<long long>(n.value);
  } else {
    j["value"] = n.value;
  }
  j["actions"] = rule.actions;
  if (explain) {
    j["threshold"] = n.threshold;
    j["window"] = {{"start", FormatTimeMs(n.window_start_ms)},
                   {"end", FormatTimeMs(n.window_end_ms)}};
    j["events"] = n.event_ids;
  }
  return j;
}

std::string NotificationText(const Rule& rule, const Notification& n, bool explain) {
  std::string group;
  for (size_t i = 0; i < rule.group_by.size(); ++i) {
    if (!group.empty()) group += ", ";
    const bool has = i < n.group.size() && n.group[i].has_value();
    group += rule.group_by[i].name + "=" + (has ? *n.group[i] : "null");
  }
  std::string line =
      fmt::format("{}  {:<8}  {}", FormatTimeMs(n.at_ms), AlertStateName(n.state), rule.name);
  if (!group.empty()) line += " {" + group + "}";
  if (rule.condition.kind != Condition::Kind::kEvery) {
    line +=
        fmt::format("  value {} ({})", service::FormatValue(n.value), service::ConditionText(rule));
  }
  if (!rule.actions.empty()) {
    line += "  ->";
    for (size_t i = 0; i < rule.actions.size(); ++i) {
      line += (i == 0 ? " " : ", ") + rule.actions[i];
    }
  }
  if (explain) {
    line += fmt::format("\n    window ({}, {}]", FormatTimeMs(n.window_start_ms),
                        FormatTimeMs(n.window_end_ms));
    if (!n.event_ids.empty()) {
      line += "\n    events:";
      for (const std::string& id : n.event_ids) line += " " + id;
    }
  }
  return line;
}

void NoiseTable::Add(const Notification& n) {
  if (n.rule_index >= rows_.size()) return;
  Row& row = rows_[n.rule_index];
  ++row.notifications;
  const auto key = std::make_pair(n.rule_index, GroupKey(n));
  // Per-event rules (filter-only, new value) notify once and have no firing span.
  if (n.state == AlertState::kFiring) {
    ++row.episodes;
    if (HasEpisodes(rules_.rules[n.rule_index].condition)) open_[key] = n.at_ms;
  } else if (n.state == AlertState::kResolved) {
    if (auto it = open_.find(key); it != open_.end()) {
      row.firing_ms += n.at_ms - it->second;
      open_.erase(it);
    }
  }
}

void NoiseTable::AddOpen(const Notification& firing, int64_t since_ms) {
  if (firing.rule_index >= rows_.size()) return;
  ++rows_[firing.rule_index].episodes;
  open_[std::make_pair(firing.rule_index, GroupKey(firing))] = since_ms;
}

void NoiseTable::Print(std::ostream& out, const EngineStats& stats, int64_t end_ms,
                       const std::vector<uint64_t>& matched_before) const {
  std::vector<int64_t> firing(rows_.size());
  for (size_t i = 0; i < rows_.size(); ++i) firing[i] = rows_[i].firing_ms;
  for (const auto& [key, start] : open_) firing[key.first] += end_ms > start ? end_ms - start : 0;
  size_t width = 4;
  for (const Rule& r : rules_.rules) width = std::max(width, r.name.size());
  out << fmt::format("{:<{}}  {:>13}  {:>8}  {:>12}  {:>14}\n", "rule", width, "notifications",
                     "episodes", "time firing", "events matched");
  for (size_t i = 0; i < rows_.size(); ++i) {
    const uint64_t matched = (i < stats.rules.size() ? stats.rules[i].matches : 0) -
                             (i < matched_before.size() ? matched_before[i] : 0);
    out << fmt::format("{:<{}}  {:>13}  {:>8}  {:>12}  {:>14}\n", rules_.rules[i].name, width,
                       rows_[i].notifications, rows_[i].episodes,
                       FormatDurationMs(firing[i] / 1000 * 1000), matched);
  }
}

}  // namespace klaxon::cli
