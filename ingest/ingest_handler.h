// The ingestion API's logic, without HTTP: a decoded request in, Sentry's answer out. The HTTP
// endpoint (http_endpoint.h) reads and decodes bodies and calls Handle; tests call it directly
// with a manual clock. Thread-safe: HTTP threads call Handle concurrently.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/auth.h"
#include "ingest/event_sink.h"
#include "ingest/metrics.h"
#include "ingest/rate_limiter.h"

namespace klaxon::ingest {

enum class Endpoint { kEnvelope, kStore };

struct IngestRequest {
  Endpoint endpoint = Endpoint::kEnvelope;
  std::string project_id;   // the PROJECT_ID path segment
  std::string auth_header;  // X-Sentry-Auth, else Authorization; may be empty
  std::string query;        // the URL's query string (sentry_key=...)
  std::string_view body;    // decoded
};

// Sentry's answer: status, a JSON body, and for 429/503 the seconds to wait (Retry-After) and
// the X-Sentry-Rate-Limits value SDKs read.
struct IngestResponse {
  int status = 200;
  std::string body;
  int64_t retry_after_s = 0;
  std::string rate_limits;
};

struct HandlerOptions {
  std::vector<Project> projects;
  size_t max_event_bytes = 1 << 20;  // one event item or store body, decoded
};

class IngestHandler {
 public:
  IngestHandler(HandlerOptions options, EventSink& sink, IngestMetrics& metrics);

  IngestResponse Handle(const IngestRequest& request, int64_t now_ms);

  // A response for a request refused before Handle (body too large, undecodable), counted.
  IngestResponse Refuse(Endpoint endpoint, int status, const std::string& detail);

 private:
  std::string NewEventId();
  IngestResponse Answer(Endpoint endpoint, int status, const std::string& body);

  HandlerOptions options_;
  EventSink& sink_;
  IngestMetrics& metrics_;
  RateLimiter limiter_;
  std::mutex random_mu_;
  std::mt19937_64 random_;
};

}  // namespace klaxon::ingest
