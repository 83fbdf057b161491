// The dispatcher under a backlog: a dead receiver's 20,000 queued notifications do not delay
// another action's, its failures are logged once per interval, and Retry-After is capped and
// never a reason to give up. Real HTTP on 127.0.0.1, time from a ManualClock.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <doctest/doctest.h>

#include "actions/dispatcher.h"
#include "actions/http_client.h"
#include "actions/outbox.h"
#include "tests/actions/actions_test_util.h"

namespace klaxon::actions {
namespace {

using namespace klaxon::actions::testing;
using WallClock = std::chrono::steady_clock;

constexpr int64_t kStart = 1764041000000;

std::string TempDb(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("klaxon-sched-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p.string() + suffix);
  return p.string();
}

// A port on 127.0.0.1 nobody listens on: connections are refused at once.
std::string DeadUrl() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/hook";
}

struct Lines {
  std::mutex mu;
  std::vector<std::string> lines;
  LogFn Fn() {
    return [this](LogLevel, const std::string& m) {
      std::lock_guard lock(mu);
      lines.push_back(m);
    };
  }
  std::vector<std::string> Matching(const std::string& needle) {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& l : lines) {
      if (l.find(needle) != std::string::npos) out.push_back(l);
    }
    return out;
  }
};

// Webhook actions by name -> URL, one outbox, a ManualClock, a dispatcher.
struct Setup {
  ManualClock clock{kStart};
  Lines logs;
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<SafeHttpClient> client;
  std::vector<std::unique_ptr<Action>> actions;
  std::unique_ptr<Dispatcher> dispatcher;

  Setup(const std::vector<std::pair<std::string, std::string>>& hooks, const std::string& db,
        DispatcherOptions options = {}) {
    auto box = Outbox::Open(TempDb(db));
    REQUIRE(box.ok());
    outbox = std::move(box).value();
    HttpClientOptions http;
    http.allow = {"127.0.0.1"};
    client = std::move(SafeHttpClient::Create(http)).value();
    std::vector<const Action*> list;
    for (const auto& [name, url] : hooks) {
      auto a = CreateAction(MakeDef(name, "webhook", {{"url", Str(url)}}), MapResolver({}), {});
      REQUIRE(a.ok());
      actions.push_back(std::move(a).value());
      list.push_back(actions.back().get());
    }
    options.seed = 7;
    options.log = logs.Fn();
    auto d = Dispatcher::Start(*outbox, list, *client, clock, options);
    REQUIRE(d.ok());
    dispatcher = std::move(d).value();
  }
  ~Setup() { dispatcher->Stop(); }

  // `count` distinct notifications for `action`, in one outbox commit.
  void Submit(const std::string& action, int count, const std::string& prefix = "g") {
    RuleSet rules;
    rules.rules.push_back(SampleRule());
    rules.rules[0].actions = {action};
    std::vector<Notification> batch;
    for (int i = 0; i < count; ++i) {
      Notification n = SampleNotification(AlertState::kFiring);
      n.group = {prefix + std::to_string(i)};
      batch.push_back(std::move(n));
    }
    REQUIRE(dispatcher->Submit(std::span<const Notification>(batch), rules).ok());
  }
  uint64_t Attempts() { return dispatcher->Stats().retried; }
};

TEST_CASE("20,000 notifications for a dead receiver do not delay a healthy action") {
  Receiver healthy;
  // "a-dead" sorts first: serving the first action with anything due starves "b-healthy".
  Setup s({{"a-dead", DeadUrl()}, {"b-healthy", healthy.Url()}}, "fair.db");
  const auto enqueue_started = WallClock::now();
  s.Submit("a-dead", 20000);
  const auto enqueue_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(WallClock::now() - enqueue_started)
          .count();
  REQUIRE(WaitUntil([&] { return s.Attempts() >= 200; }, 20000));  // the workers are busy
  const auto started = WallClock::now();
  s.Submit("b-healthy", 1);
  REQUIRE(healthy.WaitForCount(1, 60000));
  const auto latency_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(WallClock::now() - started).count();
  MESSAGE("enqueue of 20,000: " << enqueue_ms << " ms; healthy latency behind them: " << latency_ms
                                << " ms; dead attempts by then: " << s.Attempts());
  CHECK(latency_ms < 1000);
  CHECK(s.Attempts() < 20000);  // it did not wait for the dead backlog to be tried
}

TEST_CASE("a failing action's warnings are rate-limited, with a count of the suppressed ones") {
  const std::string dead = DeadUrl();
  DispatcherOptions options;
  options.warning_interval_ms = 10000;
  Setup s({{"dead", dead}}, "warn.db", options);
  s.Submit("dead", 300);
  REQUIRE(WaitUntil([&] { return s.Attempts() >= 300; }, 20000));
  CHECK(s.logs.Matching("will retry").size() == 1);  // not 300
  // Within the interval: still one. Past it, the next failure logs again with the count.
  s.clock.Advance(10000);  // every item is due again (backoff <= 750 ms)
  REQUIRE(WaitUntil([&] { return s.Attempts() >= 600; }, 20000));
  auto lines = s.logs.Matching("will retry");
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].find("299 similar message(s) for action `dead` suppressed") != std::string::npos);
  // What is still suppressed is reported when the dispatcher stops.
  s.dispatcher->Stop();
  CHECK(s.logs.Matching("299 similar retry message(s) suppressed").size() == 1);
}

TEST_CASE("Retry-After is capped and never makes a notification be given up") {
  Receiver receiver([](const ReceivedRequest&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "999999999");  // ~31 years
    res.set_content("slow down", "text/plain");
  });
  DispatcherOptions options;
  options.workers = 1;
  Setup s({{"hook", receiver.Url()}}, "retry_after_cap.db", options);
  s.Submit("hook", 1);
  REQUIRE(WaitUntil([&] {
    auto p = s.dispatcher->Pending();
    return p.size() == 1 && p[0].attempts == 1;
  }));
  const OutboxItem item = s.dispatcher->Pending()[0];
  CHECK(item.next_attempt_ms - s.clock.NowMs() == 300000);  // the documented 5 min cap
  CHECK(s.dispatcher->Stats().failed.empty());              // not dropped
  s.clock.Advance(299999);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK(receiver.Count() == 1);
  receiver.SetHandler(nullptr);
  s.clock.Advance(1);  // the action's pause ends with the cap too
  REQUIRE(receiver.WaitForCount(2));
  REQUIRE(WaitUntil([&] { return s.dispatcher->Stats().sent == 1; }));
}

TEST_CASE("a Retry-After past the maximum age still gets its attempt") {
  std::atomic<int> answers{0};
  Receiver receiver([&](const ReceivedRequest&, httplib::Response& res) {
    res.status = answers++ == 0 ? 503 : 200;
    if (res.status == 503) res.set_header("Retry-After", "120");
    res.set_content("", "text/plain");
  });
  DispatcherOptions options;
  options.workers = 1;
  options.max_age_ms = 60000;
  Setup s({{"hook", receiver.Url()}}, "retry_after_age.db", options);
  s.Submit("hook", 1);
  REQUIRE(WaitUntil([&] {
    auto p = s.dispatcher->Pending();
    return p.size() == 1 && p[0].attempts == 1;
  }));
  CHECK(s.dispatcher->Stats().failed.empty());
  s.clock.Advance(120000);  // past max_age: the receiver asked for this wait
  REQUIRE(WaitUntil([&] { return s.dispatcher->Stats().sent == 1; }));
  CHECK(receiver.Count() == 2);
  CHECK(s.dispatcher->Stats().failed.empty());
}

}  // namespace
}  // namespace klaxon::actions
