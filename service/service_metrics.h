// Metric families of `klaxon run` whose label values are closed lists: every value is written,
// 0 until it happens, so a first rejection or failure is an increase Prometheus can alert on
// rather than a new series. Pure functions of counters, so tests can pin the text.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "service/metrics.h"

namespace klaxon::service {

// klaxon_events_rejected_total{reason}: `by_reason` is EngineStats::rejected (indexed by
// RejectReason); `oversized` records, refused before decoding, count as too_large.
void WriteEventsRejected(PromText& out, std::span<const uint64_t> by_reason, uint64_t oversized);

// klaxon_notifications_failed_total{reason}: `failed` is DispatcherStats::failed, reported under
// actions::FailureReasonLabel; `store_failures` are submissions the outbox refused ("store").
void WriteNotificationsFailed(PromText& out, const std::map<std::string, uint64_t>& failed,
                              uint64_t store_failures);

}  // namespace klaxon::service
