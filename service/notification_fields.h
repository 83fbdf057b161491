// How a notification's value and group are written wherever Klaxon shows them: replay's output,
// the service's log lines and the admin API's alerts.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/notification.h"
#include "engine/rule.h"

namespace klaxon::service {

// A measured value as people write it: 6, 12.5, 33.33.
std::string FormatValue(double value);

// {"environment":"production"} with null for missing fields; {} without group by.
nlohmann::ordered_json GroupJson(const Rule& rule, const Notification& n);

}  // namespace klaxon::service
