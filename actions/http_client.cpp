#include "actions/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>

#include <httplib.h>

namespace klaxon::actions {
namespace {

struct Range4 {
  uint32_t net;
  int prefix;
  const char* reason;
};

constexpr Range4 kDenied4[] = {
    {0x00000000, 8, "unspecified"},
    {0x0A000000, 8, "private"},
    {0x64400000, 10, "shared (CGNAT)"},
    {0x7F000000, 8, "loopback"},
    {0xA9FE0000, 16, "link-local"},
    {0xAC100000, 12, "private"},
    {0xC0000000, 24, "reserved"},
    {0xC0A80000, 16, "private"},
    {0xC6120000, 15, "reserved"},
    {0xE0000000, 4, "multicast"},
    {0xF0000000, 4, "reserved or broadcast"},
};

std::string Denied4(const unsigned char* b) {
  const uint32_t a = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  for (const Range4& r : kDenied4) {
    const uint32_t mask = r.prefix == 0 ? 0 : ~uint32_t{0} << (32 - r.prefix);
    if ((a & mask) == r.net) return r.reason;
  }
  return "";
}

std::string Denied6(const unsigned char* b) {
  static constexpr unsigned char kZero[16] = {};
  if (std::memcmp(b, kZero, 15) == 0 && b[15] <= 1) return b[15] == 0 ? "unspecified" : "loopback";
  // IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::a.b.c.d.
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr unsigned char kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, kMapped, 12) == 0 || std::memcmp(b, kZero, 12) == 0 ||
      std::memcmp(b, kNat64, 12) == 0) {
    std::string r = Denied4(b + 12);
    return r.empty() ? "" : r + " (embedded IPv4)";
  }
  // NAT64 local-use prefix 64:ff9b:1::/48 (RFC 8215): a site's own translator maps the last
  // 32 bits, or any other layout the site chose, to IPv4 inside it; refused outright.
  static constexpr unsigned char kNat64Local[6] = {0, 0x64, 0xff, 0x9b, 0, 0x01};
  if (std::memcmp(b, kNat64Local, 6) == 0) return "NAT64 local-use";
  // 6to4 (2002:V4ADDR::/48): relays deliver to the embedded IPv4 address.
  if (b[0] == 0x20 && b[1] == 0x02) {
    std::string r = Denied4(b + 2);
    return r.empty() ? "" : r + " (embedded IPv4, 6to4)";
  }
  // Teredo (2001:0::/32) embeds a server and an obfuscated client IPv4; no notification
  // receiver is reached through it, so it is refused outright rather than decoded.
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return "Teredo tunnel";
  if ((b[0] & 0xfe) == 0xfc) return "private (unique local)";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local";
  if (b[0] == 0xff) return "multicast";
  return "";
}

bool PrefixMatch(const unsigned char* a, const unsigned char* b, int prefix) {
  const int full = prefix / 8;
  if (std::memcmp(a, b, static_cast<size_t>(full)) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A host that inet_aton would read as an IPv4 address but is not a canonical dotted quad.
bool IsOddNumericHost(const std::string& host) {
  if (host.empty()) return false;
  const bool numeric_looking = std::all_of(host.begin(), host.end(),
                                           [](char c) {
                                             return std::isxdigit(static_cast<unsigned char>(c)) ||
                                                    c == '.' || c == 'x' || c == 'X';
                                           }) &&
                               std::isdigit(static_cast<unsigned char>(host[0]));
  if (!numeric_looking) return false;
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    // inet_pton takes only dotted decimal; refuse leading zeros (octal to other parsers).
    size_t start = 0;
    while (start < host.size()) {
      size_t dot = host.find('.', start);
      if (dot == std::string::npos) dot = host.size();
      if (dot - start > 1 && host[start] == '0') return true;
      start = dot + 1;
    }
    return false;
  }
  return true;  // decimal, hex, octal or short forms: refused outright
}

}  // namespace

std::string DeniedAddressReason(const std::string& ip) {
  unsigned char b[16];
  if (inet_pton(AF_INET, ip.c_str(), b) == 1) return Denied4(b);
  if (inet_pton(AF_INET6, ip.c_str(), b) == 1) return Denied6(b);
  return "not an address";
}

