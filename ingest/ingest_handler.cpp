#include "ingest/ingest_handler.h"

#include <nlohmann/json.hpp>

#include "ingest/envelope.h"
#include "ingest/event_stamp.h"

namespace klaxon::ingest {
namespace {

const char* EndpointName(Endpoint e) { return e == Endpoint::kStore ? "store" : "envelope"; }

std::string Detail(const std::string& message) {
  return nlohmann::json{{"detail", message}}.dump(-1, ' ', false,
                                                  nlohmann::json::error_handler_t::replace);
}

// An event waiting to be handed on, with the item type it came from (for drop counts).
struct Pending {
  std::string_view payload;
  std::string type;
};

}  // namespace

IngestHandler::IngestHandler(HandlerOptions options, EventSink& sink, IngestMetrics& metrics)
    : options_(std::move(options)),
      sink_(sink),
      metrics_(metrics),
      random_(std::random_device{}()) {}

std::string IngestHandler::NewEventId() {
  std::lock_guard lock(random_mu_);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (size_t i = 0; i < id.size(); i += 16) {
    uint64_t bits = random_();
    for (size_t j = 0; j < 16; ++j, bits >>= 4) id[i + j] = kHex[bits & 15];
  }
  return id;
}

IngestResponse IngestHandler::Answer(Endpoint endpoint, int status, const std::string& body) {
  metrics_.Request(EndpointName(endpoint), status);
  IngestResponse r;
  r.status = status;
  r.body = body;
  return r;
}

IngestResponse IngestHandler::Refuse(Endpoint endpoint, int status, const std::string& detail) {
  return Answer(endpoint, status, Detail(detail));
}

IngestResponse IngestHandler::Handle(const IngestRequest& request, int64_t now_ms) {
  const Endpoint ep = request.endpoint;
  std::string key;
  if (auto k = KeyFromAuthHeader(request.auth_header)) key = *k;
  if (key.empty()) {
    if (auto k = KeyFromQuery(request.query)) key = *k;
  }

  // Envelopes may carry their key only in the header's `dsn`, so parse before authenticating.
  Envelope envelope;
  if (ep == Endpoint::kEnvelope) {
    Result<Envelope> parsed = ParseEnvelope(request.body);
    if (!parsed.ok()) return Refuse(ep, 400, "invalid envelope: " + parsed.status().message());
    envelope = std::move(parsed).value();
    if (key.empty() && !envelope.dsn.empty()) {
      if (auto dsn = ParseDsn(envelope.dsn); dsn && dsn->project_id == request.project_id) {
        key = dsn->key;
      }
    }
  }

  const Project* project = nullptr;
  switch (Authenticate(options_.projects, request.project_id, key, &project)) {
    case AuthResult::kOk:
      break;
    case AuthResult::kMissingKey:
      return Refuse(ep, 401, "missing authorization information");
    case AuthResult::kBadKey:
      return Refuse(ep, 401, "invalid public key for project " + request.project_id);
    case AuthResult::kUnknownProject:
      return Refuse(ep, 403, "event submission rejected with_reason: ProjectId");
  }

  std::vector<Pending> events;
  if (ep == Endpoint::kStore) {
    events.push_back({request.body, "event"});
  } else {
    for (const EnvelopeItem& item : envelope.items) {
      if (item.type == "event") {
        events.push_back({item.payload, item.type});
      } else {
        // Transactions, sessions, client reports, attachments...: answered, counted, dropped.
        metrics_.ItemDropped(project->name, item.type, "unsupported_type");
      }
    }
  }

  // Validate all before handing any on, so a bad request is refused whole.
  std::vector<std::string> stamped;
  std::string first_id;
  for (const Pending& e : events) {
    if (e.payload.size() > options_.max_event_bytes) {
      metrics_.ItemDropped(project->name, e.type, "too_large");
      return Refuse(ep, 413,
                    "event larger than " + std::to_string(options_.max_event_bytes) + " bytes");
    }
    std::string id;
    Result<std::string> json = StampEvent(
        e.payload, *project, envelope.event_id.empty() ? NewEventId() : envelope.event_id, &id);
    if (!json.ok()) {
      metrics_.ItemDropped(project->name, e.type, "invalid");
      return Refuse(ep, 400, "invalid event: " + json.status().message());
    }
    if (first_id.empty()) first_id = id;
    stamped.push_back(std::move(json).value());
  }

  for (size_t i = 0; i < stamped.size(); ++i) {
    const int64_t wait_ms =
        limiter_.Take(project->id, project->rate_per_second, project->burst, now_ms);
    if (wait_ms > 0) {
      for (size_t j = i; j < stamped.size(); ++j) {
        metrics_.ItemDropped(project->name, "event", "rate_limited");
      }
      IngestResponse r = Refuse(ep, 429, "event submission rejected with_reason: RateLimited");
      r.retry_after_s = std::max<int64_t>(1, (wait_ms + 999) / 1000);
      // Sentry's header: seconds:categories:scope:reason. Only errors are limited here.
      r.rate_limits =
          std::to_string(r.retry_after_s) + ":error;default;security:project:rate_limit";
      return r;
    }
    Status st = sink_.Offer(stamped[i]);
    if (!st.ok()) {
      for (size_t j = i; j < stamped.size(); ++j) {
        metrics_.ItemDropped(project->name, "event", sink_.unavailable_reason());
      }
      IngestResponse r = Refuse(ep, 503, st.message());
      r.retry_after_s = 1;
      return r;
    }
    metrics_.EventAccepted(project->name);
  }
  if (ep == Endpoint::kEnvelope && first_id.empty()) first_id = envelope.event_id;
  return Answer(ep, 200, first_id.empty() ? "{}" : nlohmann::json{{"id", first_id}}.dump());
}

}  // namespace klaxon::ingest
