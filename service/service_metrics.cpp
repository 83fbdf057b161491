#include "service/service_metrics.h"

#include <string_view>

#include "actions/dispatcher.h"
#include "engine/engine.h"

namespace klaxon::service {

void WriteEventsRejected(PromText& out, std::span<const uint64_t> by_reason, uint64_t oversized) {
  out.Family("klaxon_events_rejected_total", "counter", "Events not evaluated, by reason.");
  for (int i = 1; i < static_cast<int>(RejectReason::kCount_); ++i) {
    const auto reason = static_cast<RejectReason>(i);
    uint64_t count = static_cast<size_t>(i) < by_reason.size() ? by_reason[i] : 0;
    if (reason == RejectReason::kTooLarge) count += oversized;
    out.Sample("klaxon_events_rejected_total", {{"reason", RejectReasonName(reason)}},
               static_cast<double>(count));
  }
}

void WriteNotificationsFailed(PromText& out, const std::map<std::string, uint64_t>& failed,
                              uint64_t store_failures) {
  out.Family("klaxon_notifications_failed_total", "counter", "Notifications given up, by reason.");
  std::map<std::string, uint64_t> by_label = {{"store", store_failures}};
  for (std::string_view label : actions::FailureReasonLabels()) by_label.emplace(label, 0);
  for (const auto& [reason, count] : failed) by_label[actions::FailureReasonLabel(reason)] += count;
  for (const auto& [label, count] : by_label) {
    out.Sample("klaxon_notifications_failed_total", {{"reason", label}},
               static_cast<double>(count));
  }
}

}  // namespace klaxon::service
