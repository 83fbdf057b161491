// Outbox durability and the crash/restart guarantee: after kill -9 with notifications queued,
// the receiver ends up holding each notification at least once, always under one
// idempotency key.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

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

std::string FreshDb(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("klaxon-outbox-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string p = (dir / name).string();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
  return p;
}

Prepared Item(const std::string& key, const std::string& order = "") {
  return Prepared{"hook", key, order, "firing", R"({"body":"{}"})"};
}

TEST_CASE("outbox: enqueue is idempotent per key, survives reopening, keeps order and attempts") {
  const std::string path = FreshDb("basic.db");
  {
    auto box = Outbox::Open(path);
    REQUIRE(box.ok());
    OutboxItem a{0, Item("k1", "o"), 10, 10, 0};
    OutboxItem b{0, Item("k2", "o"), 11, 11, 0};
    OutboxItem again{0, Item("k1"), 12, 12, 0};
    bool dup = true;
    REQUIRE((*box)->Enqueue(a, &dup).ok());
    CHECK(!dup);
    REQUIRE((*box)->Enqueue(b, &dup).ok());
    REQUIRE((*box)->Enqueue(again, &dup).ok());
    CHECK(dup);
    CHECK(again.id == a.id);
    CHECK(b.id > a.id);
    REQUIRE((*box)->Reschedule(b.id, 3, 5000).ok());
    CHECK(*(*box)->Size() == 2);
  }
  auto box = Outbox::Open(path);
  REQUIRE(box.ok());
  auto items = (*box)->LoadPending();
  REQUIRE(items.ok());
  REQUIRE(items->size() == 2);
  CHECK((*items)[0].prepared.idempotency_key == "k1");
  CHECK((*items)[0].prepared.order_key == "o");
  CHECK((*items)[1].attempts == 3);
  CHECK((*items)[1].next_attempt_ms == 5000);
  REQUIRE((*box)->Remove({(*items)[0].id, (*items)[1].id}).ok());
  CHECK(*(*box)->Size() == 0);
  CHECK(!Outbox::Open("/nonexistent-dir/x/outbox.db").ok());
}

Rule WebhookRule() {
  Rule rule = SampleRule();
  rule.actions = {"hook"};
  return rule;
}

Notification Nth(int i) {
  Notification n = SampleNotification(AlertState::kFiring);
  n.group = {"svc-" + std::to_string(i)};
  return n;
}

std::unique_ptr<Action> MakeHook(const Receiver& receiver) {
  auto a = CreateAction(MakeDef("hook", "webhook", {{"url", Str(receiver.Url("/hook"))}}),
                        MapResolver({}), {});
  REQUIRE(a.ok());
  return std::move(a).value();
}

TEST_CASE("kill -9 with notifications queued: all delivered after restart, one key each") {
  constexpr int kCount = 30;
  const std::string path = FreshDb("crash.db");
  // Slow enough that the child is killed mid-way; every answer is 200.
  Receiver receiver([](const ReceivedRequest&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    res.status = 200;
    res.set_content("ok", "text/plain");
  });
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child owns the outbox and a dispatcher, enqueues everything, reports, and is killed.
    ::close(ready[0]);
    auto box = Outbox::Open(path);
    HttpClientOptions http;
    http.allow = {"127.0.0.1"};
    auto client = SafeHttpClient::Create(http);
    auto action = CreateAction(MakeDef("hook", "webhook", {{"url", Str(receiver.Url("/hook"))}}),
                               MapResolver({}), {});
    SystemClock clock;
    if (!box.ok() || !client.ok() || !action.ok()) ::_exit(2);
    DispatcherOptions options;
    options.workers = 1;
    auto d = Dispatcher::Start(**box, {action->get()}, **client, clock, options);
    if (!d.ok()) ::_exit(3);
    const Rule rule = WebhookRule();
    for (int i = 0; i < kCount; ++i) {
      if (!(*d)->Submit(Nth(i), rule).ok()) ::_exit(4);
    }
    const char c = 'x';
    (void)!::write(ready[1], &c, 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  ::close(ready[0]);
  // Kill it while deliveries are in progress.
  REQUIRE(receiver.WaitForCount(5));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));
  const size_t before_restart = receiver.Count();
  CHECK(before_restart < kCount);

  // Restart on the same outbox file.
  auto box = Outbox::Open(path);
  REQUIRE(box.ok());
  CHECK(*(*box)->Size() > 0);
  HttpClientOptions http;
  http.allow = {"127.0.0.1"};
  auto client = SafeHttpClient::Create(http);
  REQUIRE(client.ok());
  auto action = MakeHook(receiver);
  SystemClock clock;
  auto d = Dispatcher::Start(**box, {action.get()}, **client, clock, {});
  REQUIRE(d.ok());
  REQUIRE((*d)->Drain(30000));
  (*d)->Stop();
  CHECK(*(*box)->Size() == 0);

  // Each notification at least once, and never under two different idempotency keys.
  std::map<std::string, std::set<std::string>> keys_by_group;
  for (const auto& r : receiver.Requests()) {
    const json body = json::parse(r.body);
    keys_by_group[body["group"]["service"].get<std::string>()].insert(r.Header("webhook-id"));
  }
  CHECK(keys_by_group.size() == kCount);
  for (int i = 0; i < kCount; ++i) {
    const std::string g = "svc-" + std::to_string(i);
    CAPTURE(g);
    REQUIRE(keys_by_group.count(g) == 1);
    CHECK(keys_by_group[g].size() == 1);
    CHECK(*keys_by_group[g].begin() == IdempotencyKey(Nth(i)));
  }
}