Result<ParsedUrl> ParseHttpUrl(std::string_view url) {
  ParsedUrl out;
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return Status::InvalidArgument("URL without scheme");
  out.scheme = Lower(std::string(url.substr(0, scheme_end)));
  if (out.scheme != "http" && out.scheme != "https") {
    return Status::InvalidArgument("URL scheme must be http or https");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  const size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  out.target = auth_end == std::string_view::npos ? "/" : std::string(rest.substr(auth_end));
  if (const size_t hash = out.target.find('#'); hash != std::string::npos) out.target.resize(hash);
  if (out.target.empty() || out.target[0] != '/') out.target = "/" + out.target;
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("credentials in the URL are not supported");
  }
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("unterminated IPv6 host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::InvalidArgument("bad host");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  out.host = Lower(out.host);
  if (!out.host.empty() && out.host.back() == '.') out.host.pop_back();
  if (out.host.empty()) return Status::InvalidArgument("URL without host");
  for (char c : out.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == ':' ||
          c == '_'))
      return Status::InvalidArgument("invalid character in host");
  }
  out.port = out.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        }))
      return Status::InvalidArgument("invalid port");
    out.port = std::stoi(std::string(port_text));
    if (out.port <= 0 || out.port > 65535) return Status::InvalidArgument("invalid port");
  }
  return out;
}

Result<AllowList> AllowList::Parse(const std::vector<std::string>& entries) {
  AllowList out;
  for (const std::string& raw : entries) {
    std::string e = Lower(raw);
    const size_t slash = e.find('/');
    std::string addr = e.substr(0, slash);
    Cidr c{};
    if (inet_pton(AF_INET, addr.c_str(), c.bytes) == 1) {
      c.family = AF_INET;
      c.prefix = 32;
    } else if (inet_pton(AF_INET6, addr.c_str(), c.bytes) == 1) {
      c.family = AF_INET6;
      c.prefix = 128;
    } else if (slash == std::string::npos && !e.empty() && !IsOddNumericHost(e)) {
      out.hosts_.push_back(e);
      continue;
    } else {
      return Status::InvalidArgument("allow list entry `" + raw +
                                     "` is not a CIDR, an IP address or a host name");
    }
    if (slash != std::string::npos) {
      const std::string p = e.substr(slash + 1);
      const int max = c.prefix;
      if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), ::isdigit) ||
          std::stoi(p) > max)
        return Status::InvalidArgument("allow list entry `" + raw + "` has a bad prefix length");
      c.prefix = std::stoi(p);
    }
    out.cidrs_.push_back(c);
  }
  return out;
}

bool AllowList::AllowsHost(const std::string& host) const {
  return std::find(hosts_.begin(), hosts_.end(), Lower(host)) != hosts_.end();
}

bool AllowList::AllowsAddress(const std::string& ip) const {
  unsigned char b[16];
  int family = 0;
  if (inet_pton(AF_INET, ip.c_str(), b) == 1) {
    family = AF_INET;
  } else if (inet_pton(AF_INET6, ip.c_str(), b) == 1) {
    family = AF_INET6;
  } else {
    return false;
  }
  for (const Cidr& c : cidrs_) {
    if (c.family == family && PrefixMatch(c.bytes, b, c.prefix)) return true;
  }
  return false;
}

Result<std::string> CheckDestination(const std::string& raw_host, const AllowList& allow) {
  const std::string host = Lower(raw_host);
  if (IsOddNumericHost(host)) {
    return Status::InvalidArgument("destination " + host +
                                   " refused: numeric hosts must be canonical dotted quads");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    return Status::Unavailable("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  std::string pinned;
  std::string refusal;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ai->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, buf, sizeof buf);
    } else if (ai->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, buf,
                sizeof buf);
    } else {
      continue;
    }
    const std::string ip = buf;
    const std::string reason = DeniedAddressReason(ip);
    if (!reason.empty() && !allow.AllowsHost(host) && !allow.AllowsAddress(ip)) {
      refusal = "destination " + host + " refused: it resolves to " + ip + " (" + reason +
                "); add it to the allow list if this receiver is internal";
      break;
    }
    if (pinned.empty()) pinned = ip;
  }
  freeaddrinfo(res);
  if (!refusal.empty()) return Status::FailedPrecondition(refusal);
  if (pinned.empty()) return Status::Unavailable("no usable address for " + host);
  return pinned;
}

std::string DefaultUserAgent() { return std::string("klaxon/") + KLAXON_VERSION_STRING; }

// A pooled keep-alive connection. `fd` is a dup of httplib's socket, owned here and guarded by
// deadline_mu_: the watchdog shuts the socket down through it from its own thread, and holding
// our own descriptor means the number cannot be reused by another open() in the meantime.
struct SafeHttpClient::Connection {
  std::unique_ptr<httplib::Client> client;
  int fd = -1;
  ~Connection() {
    if (fd >= 0) ::close(fd);
  }
};

