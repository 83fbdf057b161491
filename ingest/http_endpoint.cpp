#include "ingest/http_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>

namespace klaxon::ingest {
namespace {

// As Relay answers browsers (relay-server's CORS layer): any origin, POST, the headers SDKs send.
constexpr const char* kAllowHeaders =
    "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, content-type, "
    "authentication, authorization, content-encoding, transfer-encoding, sentry-trace, baggage";
constexpr const char* kExposeHeaders = "x-sentry-error, x-sentry-rate-limits, retry-after";

void Cors(const httplib::Request& req, httplib::Response& res) {
  res.set_header("Access-Control-Allow-Origin",
                 req.has_header("Origin") ? req.get_header_value("Origin") : "*");
  res.set_header("Access-Control-Expose-Headers", kExposeHeaders);
  res.set_header("Vary", "Origin");
}

void Send(const httplib::Request& req, httplib::Response& res, const IngestResponse& r) {
  Cors(req, res);
  res.status = r.status;
  if (r.retry_after_s > 0) res.set_header("Retry-After", std::to_string(r.retry_after_s));
  if (!r.rate_limits.empty()) res.set_header("X-Sentry-Rate-Limits", r.rate_limits);
  if (r.status >= 400) {
    // Sentry SDKs log this header when a submission fails.
    res.set_header("X-Sentry-Error", r.body);
  }
  res.set_content(r.body, "application/json");
}

}  // namespace

Result<std::unique_ptr<IngestEndpoint>> IngestEndpoint::Start(const EndpointOptions& options,
                                                              IngestHandler& handler) {
  std::unique_ptr<IngestEndpoint> e(new IngestEndpoint());
  e->server_ = std::make_unique<httplib::Server>();
  httplib::Server& srv = *e->server_;
  srv.set_read_timeout(options.read_timeout_ms / 1000, (options.read_timeout_ms % 1000) * 1000);
  srv.set_write_timeout(5, 0);
  srv.set_keep_alive_timeout(2);
  srv.set_payload_max_length(options.max_request_bytes);
  const int threads = options.threads;
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // SO_REUSEADDR only: with httplib's default SO_REUSEPORT two instances could share the port.
  srv.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<void*>(&yes), sizeof(yes));
  });

  const EndpointOptions opts = options;
  auto ingest = [&handler, opts](const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& reader) {
    const Endpoint ep = req.matches[2] == "store" ? Endpoint::kStore : Endpoint::kEnvelope;
    // httplib decodes gzip, deflate and br and passes any other encoding through undecoded.
    const std::string encoding = req.get_header_value("Content-Encoding");
    if (!encoding.empty() && encoding != "gzip" && encoding != "deflate" && encoding != "br" &&
        encoding != "identity") {
      res.set_header("Connection", "close");
      Send(req, res, handler.Refuse(ep, 415, "unsupported content encoding '" + encoding + "'"));
      return;
    }
    // A declared length past the cap is refused before reading a byte.
    if (std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) >
        opts.max_request_bytes) {
      res.set_header("Connection", "close");
      Send(
          req, res,
          handler.Refuse(
              ep, 413, "request larger than " + std::to_string(opts.max_request_bytes) + " bytes"));
      return;
    }
    // The body arrives decoded (httplib inflates gzip/deflate/br chunk by chunk); stopping at
    // the cap keeps a decompression bomb to max_request_bytes of memory.
    std::string body;
    bool too_large = false;
    bool too_slow = false;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.request_timeout_ms);
    const bool read = reader([&](const char* data, size_t n) {
      if (body.size() + n > opts.max_request_bytes) {
        too_large = true;
        return false;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        too_slow = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    res.set_header("Connection", read ? "keep-alive" : "close");
    if (too_large) {
      Send(req, res,
           handler.Refuse(ep, 413,
                          "request larger than " + std::to_string(opts.max_request_bytes) +
                              " bytes (decoded)"));
      return;
    }
    if (too_slow) {
      Send(req, res, handler.Refuse(ep, 408, "request body not received in time"));
      return;
    }
    if (!read) {
      Send(req, res, handler.Refuse(ep, 400, "cannot read or decode the request body"));
      return;
    }
    IngestRequest r;
    r.endpoint = ep;
    r.project_id = req.matches[1];
    r.auth_header = req.get_header_value("X-Sentry-Auth");
    if (r.auth_header.empty()) r.auth_header = req.get_header_value("Authorization");
    const size_t q = req.target.find('?');
    if (q != std::string::npos) r.query = req.target.substr(q + 1);
    r.body = body;
    Send(req, res, handler.Handle(r, opts.now_ms()));
  };
  const char* kPattern = R"(/api/(\d+)/(envelope|store)/?)";
  srv.Post(kPattern, ingest);
  srv.Options(kPattern, [](const httplib::Request& req, httplib::Response& res) {
    Cors(req, res);
    res.set_header("Access-Control-Allow-Methods", "POST, OPTIONS");
    res.set_header("Access-Control-Allow-Headers", kAllowHeaders);
    res.set_header("Access-Control-Max-Age", "3600");
    res.status = 200;
  });
  // Refusals httplib makes itself (no route, Content-Length past the cap, unsupported
  // Content-Encoding) get Sentry's JSON body too.
  srv.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        Cors(req, res);
        std::string detail = res.status == 404   ? "not found"
                             : res.status == 413 ? "request too large"
                             : res.status == 415 ? "unsupported content encoding"
                                                 : "bad request";
        res.set_content("{\"detail\":\"" + detail + "\"}", "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));

  std::vector<std::string> hosts = {options.host};
  if (options.host.empty()) hosts = {"::", "0.0.0.0"};
  for (const std::string& host : hosts) {
    if (options.port == 0) {
      e->port_ = srv.bind_to_any_port(host);
    } else if (srv.bind_to_port(host, options.port)) {
      e->port_ = options.port;
    }
    if (e->port_ >= 0) break;
  }
  if (e->port_ < 0) {
    return Status::Unavailable("sentry endpoint: cannot listen on " + options.host + ":" +
                               std::to_string(options.port));
  }
  e->thread_ = std::thread([&srv] { srv.listen_after_bind(); });
  // Stop() before the accept loop runs would be ignored by httplib: return once it runs.
  for (int i = 0; i < 5000 && !srv.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!srv.is_running()) {
    e->Stop();
    return Status::Unavailable("sentry endpoint: did not start listening");
  }
  return e;
}

void IngestEndpoint::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

IngestEndpoint::~IngestEndpoint() { Stop(); }

}  // namespace klaxon::ingest
