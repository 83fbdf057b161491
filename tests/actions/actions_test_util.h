// Shared fixtures for the actions tests: a sample rule and notifications, a map-backed secret
// resolver, golden-file comparison and a recording HTTP receiver on 127.0.0.1.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "actions/action.h"
#include "engine/notification.h"
#include "engine/rule.h"

namespace klaxon::actions::testing {

Rule SampleRule();
// firing / repeat / resolved notifications of one episode of SampleRule.
Notification SampleNotification(AlertState state);
// A Sentry-style event with sensitive fields (password, card number, api_key tag).
std::string SampleEventJson();

ActionValue Str(std::string s);
ActionValue Env(std::string name);
ActionDef MakeDef(std::string name, std::string kind,
                  std::vector<std::pair<std::string, ActionValue>> args);

// Resolves env("NAME") from the map; file(...) is refused.
SecretResolver MapResolver(std::map<std::string, std::string> values);

// Compares `actual` with tests/actions/golden/<name>; KLAXON_UPDATE_GOLDEN=1 rewrites it.
bool MatchesGolden(const std::string& name, const std::string& actual);

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::multimap<std::string, std::string> headers;  // httplib's case-insensitive keys
  std::string body;
  std::string Header(const std::string& name) const;
};

// An httplib::Server on 127.0.0.1 and a free port, in its own thread. The handler decides
// the response; every request is recorded first.
class Receiver {
 public:
  using Handler = std::function<void(const ReceivedRequest&, httplib::Response&)>;
  explicit Receiver(Handler handler = nullptr);
  ~Receiver();
  void SetHandler(Handler handler);
  int port() const { return port_; }
  std::string Url(const std::string& path = "/hook") const;
  std::vector<ReceivedRequest> Requests() const;
  size_t Count() const;
  // Waits (wall time, bounded) until at least `n` requests arrived.
  bool WaitForCount(size_t n, int timeout_ms = 10000) const;
  void Stop();

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  Handler handler_;
  std::vector<ReceivedRequest> requests_;
};

// Polls `pred` every millisecond for up to `timeout_ms` of wall time.
bool WaitUntil(const std::function<bool()>& pred, int timeout_ms = 10000);

}  // namespace klaxon::actions::testing
