#include "service/admin_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "service/guarded_http_server.h"
#include "service/listen_address.h"

namespace klaxon::service {
namespace {

// Compares without an early exit, so the time taken does not tell how much of a token matched.
bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  unsigned diff = a.size() == b.size() ? 0 : 1;
  const std::string& c = a.size() == b.size() ? a : b;
  for (size_t i = 0; i < b.size(); ++i) diff |= static_cast<unsigned>(c[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

Result<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& listen,
                                                        AdminHandlers handlers) {
  Result<ListenAddress> address = ParseListenAddress(listen);
  if (!address.ok()) return Status::InvalidArgument("admin.listen: " + address.status().message());
  const int port = address->port;
  std::unique_ptr<AdminServer> s(new AdminServer());
  s->handlers_ = std::move(handlers);
  // Slow or reconnecting clients must not starve a liveness probe: whole-request deadlines, a
  // fixed pool that cuts the slowest reader when full, a real listen backlog
  // (service/guarded_http_server.h; ~40 slow clients starved httplib's own pool).
  auto guarded = std::make_unique<GuardedHttpServer>(GuardedServerOptions{});
  GuardedHttpServer& guarded_srv = *guarded;
  s->server_ = std::move(guarded);
  httplib::Server& srv = *s->server_;
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second instance
  // starts on the same port and the kernel spreads scrapes over both processes.
  srv.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<void*>(&yes), sizeof(yes));
  });
  const AdminHandlers& h = s->handlers_;
  const bool loopback = IsLoopbackHost(address->host);
  // Refuses a mutating request unless it carries the token (answered here), else true.
  auto authorized = [&h, loopback](const httplib::Request& req, httplib::Response& res) {
    if (h.token.empty()) {
      if (loopback) return true;
      res.status = 403;
      res.set_content(R"({"error":"the admin server listens beyond loopback: set admin.token_file )"
                      R"(to allow changes over HTTP"})",
                      "application/json");
      return false;
    }
    const std::string got = req.get_header_value("Authorization");
    if (ConstantTimeEquals(got, "Bearer " + h.token)) return true;
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer");
    res.set_content("{\"error\":\"a bearer token is required (admin.token_file)\"}",
                    "application/json");
    return false;
  };
  srv.set_payload_max_length(1 << 20);
  if (h.status_page) {
    // The page is untrusted-content heavy (tags, messages): no script may ever run in it, and
    // it must not be framed (its forms mute alerts).
    auto page = [](httplib::Response& res, const std::string& html) {
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                     "frame-ancestors 'none'");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("X-Frame-Options", "DENY");
      res.set_header("Cache-Control", "no-store");
      res.set_content(html, "text/html; charset=utf-8");
    };
    srv.Get("/", [&h, page](const httplib::Request&, httplib::Response& res) {
      page(res, h.status_page(""));
    });
    if (h.silence_form) {
      for (const char* form : {"new", "expire"}) {
        srv.Post(
            std::string("/silences/") + form,
            [&h, page, loopback, form](const httplib::Request& req, httplib::Response& res) {
              std::map<std::string, std::string> fields;
              for (const auto& [k, v] : req.params) fields[k] = v;
              const auto field = [&fields](const char* k) {
                auto it = fields.find(k);
                return it == fields.end() ? std::string() : it->second;
              };
              if (!ConstantTimeEquals(field("csrf"), h.csrf_token)) {
                res.status = 403;
                page(res, h.status_page("Not done: the form did not come from this page (or the "
                                        "service restarted since it was loaded); try again."));
                return;
              }
              if (h.token.empty() && !loopback) {
                res.status = 403;
                page(res, h.status_page("Not done: changes need admin.token_file when the admin "
                                        "server listens beyond loopback."));
                return;
              }
              if (!h.token.empty() && !ConstantTimeEquals(field("token"), h.token)) {
                res.status = 401;
                page(res, h.status_page("Not done: the admin token is missing or wrong."));
                return;
              }
              page(res, h.status_page(h.silence_form(form, fields)));
            });
      }
    }
  }
  if (h.silences) {
    auto answer = [](httplib::Response& res, const ApiResponse& r) {
      res.status = r.status;
      res.set_content(r.body, "application/json");
    };
    srv.Get("/api/v1/silences", [&h, answer](const httplib::Request&, httplib::Response& res) {
      answer(res, h.silences("GET", "", ""));
    });
    srv.Get(R"(/api/v1/silences/([^/]+))",
            [&h, answer](const httplib::Request& req, httplib::Response& res) {
              answer(res, h.silences("GET", req.matches[1], ""));
            });
    srv.Post("/api/v1/silences",
             [&h, answer, authorized](const httplib::Request& req, httplib::Response& res) {
               if (!authorized(req, res)) return;
               answer(res, h.silences("POST", "", req.body));
             });
    srv.Delete(R"(/api/v1/silences/([^/]+))",
               [&h, answer, authorized](const httplib::Request& req, httplib::Response& res) {
                 if (!authorized(req, res)) return;
                 answer(res, h.silences("DELETE", req.matches[1], ""));
               });
  }
  srv.Get("/metrics", [&h](const httplib::Request&, httplib::Response& res) {
    res.set_content(h.metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  srv.Get("/-/healthy", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("Klaxon is Healthy.\n", "text/plain");
  });
  srv.Get("/-/ready", [&h](const httplib::Request&, httplib::Response& res) {
    if (h.ready()) {
      res.set_content("Klaxon is Ready.\n", "text/plain");
    } else {
      res.status = 503;
      const std::string reason = h.not_ready_reason ? h.not_ready_reason() : std::string();
      res.set_content(
          reason.empty() ? "Klaxon is not ready.\n" : "Klaxon is not ready: " + reason + ".\n",
          "text/plain");
    }
  });
  srv.Get("/api/v1/rules", [&h](const httplib::Request&, httplib::Response& res) {
    res.set_content(h.rules_json(), "application/json");
  });
  srv.Get("/api/v1/alerts", [&h](const httplib::Request&, httplib::Response& res) {
    res.set_content(h.alerts_json(), "application/json");
  });
  // The content-reader form: httplib 0.11 waits for a body when a POST has no Content-Length
  // (as `curl -X POST` sends it) and then answers 400; the reload needs no body.
  srv.Post("/-/reload", [&h, authorized](const httplib::Request& req, httplib::Response& res,
                                         const httplib::ContentReader&) {
    res.set_header("Connection", "close");
    if (!authorized(req, res)) return;
    if (!h.reload) {
      res.status = 403;
      res.set_content("reload over HTTP is disabled; start with --admin.enable_reload=true\n",
                      "text/plain");
      return;
    }
    Status st = h.reload();
    if (st.ok()) {
      res.set_content("reloaded\n", "text/plain");
    } else {
      res.status = 500;
      res.set_content("reload failed: " + st.message() + "\n", "text/plain");
    }
  });
  // `:PORT` means every interface, as in Prometheus: "::" takes IPv4 too (httplib clears
  // IPV6_V6ONLY); "0.0.0.0" where IPv6 is off.
  std::vector<std::string> hosts = {address->host};
  if (address->host.empty()) hosts = {"::", "0.0.0.0"};
  s->port_ = -1;
  for (const std::string& host : hosts) {
    if (port == 0) {
      s->port_ = srv.bind_to_any_port(host);
    } else if (srv.bind_to_port(host, port)) {
      s->port_ = port;
    }
    if (s->port_ >= 0) break;
  }
  if (s->port_ < 0) return Status::Unavailable("admin server: cannot listen on " + listen);
  guarded_srv.RaiseBacklog();
  s->thread_ = std::thread([&srv] { srv.listen_after_bind(); });
  // Stop() before the accept loop runs would be ignored by httplib and the join would wait
  // forever (a run whose input ends at once hung 1 time in 20): return once it runs.
  for (int i = 0; i < 5000 && !srv.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!srv.is_running()) {
    s->Stop();
    return Status::Unavailable("admin server: did not start listening on " + listen);
  }
  return s;
}

void AdminServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

AdminServer::~AdminServer() { Stop(); }

std::string RandomToken() {
  std::random_device random;
  std::string out;
  for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", static_cast<uint32_t>(random()));
  return out;
}

}  // namespace klaxon::service
