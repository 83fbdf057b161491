// How a notification's value and group are written wherever Klaxon shows them: replay's output,
// the service's log lines and the admin API's alerts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/notification.h"
#include "engine/rule.h"

namespace klaxon::service {

// A measured value as people write it: 6, 12.5, 33.33.
std::string FormatValue(double value);

// The rule's condition in short: "> 5 in 1m", "< 150% of 1d ago, in 1h", "new release".
std::string ConditionText(const Rule& rule);

// "environment=production service=orders-api" (missing fields as "(none)"); "" without group by.
std::string GroupText(const Rule& rule, const std::vector<std::optional<std::string>>& group);

// {"environment":"production"} with null for missing fields; {} without group by.
nlohmann::ordered_json GroupJson(const Rule& rule, const Notification& n);

}  // namespace klaxon::service
