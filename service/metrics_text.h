// The /metrics page of `klaxon run`: Prometheus text built from one RuntimeSnapshot on each
// scrape (docs/operations.md lists the families). The histograms are the run loop's own,
// lock-free and never replaced, so they are read as they are.
#pragma once

#include <string>

#include "service/metrics.h"
#include "service/runtime_snapshot.h"

namespace klaxon::service {

struct RunHistograms {
  LatencyHistogram evaluation{LatencyHistogram::kEvaluationBounds};
  LatencyHistogram outbox{LatencyHistogram::kDeliveryBounds};
};

std::string MetricsText(const RuntimeSnapshot& s, const RunHistograms& histograms);

}  // namespace klaxon::service