Result<std::unique_ptr<SafeHttpClient>> SafeHttpClient::Create(HttpClientOptions options) {
  auto allow = AllowList::Parse(options.allow);
  if (!allow.ok()) return allow.status();
  return std::unique_ptr<SafeHttpClient>(new SafeHttpClient(std::move(options), *allow));
}

SafeHttpClient::SafeHttpClient(HttpClientOptions options, AllowList allow)
    : options_(std::move(options)), allow_(std::move(allow)) {
  watchdog_ = std::thread([this] { WatchdogLoop(); });
}

SafeHttpClient::~SafeHttpClient() {
  {
    std::lock_guard lock(deadline_mu_);
    stop_watchdog_ = true;
  }
  deadline_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

void SafeHttpClient::WatchdogLoop() {
  pthread_setname_np(pthread_self(), "klaxon-http-dl");
  std::unique_lock lock(deadline_mu_);
  while (!stop_watchdog_) {
    const auto now = std::chrono::steady_clock::now();
    auto next = std::chrono::steady_clock::time_point::max();
    for (auto& [connection, f] : in_flight_) {
      if (f.expired) continue;
      if (f.deadline <= now) {
        // shutdown (not close) wakes httplib's poll/read with an error; httplib closes.
        f.expired = true;
        if (connection->fd >= 0) ::shutdown(connection->fd, SHUT_RDWR);
      } else {
        next = std::min(next, f.deadline);
      }
    }
    if (next == std::chrono::steady_clock::time_point::max()) {
      deadline_cv_.wait(lock);
    } else {
      deadline_cv_.wait_until(lock, next);
    }
  }
}

void SafeHttpClient::AdoptSocket(Connection& c, int fd) {
  if (c.fd >= 0) ::close(c.fd);
  c.fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);  // -1 (out of descriptors): no watchdog for it
  // A reconnect after the deadline passed or an abort: fail it at once.
  auto it = in_flight_.find(&c);
  if (it != in_flight_.end() && (it->second.expired || it->second.aborted)) {
    ::shutdown(fd, SHUT_RDWR);
  }
}

void SafeHttpClient::Abort() {
  std::lock_guard lock(deadline_mu_);
  ++abort_epoch_;
  for (auto& [connection, f] : in_flight_) {
    f.aborted = true;
    if (connection->fd >= 0) ::shutdown(connection->fd, SHUT_RDWR);
  }
}

std::unique_ptr<SafeHttpClient::Connection> SafeHttpClient::Checkout(const ParsedUrl& url,
                                                                     const std::string& key,
                                                                     HttpResponse& error) {
  {
    std::lock_guard lock(mu_);
    auto it = idle_.find(key);
    if (it != idle_.end() && !it->second.empty()) {
      auto c = std::move(it->second.back());
      it->second.pop_back();
      return c;
    }
  }
  auto pinned = CheckDestination(url.host, allow_);
  if (!pinned.ok()) {
    error.error = pinned.status().code() == StatusCode::kUnavailable ? TransportError::kResolve
                                                                     : TransportError::kBlocked;
    error.error_detail = pinned.status().message();
    return nullptr;
  }
  const std::string host_for_url =
      url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  auto connection = std::make_unique<Connection>();
  auto client = std::make_unique<httplib::Client>(url.scheme + "://" + host_for_url + ":" +
                                                  std::to_string(url.port));
  // Connect to the address just checked, whatever DNS says later (rebinding).
  client->set_hostname_addr_map({{url.host, *pinned}});
  client->set_follow_location(false);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);  // small JSON requests: do not wait on Nagle + delayed ACK
  client->set_connection_timeout(std::chrono::milliseconds(options_.connect_timeout_ms));
  client->enable_server_certificate_verification(true);
  if (!options_.ca_file.empty()) client->set_ca_cert_path(options_.ca_file.c_str());
  // httplib calls this for every socket it opens, before connecting: the watchdog's handle.
  client->set_socket_options([this, raw = connection.get()](int fd) {
    std::lock_guard lock(deadline_mu_);
    AdoptSocket(*raw, fd);
  });
  connection->client = std::move(client);
  return connection;
}

void SafeHttpClient::Return(const std::string& key, std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mu_);
  auto& pool = idle_[key];
  if (pool.size() < options_.max_idle_per_origin) pool.push_back(std::move(connection));
}

