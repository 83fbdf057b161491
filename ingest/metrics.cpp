#include "ingest/metrics.h"

namespace klaxon::ingest {
namespace {

// Label values come from configuration and SDKs (item types): escape as Prometheus requires.
std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void IngestMetrics::Request(const std::string& endpoint, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{endpoint, status}];
}

void IngestMetrics::EventAccepted(const std::string& project) {
  std::lock_guard lock(mu_);
  ++accepted_[project];
}

void IngestMetrics::ItemDropped(const std::string& project, const std::string& type,
                                const std::string& reason) {
  std::lock_guard lock(mu_);
  // Item types are chosen by clients: cap the label set so a hostile client cannot grow it.
  const bool known = dropped_.count({project, type, reason}) != 0 || dropped_.size() < 1000;
  ++dropped_[{project, known ? type : "other", reason}];
}

int64_t IngestMetrics::requests(const std::string& endpoint, int status) const {
  std::lock_guard lock(mu_);
  auto it = requests_.find({endpoint, status});
  return it == requests_.end() ? 0 : it->second;
}

int64_t IngestMetrics::events_accepted(const std::string& project) const {
  std::lock_guard lock(mu_);
  auto it = accepted_.find(project);
  return it == accepted_.end() ? 0 : it->second;
}

int64_t IngestMetrics::items_dropped(const std::string& project, const std::string& type,
                                     const std::string& reason) const {
  std::lock_guard lock(mu_);
  auto it = dropped_.find({project, type, reason});
  return it == dropped_.end() ? 0 : it->second;
}

IngestTotals IngestMetrics::Totals() const {
  std::lock_guard lock(mu_);
  IngestTotals t;
  for (const auto& [key, n] : requests_) t.requests += n;
  for (const auto& [project, n] : accepted_) t.events_accepted += n;
  for (const auto& [key, n] : dropped_) t.dropped_by_reason[std::get<2>(key)] += n;
  return t;
}

void IngestMetrics::AppendMetrics(std::string& out) const {
  std::lock_guard lock(mu_);
  out +=
      "# HELP klaxon_ingest_requests_total Requests to the Sentry ingestion endpoint, by "
      "endpoint and HTTP status.\n# TYPE klaxon_ingest_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += "klaxon_ingest_requests_total{endpoint=\"" + Label(key.first) + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  out +=
      "# HELP klaxon_ingest_events_accepted_total Events accepted from Sentry SDKs and handed to "
      "the pipeline, by project.\n# TYPE klaxon_ingest_events_accepted_total counter\n";
  for (const auto& [project, n] : accepted_) {
    out += "klaxon_ingest_events_accepted_total{project=\"" + Label(project) + "\"} " +
           std::to_string(n) + "\n";
  }
  out +=
      "# HELP klaxon_ingest_items_dropped_total Envelope items and store bodies not turned into "
      "events, by project, item type and reason.\n"
      "# TYPE klaxon_ingest_items_dropped_total counter\n";
  for (const auto& [key, n] : dropped_) {
    out += "klaxon_ingest_items_dropped_total{project=\"" + Label(std::get<0>(key)) + "\",type=\"" +
           Label(std::get<1>(key)) + "\",reason=\"" + Label(std::get<2>(key)) + "\"} " +
           std::to_string(n) + "\n";
  }
}

}  // namespace klaxon::ingest
