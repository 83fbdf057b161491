// The JSON answers of the admin server's /api/v1/rules and /api/v1/alerts (Prometheus's
// envelope: {"status":"success","data":{...}}), built from one RuntimeSnapshot.
#pragma once

#include <string>

#include "service/runtime_snapshot.h"

namespace klaxon::service {

std::string RulesJson(const RuntimeSnapshot& s);
std::string AlertsJson(const RuntimeSnapshot& s);

}  // namespace klaxon::service
