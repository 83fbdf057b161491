// The closed label sets of /metrics: every rejection reason and every notification failure
// label is written, 0 until it happens.
#include "service/service_metrics.h"

#include <doctest/doctest.h>

#include <string_view>

#include "actions/dispatcher.h"
#include "engine/engine.h"

namespace klaxon::service {
namespace {

TEST_CASE("klaxon_events_rejected_total has every reason, oversized records as too_large") {
  uint64_t rejected[static_cast<int>(RejectReason::kCount_)] = {};
  rejected[static_cast<int>(RejectReason::kInvalidJson)] = 3;
  rejected[static_cast<int>(RejectReason::kTooLarge)] = 1;
  PromText p;
  WriteEventsRejected(p, rejected, /*oversized=*/2);
  const std::string& text = p.text();
  for (int i = 1; i < static_cast<int>(RejectReason::kCount_); ++i) {
    const std::string name = RejectReasonName(static_cast<RejectReason>(i));
    INFO(name);
    CHECK(text.find("klaxon_events_rejected_total{reason=\"" + name + "\"}") != std::string::npos);
  }
  CHECK(text.find("{reason=\"invalid_json\"} 3\n") != std::string::npos);
  CHECK(text.find("{reason=\"too_large\"} 3\n") != std::string::npos);
  CHECK(text.find("{reason=\"future_timestamp\"} 0\n") != std::string::npos);
  CHECK(text.find("reason=\"none\"") == std::string::npos);
}

TEST_CASE("klaxon_notifications_failed_total has every label, HTTP statuses by class") {
  PromText p;
  WriteNotificationsFailed(p, {{"http_404", 2}, {"http_400", 1}, {"expired", 4}},
                           /*store_failures=*/5);
  const std::string& text = p.text();
  for (std::string_view label : actions::FailureReasonLabels()) {
    INFO(label);
    CHECK(text.find("klaxon_notifications_failed_total{reason=\"" + std::string(label) + "\"}") !=
          std::string::npos);
  }
  CHECK(text.find("{reason=\"http_4xx\"} 3\n") != std::string::npos);
  CHECK(text.find("{reason=\"expired\"} 4\n") != std::string::npos);
  CHECK(text.find("{reason=\"store\"} 5\n") != std::string::npos);
  CHECK(text.find("{reason=\"gone\"} 0\n") != std::string::npos);
  CHECK(text.find("http_404") == std::string::npos);
}

}  // namespace
}  // namespace klaxon::service
