// SafeHttpClient: the production Transport. Outgoing requests are the one place where a rule
// file or a compromised secret could make Klaxon reach inside the network, so every request:
//   - has a connect timeout (5 s), a read timeout (the request's, 15 s by default, per read)
//     and a deadline for the whole exchange (30 s: connect, send, headers and body), enforced
//     by a watchdog thread that shuts the socket down, so a receiver that trickles one byte
//     per read timeout cannot hold a delivery worker;
//   - keeps at most the request's max_response_bytes of a response body and stops reading
//     there (the connection is dropped), so a huge answer costs no memory;
//   - sends `User-Agent: klaxon/<version>`;
//   - verifies TLS certificates and never follows redirects;
//   - resolves the host itself (getaddrinfo), refuses it when ANY address is loopback, private,
//     carrier-grade NAT, link-local (169.254.169.254), multicast, unspecified, broadcast or
//     reserved (also inside IPv4-mapped / NAT64 / 6to4 IPv6; Teredo is refused outright),
//     refuses numeric hosts not written as canonical dotted quads (2130706433, 0x7f000001,
//     0177.0.0.1, 127.1), and then connects to the checked address (pinned) so DNS rebinding
//     cannot swap it;
//   - admits internal receivers only through an explicit allow list (CIDRs or host names).
// Keep-alive connections are pooled per (origin, pinned address). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actions/http_types.h"
#include "engine/status.h"

namespace httplib {
class Client;
}

namespace klaxon::actions {

// "klaxon/<project version>".
std::string DefaultUserAgent();

struct HttpClientOptions {
  int64_t connect_timeout_ms = 5000;
  int64_t default_read_timeout_ms = 15000;  // for requests with timeout_ms <= 0
  // Whole request: connect, send, response headers and body; the request fails with kTimeout
  // past it whatever the per-read timeouts say. <= 0: no deadline.
  int64_t request_deadline_ms = 30000;
  std::string user_agent = DefaultUserAgent();
  // "10.1.0.0/16", "127.0.0.1", "::1/128", "alerts.internal": destinations allowed although
  // internal. Empty: only public addresses.
  std::vector<std::string> allow;
  std::string ca_file;  // empty: the system's trust store
  size_t max_idle_per_origin = 16;
};

struct ParsedUrl {
  std::string scheme;  // http or https
  std::string host;    // lowercase; IPv6 without brackets
  int port = 0;
  std::string target;  // path and query, at least "/"
};
Result<ParsedUrl> ParseHttpUrl(std::string_view url);

class AllowList {
 public:
  static Result<AllowList> Parse(const std::vector<std::string>& entries);
  bool AllowsHost(const std::string& host) const;
  bool AllowsAddress(const std::string& ip) const;  // numeric IPv4 or IPv6

 private:
  struct Cidr {
    int family;
    unsigned char bytes[16];
    int prefix;
  };
  std::vector<Cidr> cidrs_;
  std::vector<std::string> hosts_;
};

// Why a numeric address is refused ("loopback", "private", ...); empty when public.
std::string DeniedAddressReason(const std::string& ip);

// Resolves `host` and checks every address; returns the address to pin. Errors name the host
// and the reason, never a URL path or query (they may hold secrets).
Result<std::string> CheckDestination(const std::string& host, const AllowList& allow);

// Owns one watchdog thread (request deadlines) besides the pooled connections.
class SafeHttpClient final : public Transport {
 public:
  static Result<std::unique_ptr<SafeHttpClient>> Create(HttpClientOptions options);
  ~SafeHttpClient() override;
  HttpResponse Send(const HttpRequest& request) override;
  void Abort() override;

 private:
  struct Connection;
  struct InFlight {
    std::chrono::steady_clock::time_point deadline;
    bool expired = false;
    bool aborted = false;
  };
  SafeHttpClient(HttpClientOptions options, AllowList allow);
  std::unique_ptr<Connection> Checkout(const ParsedUrl& url, const std::string& key,
                                       HttpResponse& error);
  void Return(const std::string& key, std::unique_ptr<Connection> connection);
  void WatchdogLoop();
  // Under deadline_mu_: a new socket of `c` (httplib opens one per connection attempt).
  void AdoptSocket(Connection& c, int fd);

  HttpClientOptions options_;
  AllowList allow_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;

  std::mutex deadline_mu_;
  std::condition_variable deadline_cv_;
  std::map<Connection*, InFlight> in_flight_;
  uint64_t abort_epoch_ = 0;  // Abort() calls so far: catches requests still before connect
  bool stop_watchdog_ = false;
  std::thread watchdog_;
};

}  // namespace klaxon::actions
