// Counters of the ingestion endpoint, rendered as Prometheus text by AppendMetrics so that the
// service's /metrics can include them. Thread-safe (the HTTP threads count; a scrape renders).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace klaxon::ingest {

// The endpoint's counters summed over projects, for the status page.
struct IngestTotals {
  int64_t requests = 0;
  int64_t events_accepted = 0;
  std::map<std::string, int64_t> dropped_by_reason;
};

class IngestMetrics {
 public:
  // One request answered: endpoint "envelope", "store" or "other"; the HTTP status.
  void Request(const std::string& endpoint, int status);
  // One event handed to the pipeline (queue or Kafka) for `project`.
  void EventAccepted(const std::string& project);
  // One item not turned into an event: its type and why (`unsupported_type`, `rate_limited`,
  // `queue_full`, `too_large`, `invalid`, `kafka_error`).
  void ItemDropped(const std::string& project, const std::string& type, const std::string& reason);

  int64_t requests(const std::string& endpoint, int status) const;
  int64_t events_accepted(const std::string& project) const;
  int64_t items_dropped(const std::string& project, const std::string& type,
                        const std::string& reason) const;

  IngestTotals Totals() const;

  // Appends the families `klaxon_ingest_requests_total`, `klaxon_ingest_events_accepted_total`
  // and `klaxon_ingest_items_dropped_total` (documented in docs/operations.md).
  void AppendMetrics(std::string& out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  std::map<std::string, int64_t> accepted_;
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> dropped_;
};

}  // namespace klaxon::ingest