HttpResponse SafeHttpClient::Send(const HttpRequest& request) {
  HttpResponse out;
  auto url = ParseHttpUrl(request.url);
  if (!url.ok()) {
    out.error = TransportError::kBadUrl;
    out.error_detail = url.status().message();
    return out;
  }
  const std::string key = url->scheme + "://" + url->host + ":" + std::to_string(url->port);
  uint64_t epoch = 0;
  {
    std::lock_guard lock(deadline_mu_);
    epoch = abort_epoch_;
  }
  auto connection = Checkout(*url, key, out);
  if (!connection) return out;
  httplib::Client& client = *connection->client;
  const int64_t read_ms =
      request.timeout_ms > 0 ? request.timeout_ms : options_.default_read_timeout_ms;
  client.set_read_timeout(std::chrono::milliseconds(read_ms));
  client.set_write_timeout(std::chrono::milliseconds(read_ms));

  httplib::Request req;
  req.method = request.method;
  req.path = url->target;
  for (const auto& [k, v] : request.headers) {
    if (!IEquals(k, "User-Agent")) req.headers.emplace(k, v);
  }
  if (!options_.user_agent.empty()) req.headers.emplace("User-Agent", options_.user_agent);
  req.body = request.body;
  // Keep the first max_response_bytes; stop reading past them (a 1.5 GiB error page must not
  // be buffered to log 512 bytes of it).
  const size_t cap = request.max_response_bytes;
  bool truncated = false;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    const size_t room = cap > out.body.size() ? cap - out.body.size() : 0;
    out.body.append(data, std::min(n, room));
    if (n > room) {
      truncated = true;
      return false;
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const auto started = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(deadline_mu_);
    InFlight& flight = in_flight_[connection.get()];
    flight.deadline = options_.request_deadline_ms > 0
                          ? started + std::chrono::milliseconds(options_.request_deadline_ms)
                          : std::chrono::steady_clock::time_point::max();
    // An Abort() while this request resolved its host: it fails at its socket's creation.
    flight.aborted = abort_epoch_ != epoch;
    if (connection->fd >= 0 && !client.is_socket_open()) {
      ::close(connection->fd);
      connection->fd = -1;
    }
    if (flight.aborted && connection->fd >= 0) ::shutdown(connection->fd, SHUT_RDWR);
  }
  deadline_cv_.notify_all();
  bool ok = false;
  try {
    ok = client.send(req, res, err);
  } catch (const std::exception&) {
    ok = false;
    err = httplib::Error::Unknown;
  }
  InFlight flight;
  {
    std::lock_guard lock(deadline_mu_);
    if (auto it = in_flight_.find(connection.get()); it != in_flight_.end()) {
      flight = it->second;
      in_flight_.erase(it);
    }
    // httplib closed its socket (Connection: close, error): let ours go too, or the peer would
    // not see the close until this pooled connection is destroyed.
    if (!client.is_socket_open() && connection->fd >= 0) {
      ::close(connection->fd);
      connection->fd = -1;
    }
  }
  if (!ok && truncated && res.status > 0) ok = true;  // what we kept is the answer
  // A complete answer counts even when the deadline or an abort hit just after it: reporting
  // a failure would make a receiver that accepted the notification get it again.
  if (!ok) {
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count();
    out.body.clear();
    out.truncated = false;
    if (flight.aborted) {
      out.error = TransportError::kCancelled;
      out.error_detail = "request to " + url->host + " abandoned at shutdown";
      return out;
    }
    if (flight.expired) {
      out.error = TransportError::kTimeout;
      out.error_detail = "request to " + url->host + " exceeded the " +
                         std::to_string(options_.request_deadline_ms) + " ms request deadline";
      return out;
    }
    switch (err) {
      case httplib::Error::Connection:
      case httplib::Error::ConnectionTimeout:
        out.error = TransportError::kConnect;
        break;
      case httplib::Error::Read:
      case httplib::Error::Write:
        // httplib reports a read timeout as a read error; tell them apart by the time spent.
        out.error =
            elapsed + 50 >= read_ms ? TransportError::kTimeout : TransportError::kConnection;
        break;
      default:
        out.error = TransportError::kConnection;
    }
    out.error_detail = "request to " + url->host + " failed: " + httplib::to_string(err);
    return out;  // the connection is in an unknown state: drop it
  }
  out.status = res.status;
  out.truncated = truncated;
  for (const auto& [k, v] : res.headers) out.headers.emplace_back(k, v);
  // A cut-off body leaves the rest unread on the socket, and a socket the watchdog shut down
  // is gone: such a connection cannot be reused.
  if (!truncated && !flight.expired && !flight.aborted) Return(key, std::move(connection));
  return out;
}

}  // namespace klaxon::actions
