#include "service/notification_fields.h"

#include <cmath>

#include <fmt/format.h>

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

}  // namespace klaxon::service
