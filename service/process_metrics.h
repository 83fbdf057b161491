// The standard process_* metrics every Prometheus client library exports (CPU, memory, file
// descriptors, start time), read from /proc/self on each scrape, so that Klaxon's own
// dashboards and alerts work like any other exporter's.
#pragma once

#include <cstdint>

#include "service/metrics.h"

namespace klaxon::service {

// `start_time_ms`: when the process started, as the run loop's clock read it.
void WriteProcessMetrics(PromText& out, int64_t start_time_ms);

}  // namespace klaxon::service
