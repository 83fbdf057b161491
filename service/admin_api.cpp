#include "service/admin_api.h"

#include <nlohmann/json.hpp>

#include "engine/time_format.h"
#include "service/notification_fields.h"

namespace klaxon::service {

std::string RulesJson(const RuntimeSnapshot& s) {
  const EngineStats& stats = s.stats;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  if (s.rules) {
    const RuleSet& rules = *s.rules;
    for (size_t i = 0; i < rules.rules.size(); ++i) {
      const Rule& r = rules.rules[i];
      const RuleStats rs = i < stats.rules.size() ? stats.rules[i] : RuleStats{};
      list.push_back({{"name", r.name},
                      {"id", r.id},
                      {"enabled", r.enabled},
                      {"severity", SeverityName(r.severity)},
                      {"actions", r.actions},
                      {"file", r.pos.file},
                      {"groups", rs.groups},
                      {"firing", rs.firing},
                      {"pending", rs.pending},
                      {"matches", rs.matches},
                      {"notifications", rs.notifications},
                      {"groups_dropped", rs.groups_dropped}});
    }
  }
  nlohmann::ordered_json out = {{"status", "success"}, {"data", {{"rules", list}}}};
  return out.dump();
}

std::string AlertsJson(const RuntimeSnapshot& s) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ActiveAlert& a : s.alerts) {
    if (!s.rules || a.rule_index >= s.rules->rules.size()) continue;
    const Rule& r = s.rules->rules[a.rule_index];
    Notification n;
    n.group = a.group;
    list.push_back({{"rule", r.name},
                    {"state", a.firing ? "firing" : "pending"},
                    {"group", GroupJson(r, n)},
                    {"value", a.value},
                    {"since", FormatTimeMs(a.since_ms)},
                    {"severity", SeverityName(r.severity)},
                    {"trigger", a.trigger}});
  }
  nlohmann::ordered_json out = {{"status", "success"}, {"data", {{"alerts", list}}}};
  return out.dump();
}

}  // namespace klaxon::service
