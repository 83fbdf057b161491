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
  int64_t timeout_ms = 15000;  // read timeout (per read; the client also has a whole-request
                               // deadline, HttpClientOptions::request_deadline_ms)
  // Most response-body bytes kept; the rest is not read (the connection is closed). Error
  // details log 512 bytes; Jira reads JSON answers and asks for more.
  size_t max_response_bytes = 4096;
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
  kCancelled,   // abandoned by Transport::Abort (shutdown)
};
const char* TransportErrorName(TransportError e);

struct HttpResponse {
  TransportError error = TransportError::kNone;
  std::string error_detail;  // never contains the URL (it may hold a secret)
  int status = 0;
  Headers headers;
  std::string body;
  bool truncated = false;  // the body went past max_response_bytes and was cut there

  const std::string* Header(std::string_view name) const;  // case-insensitive
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual HttpResponse Send(const HttpRequest& request) = 0;
  // Makes every request in progress on this transport return now (kCancelled); later requests
  // are unaffected. For shutdown, so a slow receiver cannot hold it.
  virtual void Abort() {}
};

}  // namespace klaxon::actions
