// The admin HTTP server of `klaxon run` (cpp-httplib, 127.0.0.1 by default): /metrics,
// /-/healthy, /-/ready, /api/v1/rules, /api/v1/alerts and, when enabled, POST /-/reload.
// Runs its own threads; the handlers it is given must be thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "engine/status.h"
#include "service/silence_api.h"

namespace httplib {
class Server;
}

namespace klaxon::service {

struct AdminHandlers {
  std::function<std::string()> metrics;  // Prometheus text
  std::function<bool()> ready;           // rules loaded, partitions assigned, not stopping
  // Why /-/ready answers 503, when there is more to say than "not ready" (empty: nothing).
  std::function<std::string()> not_ready_reason;
  std::function<std::string()> rules_json;   // {"status":"success","data":{"rules":[...]}}
  std::function<std::string()> alerts_json;  // {"status":"success","data":{"alerts":[...]}}
  std::function<Status()> reload;            // nullptr: POST /-/reload is disabled
  // /api/v1/silences: GET (id empty: the list), POST (body), DELETE (id). nullptr: no silences.
  std::function<ApiResponse(const std::string& method, const std::string& id,
                            const std::string& body)>
      silences;
  // Mutating requests (reload, silences) need `Authorization: Bearer <token>` when set. When
  // empty and the server listens beyond loopback they are refused: anyone who can reach the
  // port could otherwise mute every alert.
  std::string token;
  // The status page at `/` (HTML), showing `message` once (the result of a form). nullptr: 404.
  std::function<std::string(const std::string& message)> status_page;
  // The page's silence forms: "new" (matchers, duration, created_by, comment) or "expire" (id);
  // returns the message to show. Each post must carry `csrf_token` (the page embeds it), and
  // the admin token as field `token` when `token` is set. nullptr: no forms.
  std::function<std::string(const std::string& form,
                            const std::map<std::string, std::string>& fields)>
      silence_form;
  std::string csrf_token;
};

// 128 random bits in hex: the status page's CSRF token, one per process.
std::string RandomToken();

class AdminServer {
 public:
  // `listen` is "host:port", "[ipv6]:port" or ":port" (every interface); port 0 picks a free
  // one (see port()).
  static Result<std::unique_ptr<AdminServer>> Start(const std::string& listen,
                                                    AdminHandlers handlers);
  ~AdminServer();
  int port() const { return port_; }
  void Stop();

 private:
  AdminServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  AdminHandlers handlers_;
  int port_ = 0;
};

}  // namespace klaxon::service