TEST_CASE("restart: the same notification submitted again is not stored twice") {
  const std::string path = FreshDb("dup.db");
  Receiver receiver([](const ReceivedRequest&, httplib::Response& res) { res.status = 503; });
  auto box = Outbox::Open(path);
  REQUIRE(box.ok());
  HttpClientOptions http;
  http.allow = {"127.0.0.1"};
  auto client = SafeHttpClient::Create(http);
  auto action = MakeHook(receiver);
  ManualClock clock(1000);
  auto d = Dispatcher::Start(**box, {action.get()}, **client, clock, {});
  REQUIRE(d.ok());
  REQUIRE((*d)->Submit(Nth(1), WebhookRule()).ok());
  REQUIRE((*d)->Submit(Nth(1), WebhookRule()).ok());  // e.g. a Kafka offset replayed
  const auto stats = (*d)->Stats();
  CHECK(stats.enqueued == 1);
  CHECK(stats.duplicates == 1);
  CHECK(stats.outbox_size == 1);
  (*d)->Stop();
}

TEST_CASE("the outbox refuses a read-only file at start, naming it") {
  const std::string path = FreshDb("readonly.db");
  REQUIRE(Outbox::Open(path).ok());  // created, then closed
  std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::group_read |
                                         std::filesystem::perms::others_read);
  // Root writes read-only files anyway: check as an unprivileged user, in a child.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
    auto box = Outbox::Open(path);
    if (box.ok()) ::_exit(1);
    const std::string& m = box.status().message();
    ::_exit(m.find(path) != std::string::npos && m.find("read-only") != std::string::npos ? 0 : 2);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // 1: opened; 2: message without the path
}

TEST_CASE("the outbox refuses a file in a read-only directory at start, naming it") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(FreshDb("readonly-dir"));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "outbox.db").string();
  REQUIRE(Outbox::Open(path).ok());  // created (and its WAL files removed when closed)
  // The file stays writable; the directory, where SQLite creates the WAL files, does not.
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::group_write | fs::perms::others_read |
                            fs::perms::others_write);
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                           fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
    auto box = Outbox::Open(path);
    if (box.ok()) ::_exit(1);
    const std::string& m = box.status().message();
    ::_exit(m.find(path) != std::string::npos && m.find("cannot be used") != std::string::npos ? 0
                                                                                               : 2);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  fs::permissions(dir, fs::perms::owner_all);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // 1: opened; 2: message without the path
}

TEST_CASE("an outbox file deleted while running fails the next submit, and says so") {
  Receiver receiver;
  const std::string path = FreshDb("deleted.db");
  auto outbox = Outbox::Open(path);
  REQUIRE(outbox.ok());
  auto action =
      CreateAction(MakeDef("hook", "webhook", {{"url", Str(receiver.Url())}}), MapResolver({}), {});
  REQUIRE(action.ok());
  HttpClientOptions http;
  http.allow = {"127.0.0.1"};
  auto client = SafeHttpClient::Create(http);
  REQUIRE(client.ok());
  ManualClock clock(1764041000000);
  std::mutex log_mu;
  std::string logged;
  DispatcherOptions options;
  options.log = [&](LogLevel, const std::string& m) {
    std::lock_guard lock(log_mu);
    logged += m + "\n";
  };
  auto d = Dispatcher::Start(**outbox, {action->get()}, **client, clock, options);
  REQUIRE(d.ok());
  Rule rule = SampleRule();
  rule.actions = {"hook"};
  Notification n = SampleNotification(AlertState::kFiring);
  REQUIRE((*d)->Submit(n, rule).ok());
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  n.group = {"other"};
  Status s = (*d)->Submit(n, rule);  // the caller must not commit this offset
  CHECK_FALSE(s.ok());
  CHECK(s.message().find(path) != std::string::npos);
  CHECK(s.message().find("deleted or moved") != std::string::npos);
  {
    std::lock_guard lock(log_mu);
    CHECK(logged.find("deleted or moved") != std::string::npos);
  }
  std::vector<Notification> batch = {n};
  RuleSet rules;
  rules.rules.push_back(rule);
  CHECK_FALSE((*d)->Submit(std::span<const Notification>(batch), rules).ok());
  (*d)->Stop();
}

}  // namespace
}  // namespace klaxon::actions
