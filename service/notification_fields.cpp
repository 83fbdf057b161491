#include "service/notification_fields.h"

#include <cmath>

#include <fmt/format.h>

#include "engine/time_format.h"

namespace klaxon::service {

std::string FormatValue(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  std::string s = fmt::format("{:.2f}", value);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

nlohmann::ordered_json GroupJson(const Rule& rule, const Notification& n) {
  nlohmann::ordered_json group = nlohmann::ordered_json::object();
  for (size_t i = 0; i < rule.group_by.size(); ++i) {
    const bool has = i < n.group.size() && n.group[i].has_value();
    group[rule.group_by[i].name] =
        has ? nlohmann::ordered_json(*n.group[i]) : nlohmann::ordered_json(nullptr);
  }
  return group;
}

std::string ConditionText(const Rule& rule) {
  const Condition& c = rule.condition;
  const std::string window = FormatDurationMs(c.window_ms);
  const std::string threshold = service::FormatValue(c.threshold);
  switch (c.kind) {
    case Condition::Kind::kEvery:
      return "";
    case Condition::Kind::kNewValue:
      return "new " + c.field.name;
    case Condition::Kind::kChange:
      return fmt::format("{} {}% of {} ago, in {}", CompareOpText(c.op), threshold,
                         FormatDurationMs(c.offset_ms), window);
    case Condition::Kind::kRatio:
      return fmt::format("{} {}% in {}", CompareOpText(c.op), threshold, window);
    case Condition::Kind::kCount:
    case Condition::Kind::kUnique:
      return fmt::format("{} {} in {}", CompareOpText(c.op), threshold, window);
  }
  return "";
}

std::string GroupText(const Rule& rule, const std::vector<std::optional<std::string>>& group) {
  std::string out;
  for (size_t i = 0; i < rule.group_by.size() && i < group.size(); ++i) {
    out += (out.empty() ? "" : " ") + rule.group_by[i].name + "=" + group[i].value_or("(none)");
  }
  return out;
}

}  // namespace klaxon::service
