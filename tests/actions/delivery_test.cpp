// Dispatcher against real HTTP receivers on 127.0.0.1: the failure matrix with the retry
// schedule read off a ManualClock, rate limits and coalescing, 410, secrets in logs.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <span>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "actions/dispatcher.h"
#include "actions/http_client.h"
#include "actions/outbox.h"
#include "actions/render.h"
#include "tests/actions/actions_test_util.h"

namespace klaxon::actions {
namespace {

using namespace klaxon::actions::testing;
using nlohmann::json;

constexpr int64_t kStart = 1764041000000;  // a whole second, for HTTP-date Retry-After

std::string TempPath(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("klaxon-actions-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  std::filesystem::remove(p.string() + "-wal");
  std::filesystem::remove(p.string() + "-shm");
  return p.string();
}

struct LogCapture {
  std::mutex mu;
  std::vector<std::string> lines;
  LogFn Fn() {
    return [this](LogLevel, const std::string& m) {
      std::lock_guard lock(mu);
      lines.push_back(m);
    };
  }
  std::string All() {
    std::lock_guard lock(mu);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
};

// One webhook (or other) action, an outbox, a client allowed to reach 127.0.0.1, a manual
// clock and a one-worker dispatcher.
struct Harness {
  ManualClock clock{kStart};
  LogCapture logs;
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<SafeHttpClient> client;
  std::unique_ptr<Action> action;
  std::unique_ptr<Dispatcher> dispatcher;

  Harness(const ActionDef& def, const SecretResolver& resolver, const std::string& db,
          DispatcherOptions options = {}, int workers = 1) {
    auto box = Outbox::Open(TempPath(db));
    REQUIRE_MESSAGE(box.ok(), box.status().message());
    outbox = std::move(box).value();
    HttpClientOptions http;
    http.allow = {"127.0.0.1"};
    auto c = SafeHttpClient::Create(http);
    REQUIRE(c.ok());
    client = std::move(c).value();
    auto a = CreateAction(def, resolver, {});
    REQUIRE_MESSAGE(a.ok(), a.status().message());
    action = std::move(a).value();
    options.workers = workers;
    options.seed = 42;
    options.log = logs.Fn();
    auto d = Dispatcher::Start(*outbox, {action.get()}, *client, clock, options);
    REQUIRE(d.ok());
    dispatcher = std::move(d).value();
  }
  ~Harness() {
    if (dispatcher) dispatcher->Stop();
  }
  Status Send(AlertState state = AlertState::kFiring, const std::string& group = "orders-api") {
    Notification n = SampleNotification(state);
    n.group = {group};
    Rule rule = SampleRule();
    rule.actions = {action->name()};
    return dispatcher->Submit(n, rule);
  }
  // The single pending item once it has `attempts` failed attempts.
  OutboxItem WaitAttempts(uint32_t attempts) {
    OutboxItem out;
    const bool ok = WaitUntil([&] {
      auto p = dispatcher->Pending();
      if (p.size() == 1 && p[0].attempts == attempts) {
        out = p[0];
        return true;
      }
      return false;
    });
    REQUIRE_MESSAGE(ok, "no item with " << attempts << " attempts; logs:\n" << logs.All());
    return out;
  }
  bool WaitIdle() {
    return WaitUntil([&] { return dispatcher->Stats().queue_length == 0; });
  }
};

ActionDef WebhookTo(const Receiver& r,
                    std::vector<std::pair<std::string, ActionValue>> extra = {}) {
  std::vector<std::pair<std::string, ActionValue>> args = {{"url", Str(r.Url("/hook"))}};
  for (auto& e : extra) args.push_back(e);
  return MakeDef("hook", "webhook", args);
}

ActionValue Duration(int64_t ms) {
  ActionValue v;
  v.kind = ActionValue::Kind::kDuration;
  v.duration_ms = ms;
  return v;
}

void Respond(httplib::Response& res, int status, const std::string& body = "",
             const std::string& retry_after = "") {
  res.status = status;
  if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
  res.set_content(body, "text/plain");
}

TEST_CASE("backoff: 500 ms start, x1.5, +/-50 %, capped at 60 s") {
  DispatcherOptions o;
  CHECK(BackoffDelayMs(o, 1, 0.5) == 500);
  CHECK(BackoffDelayMs(o, 1, 0.0) == 250);
  CHECK(BackoffDelayMs(o, 2, 0.5) == 750);
  CHECK(BackoffDelayMs(o, 3, 0.5) == 1125);
  CHECK(BackoffDelayMs(o, 40, 0.5) == 60000);
  CHECK(BackoffDelayMs(o, 40, 0.99) == 60000);
  CHECK(BackoffDelayMs(o, 40, 0.0) == 30000);
}

TEST_CASE("Retry-After: delta seconds and HTTP dates") {
  CHECK(ParseRetryAfter("7", kStart) == 7000);
  CHECK(ParseRetryAfter("Tue, 25 Nov 2025 03:24:00 GMT", 1764040980000) == 60000);
  CHECK(ParseRetryAfter("soon", kStart) == std::nullopt);
  CHECK(ParseRetryAfter("", kStart) == std::nullopt);
}

TEST_CASE("500 and 502 are retried on the jittered exponential schedule until accepted") {
  for (int status : {500, 502}) {
    CAPTURE(status);
    Receiver receiver(
        [status](const ReceivedRequest&, httplib::Response& res) { Respond(res, status, "oops"); });
    Harness h(WebhookTo(receiver), MapResolver({}), "retry.db");
    REQUIRE(h.Send().ok());
    double base = 500;
    for (uint32_t attempt = 1; attempt <= 6; ++attempt) {
      OutboxItem item = h.WaitAttempts(attempt);
      const int64_t delay = item.next_attempt_ms - h.clock.NowMs();
      CHECK(delay >= static_cast<int64_t>(base * 0.5));
      CHECK(delay <= static_cast<int64_t>(base * 1.5));
      CHECK(receiver.Count() == attempt);
      // Nothing is sent before the scheduled time...
      h.clock.Set(item.next_attempt_ms - 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      CHECK(receiver.Count() == attempt);
      if (attempt == 6) receiver.SetHandler(nullptr);  // 200 ok from now on
      // ...and the retry goes out when it comes.
      h.clock.Set(item.next_attempt_ms);
      REQUIRE(receiver.WaitForCount(attempt + 1));
      base *= 1.5;
    }
    REQUIRE(h.WaitIdle());
    const auto stats = h.dispatcher->Stats();
    CHECK(stats.sent == 1);
    CHECK(stats.retried == 6);
    CHECK(stats.outbox_size == 0);
    // Every attempt carried the same idempotency key.
    std::set<std::string> ids;
    for (const auto& r : receiver.Requests()) ids.insert(r.Header("webhook-id"));
    CHECK(ids.size() == 1);
  }
}

TEST_CASE("503 and 429 with Retry-After wait exactly that long") {
  struct Case {
    int status;
    std::string retry_after;
    int64_t expected_ms;
  };
  for (const Case& c : {Case{503, "7", 7000}, Case{429, "Tue, 25 Nov 2025 03:23:40 GMT", 20000}}) {
    CAPTURE(c.status);
    Receiver receiver([c](const ReceivedRequest&, httplib::Response& res) {
      Respond(res, c.status, "slow down", c.retry_after);
    });
    Harness h(WebhookTo(receiver), MapResolver({}), "retry_after.db");
    REQUIRE(h.Send().ok());
    OutboxItem item = h.WaitAttempts(1);
    CHECK(item.next_attempt_ms - h.clock.NowMs() == c.expected_ms);
    h.clock.Advance(c.expected_ms - 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(receiver.Count() == 1);
    receiver.SetHandler(nullptr);
    h.clock.Advance(1);
    REQUIRE(h.WaitIdle());
    CHECK(receiver.Count() == 2);
    CHECK(h.dispatcher->Stats().sent == 1);
  }
}

TEST_CASE("400 is final and logged with the response body; 3xx is never followed") {
  Receiver receiver([](const ReceivedRequest& r, httplib::Response& res) {
    if (r.path == "/redirect") {
      res.status = 302;
      res.set_header("Location", "/elsewhere");
      return;
    }
    Respond(res, 400, "invalid payload: missing field routing_key");
  });
  {
    Harness h(WebhookTo(receiver), MapResolver({}), "final.db");
    REQUIRE(h.Send().ok());
    REQUIRE(h.WaitIdle());
    h.clock.Advance(3600000);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(receiver.Count() == 1);
    const auto stats = h.dispatcher->Stats();
    CHECK(stats.failed.at("http_400") == 1);
    CHECK(stats.outbox_size == 0);
    CHECK(h.logs.All().find("invalid payload: missing field routing_key") != std::string::npos);
  }
  Harness h(MakeDef("hook", "webhook", {{"url", Str(receiver.Url("/redirect"))}}), MapResolver({}),
            "redirect.db");
  REQUIRE(h.Send().ok());
  REQUIRE(h.WaitIdle());
  CHECK(h.dispatcher->Stats().failed.at("http_302") == 1);
  for (const auto& r : receiver.Requests()) CHECK(r.path != "/elsewhere");
}

TEST_CASE("410 disables the action loudly") {
  Receiver receiver([](const ReceivedRequest&, httplib::Response& res) {
    Respond(res, 410, "channel_is_archived");
  });
  Harness h(WebhookTo(receiver), MapResolver({}), "gone.db");
  REQUIRE(h.Send(AlertState::kFiring, "a").ok());
  REQUIRE(h.WaitIdle());
  auto stats = h.dispatcher->Stats();
  REQUIRE(stats.disabled_actions.size() == 1);
  CHECK(stats.disabled_actions[0] == "hook");
  CHECK(h.logs.All().find("ACTION DISABLED") != std::string::npos);
  CHECK(h.logs.All().find("channel_is_archived") != std::string::npos);
  REQUIRE(h.Send(AlertState::kFiring, "b").ok());
  stats = h.dispatcher->Stats();
  CHECK(stats.failed.at("disabled") == 1);
  CHECK(receiver.Count() == 1);
}

TEST_CASE("a hanging receiver hits the read timeout and is retried") {
  std::atomic<bool> hang{true};
  Receiver receiver([&](const ReceivedRequest&, httplib::Response& res) {
    if (hang) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    Respond(res, 200, "ok");
  });
  Harness h(WebhookTo(receiver, {{"timeout", Duration(300)}}), MapResolver({}), "hang.db");
  REQUIRE(h.Send().ok());
  OutboxItem item = h.WaitAttempts(1);
  CHECK(h.logs.All().find("(timeout)") != std::string::npos);
  const int64_t delay = item.next_attempt_ms - h.clock.NowMs();
  CHECK(delay >= 250);
  CHECK(delay <= 750);
  hang = false;
  h.clock.Set(item.next_attempt_ms);
  REQUIRE(h.WaitIdle());
  CHECK(h.dispatcher->Stats().sent == 1);
}

// Accepts connections and resets them (SO_LINGER 0) without answering.
class ResetServer {
 public:
  ResetServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    REQUIRE(::listen(fd_, 16) == 0);
    thread_ = std::thread([this] {
      while (true) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        ++accepted_;
        char buf[4096];
        (void)::recv(c, buf, sizeof buf, 0);
        linger l{1, 0};
        ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(c);
      }
    });
  }
  ~ResetServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int fd_;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST_CASE("a connection reset is retried") {
  ResetServer server;
  Harness h(MakeDef("hook", "webhook",
                    {{"url", Str("http://127.0.0.1:" + std::to_string(server.port()) + "/hook")}}),
            MapResolver({}), "reset.db");
  REQUIRE(h.Send().ok());
  OutboxItem item = h.WaitAttempts(1);
  CHECK(item.next_attempt_ms > h.clock.NowMs());
  CHECK(h.logs.All().find("(connection)") != std::string::npos);
  h.clock.Set(item.next_attempt_ms);
  h.WaitAttempts(2);
  CHECK(server.accepted() >= 2);
  CHECK(h.dispatcher->Stats().failed.empty());
}

TEST_CASE("notifications are given up after the maximum age, counted") {
  Receiver receiver([](const ReceivedRequest&, httplib::Response& res) { Respond(res, 500); });
  DispatcherOptions o;
  o.max_age_ms = 5000;
  Harness h(WebhookTo(receiver), MapResolver({}), "expire.db", o);
  REQUIRE(h.Send().ok());
  for (uint32_t attempt = 1; attempt < 50; ++attempt) {
    bool idle = false;
    REQUIRE(WaitUntil([&] {
      auto p = h.dispatcher->Pending();
      idle = p.empty();
      return idle || p[0].attempts == attempt;
    }));
    if (idle) break;
    h.clock.Set(h.dispatcher->Pending()[0].next_attempt_ms);
  }
  REQUIRE(h.WaitIdle());
  const auto stats = h.dispatcher->Stats();
  CHECK(stats.failed.at("expired") == 1);
  CHECK(stats.sent == 0);
  CHECK(stats.outbox_size == 0);
  CHECK(h.clock.NowMs() - kStart <= 5000);
}

TEST_CASE("slack over its rate limit: pending messages coalesce into one digest") {
  Receiver receiver;
  const std::string url = receiver.Url("/services/T0/B0/SecretSlackToken");
  Harness h(MakeDef("slack", "slack", {{"webhook", Env("SLACK")}}), MapResolver({{"SLACK", url}}),
            "coalesce.db");
  REQUIRE(h.Send(AlertState::kFiring, "g0").ok());
  REQUIRE(receiver.WaitForCount(1));
  for (int i = 1; i <= 38; ++i) REQUIRE(h.Send(AlertState::kFiring, "g" + std::to_string(i)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(receiver.Count() == 1);  // the 1/s slot is taken
  h.clock.Advance(1000);
  REQUIRE(h.WaitIdle());
  REQUIRE(receiver.Count() == 2);
  const json digest = json::parse(receiver.Requests()[1].body);
  const std::string text = digest.dump();
  CHECK(digest["text"].get<std::string>().find("38 notifications") != std::string::npos);
  CHECK(text.find("and 28 more") != std::string::npos);
  const auto stats = h.dispatcher->Stats();
  CHECK(stats.sent == 39);
  CHECK(stats.requests == 2);
  CHECK(stats.coalesced == 37);
  CHECK(stats.outbox_size == 0);
}

TEST_CASE("the delivery history shows a digest's members as coalesced") {
  Receiver receiver;
  const std::string url = receiver.Url("/services/T0/B0/SecretSlackToken");
  Harness h(MakeDef("slack", "slack", {{"webhook", Env("SLACK")}}), MapResolver({{"SLACK", url}}),
            "coalesce_history.db");
  RuleSet rules;
  rules.rules.push_back(SampleRule());
  rules.rules[0].actions = {"slack"};
  auto submit = [&](const std::string& group) {
    Notification n = SampleNotification(AlertState::kFiring);
    n.group = {group};
    return h.dispatcher->Submit(std::span<const Notification>(&n, 1), rules);
  };
  REQUIRE(submit("g0").ok());
  REQUIRE(receiver.WaitForCount(1));
  for (int i = 1; i <= 3; ++i) REQUIRE(submit("g" + std::to_string(i)).ok());
  h.clock.Advance(1000);  // the next 1/s slot: the three go in one digest
  REQUIRE(h.WaitIdle());
  REQUIRE(receiver.Count() == 2);
  const auto recent = h.dispatcher->RecentNotifications();  // newest first
  REQUIRE(recent.size() == 4);
  CHECK(recent[3].deliveries.at(0).state == "delivered");
  for (size_t i = 0; i < 3; ++i) {
    CHECK(recent[i].deliveries.at(0).state == "coalesced");
    CHECK(recent[i].deliveries.at(0).detail == "delivered in one request with 2 other(s)");
  }
}

TEST_CASE("pagerduty over its rate limit: never merged across dedup keys, resolves kept in order") {
  Receiver receiver([](const ReceivedRequest&, httplib::Response& res) {
    Respond(res, 202, R"({"status":"success"})");
  });
  Harness h(MakeDef("pd", "pagerduty",
                    {{"routing_key", Env("PD")}, {"url", Str(receiver.Url("/v2/enqueue"))}}),
            MapResolver({{"PD", "routingkeyroutingkeyroutingkey32"}}), "pd.db");
  REQUIRE(h.Send(AlertState::kFiring, "a").ok());
  REQUIRE(receiver.WaitForCount(1));
  REQUIRE(h.Send(AlertState::kRepeat, "a").ok());
  REQUIRE(h.Send(AlertState::kFiring, "b").ok());
  REQUIRE(h.Send(AlertState::kResolved, "a").ok());
  REQUIRE(h.Send(AlertState::kResolved, "b").ok());
  for (size_t sent = 1; sent < 5; ++sent) {
    // One request per 500 ms slot.
    REQUIRE(WaitUntil([&] { return h.dispatcher->Stats().queue_length == 5 - sent; }));
    h.clock.Advance(500);
    REQUIRE(receiver.WaitForCount(sent + 1));
  }
  REQUIRE(h.WaitIdle());
  std::vector<std::pair<std::string, std::string>> seen;  // (dedup_key, action)
  for (const auto& r : receiver.Requests()) {
    const json b = json::parse(r.body);
    CHECK(b["routing_key"] == "routingkeyroutingkeyroutingkey32");
    seen.emplace_back(b["dedup_key"], b["event_action"]);
  }
  REQUIRE(seen.size() == 5);
  const std::string a = seen[0].first;
  // a: trigger, trigger(repeat), resolve in that order; b: trigger before resolve.
  std::vector<std::string> a_actions, b_actions;
  for (const auto& [key, act] : seen) (key == a ? a_actions : b_actions).push_back(act);
  CHECK(a_actions == std::vector<std::string>{"trigger", "trigger", "resolve"});
  CHECK(b_actions == std::vector<std::string>{"trigger", "resolve"});
  CHECK(h.dispatcher->Stats().coalesced == 0);
}

// Two workers could send an alert's firing and its resolve at once, and a receiver that answers
// the firing slowly would see the resolve first. Each alert is one chain; other alerts still go
// in parallel.
TEST_CASE("webhook and slack: an alert's resolve never overtakes its firing") {
  for (const std::string kind : {"webhook", "slack"}) {
    CAPTURE(kind);
    std::mutex mu;
    std::vector<std::string> events;  // "start <body>" / "end <body>", as the receiver saw them
    Receiver receiver([&](const ReceivedRequest& r, httplib::Response& res) {
      const bool resolved = r.body.find("resolved") != std::string::npos ||
                            r.body.find("RESOLVED") != std::string::npos;
      const std::string what = resolved ? "resolved" : "firing";
      const std::string group = r.body.find("group-b") != std::string::npos ? "b" : "a";
      {
        std::lock_guard lock(mu);
        events.push_back("start " + group + " " + what);
      }
      if (group == "a" && what == "firing") {
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
      }
      {
        std::lock_guard lock(mu);
        events.push_back("end " + group + " " + what);
      }
      Respond(res, 200, "ok");
    });
    const ActionDef def =
        kind == "webhook"
            ? WebhookTo(receiver)
            : MakeDef("hook", "slack", {{"webhook", Env("SLACK")}, {"rate_limit", Duration(0)}});
    Harness h(def, MapResolver({{"SLACK", receiver.Url("/services/T0/B0/Secret")}}),
              kind + "-order.db", {}, /*workers=*/3);
    Rule rule = SampleRule();
    rule.actions = {h.action->name()};
    std::vector<Notification> batch;
    for (const auto& [group, state] :
         std::vector<std::pair<std::string, AlertState>>{{"group-a", AlertState::kFiring},
                                                         {"group-a", AlertState::kResolved},
                                                         {"group-b", AlertState::kFiring}}) {
      Notification n = SampleNotification(state);
      n.group = {group};
      batch.push_back(n);
    }
    RuleSet rules;
    rules.rules = {rule};
    for (Notification& n : batch) n.rule_index = 0;
    REQUIRE(h.dispatcher->Submit(std::span<const Notification>(batch), rules).ok());
    REQUIRE(h.WaitIdle());
    std::lock_guard lock(mu);
    std::string seen;
    for (const std::string& e : events) seen += e + "; ";
    CAPTURE(seen);
    REQUIRE(events.size() == 6);
    const auto at = [&](const std::string& e) {
      return std::find(events.begin(), events.end(), e) - events.begin();
    };
    CHECK(at("end a firing") < at("start a resolved"));
    // The other alert did not wait behind the slow one.
    CHECK(at("end b firing") < at("end a firing"));
  }
}

TEST_CASE("pagerduty collapses consecutive triggers of one incident under the limit") {
  Receiver receiver(
      [](const ReceivedRequest&, httplib::Response& res) { Respond(res, 202, "{}"); });
  Harness h(MakeDef("pd", "pagerduty",
                    {{"routing_key", Env("PD")}, {"url", Str(receiver.Url("/v2/enqueue"))}}),
            MapResolver({{"PD", "routingkeyroutingkeyroutingkey32"}}), "pd2.db");
  Rule rule = SampleRule();
  rule.actions = {"pd"};
  Notification n = SampleNotification(AlertState::kFiring);
  REQUIRE(h.dispatcher->Submit(n, rule).ok());
  REQUIRE(receiver.WaitForCount(1));
  for (uint32_t r = 1; r <= 3; ++r) {
    n.state = AlertState::kRepeat;
    n.repeat_index = r;
    REQUIRE(h.dispatcher->Submit(n, rule).ok());
  }
  h.clock.Advance(500);
  REQUIRE(h.WaitIdle());
  CHECK(receiver.Count() == 2);
  CHECK(h.dispatcher->Stats().coalesced == 2);
  CHECK(json::parse(receiver.Requests()[1].body)["payload"]["custom_details"]["repeat"] == 3);
}

TEST_CASE("secrets never appear in logs or errors") {
  const std::string secret_path = "/services/T0/B0/TopSecretSlackPath";
  // The receiver echoes the path it was called on, the way some proxies do in error pages.
  Receiver receiver([](const ReceivedRequest& r, httplib::Response& res) {
    Respond(res, r.body.find("g-final") != std::string::npos ? 404 : 500,
            "no such hook: " + r.path);
  });
  const std::string url = receiver.Url(secret_path);
  Harness h(MakeDef("slack", "slack", {{"webhook", Env("SLACK")}}), MapResolver({{"SLACK", url}}),
            "secrets.db");
  REQUIRE(h.Send(AlertState::kFiring, "g-retry").ok());
  h.WaitAttempts(1);
  h.clock.Advance(2000);
  REQUIRE(h.Send(AlertState::kFiring, "g-final").ok());
  h.clock.Advance(5000);  // past the 1/s slot
  REQUIRE(WaitUntil([&] { return h.dispatcher->Stats().failed.count("http_404") == 1; }));
  const std::string logs = h.logs.All();
  CHECK(logs.find("no such hook") != std::string::npos);
  CHECK(logs.find("TopSecretSlackPath") == std::string::npos);
  CHECK(logs.find(url) == std::string::npos);
  CHECK(h.action->Describe().find("TopSecretSlackPath") == std::string::npos);
  // A blocked destination's error names the host only.
  auto client = SafeHttpClient::Create({});
  REQUIRE(client.ok());
  HttpResponse blocked = (*client)->Send({"POST", url, {}, "{}", 1000});
  CHECK(blocked.error == TransportError::kBlocked);
  CHECK(blocked.error_detail.find("TopSecretSlackPath") == std::string::npos);
}

TEST_CASE("notify path: SendAndWait reports the receiver's answer") {
  Receiver receiver([](const ReceivedRequest& r, httplib::Response& res) {
    Respond(res, r.body.find("klaxon-test") != std::string::npos ? 200 : 400, "bad");
  });
  Harness h(WebhookTo(receiver), MapResolver({}), "notify.db");
  Rule rule = SampleRule();
  rule.actions = {"hook"};
  auto p = h.action->Prepare(MakeTestNotification(rule, 0, kStart), rule);
  REQUIRE(p);
  auto r = h.dispatcher->SendAndWait(*p, 10000);
  REQUIRE(r.ok());
  CHECK(r->kind == DeliveryResult::Kind::kAccepted);
  CHECK(receiver.Count() == 1);
  auto q = h.action->Prepare(SampleNotification(AlertState::kFiring), rule);
  auto bad = h.dispatcher->SendAndWait(*q, 10000);
  REQUIRE(bad.ok());
  CHECK(bad->kind == DeliveryResult::Kind::kFinal);
  CHECK(bad->reason == "http_400");
}

}  // namespace
}  // namespace klaxon::actions
