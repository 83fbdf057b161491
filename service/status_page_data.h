// What the status page shows, from one runtime snapshot and the silences: plain data for
// report::RenderStatusPage, so the page never reads the run loop's objects.
#pragma once

#include <cstdint>
#include <vector>

#include "actions/silence.h"
#include "report/status_page.h"
#include "service/runtime_snapshot.h"

namespace klaxon::service {

report::StatusPageData StatusPageDataFrom(const RuntimeSnapshot& s,
                                          const std::vector<actions::Silence>& silences,
                                          int64_t now_ms);

}  // namespace klaxon::service
