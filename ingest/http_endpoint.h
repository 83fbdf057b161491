// The HTTP side of Sentry's ingestion API (cpp-httplib): `POST /api/PROJECT_ID/envelope/`,
// `POST /api/PROJECT_ID/store/` and CORS preflights, on a fixed pool of threads. Reads bodies
// with a cap on the decoded size (httplib stream-decodes gzip, deflate and br in 16 KiB pieces;
// the cap stops it), a read timeout and a whole-request deadline, then calls IngestHandler.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "engine/status.h"
#include "ingest/ingest_handler.h"

namespace httplib {
class Server;
}

namespace klaxon::ingest {

struct EndpointOptions {
  std::string host = "127.0.0.1";       // empty: every interface
  int port = 9000;                      // 0: a free port (see IngestEndpoint::port)
  size_t max_request_bytes = 20 << 20;  // a whole body, compressed and decoded
  int threads = 32;                     // at most this many requests at once
  int64_t read_timeout_ms = 5000;       // one read from a client
  int64_t request_timeout_ms = 30000;   // a whole body
  // Milliseconds for the rate limiter; the endpoint's only clock.
  std::function<int64_t()> now_ms;
};

class IngestEndpoint {
 public:
  // Binds and starts serving; the handler must outlive the endpoint.
  static Result<std::unique_ptr<IngestEndpoint>> Start(const EndpointOptions& options,
                                                       IngestHandler& handler);
  ~IngestEndpoint();
  // Stops accepting and waits for requests in flight; idempotent.
  void Stop();
  int port() const { return port_; }

 private:
  IngestEndpoint() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = -1;
};

}  // namespace klaxon::ingest
