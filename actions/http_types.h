// Plain HTTP request/response values and the transport interface actions send through.
//
// Payload builders produce HttpRequests (pure, golden-testable); a Transport (SafeHttpClient in
// production, anything in tests) sends them. Value types; transports are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace klaxon::actions {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // GET, POST, ...; "WRITE" for the log action's line
  std::string url;
  Headers headers;
  std::string body;
  int64_t timeout_ms = 15000;  // read timeout
};

// Why a request produced no HTTP status.
enum class TransportError {
  kNone = 0,
  kBlocked,  // destination refused by the SSRF guard
  kBadUrl,
  kResolve,     // DNS failure
  kConnect,     // connect failed or timed out
  kTimeout,     // read/write timed out
  kConnection,  // reset, closed early, TLS failure
};
const char* TransportErrorName(TransportError e);

struct HttpResponse {
  TransportError error = TransportError::kNone;
  std::string error_detail;  // never contains the URL (it may hold a secret)
  int status = 0;
  Headers headers;
  std::string body;

  const std::string* Header(std::string_view name) const;  // case-insensitive
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual HttpResponse Send(const HttpRequest& request) = 0;
};

}  // namespace klaxon::actions
