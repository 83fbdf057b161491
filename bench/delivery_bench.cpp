// Delivery throughput: notifications/s from Dispatcher::Submit (durable outbox write) to a
// local keep-alive webhook receiver that answers 200, Standard Webhooks signing on. Also shows
// that Submit does not wait for HTTP: the enqueue rate with a receiver that answers after 1 s.
//
//   delivery_bench [--count N] [--workers W] [--batch B] [--full-sync]
// --batch B submits B notifications per Dispatcher::Submit call (one outbox commit), as the
// run loop does with what one Engine::Process call returned; 1 is one commit per notification.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <thread>

#include <httplib.h>

#include "actions/action.h"
#include "actions/dispatcher.h"
#include "actions/http_client.h"
#include "actions/outbox.h"
#include "clock/clock.h"

using namespace klaxon;
using namespace klaxon::actions;

namespace {

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

Rule BenchRule() {
  Rule r;
  r.name = "bench";
  r.id = "bench-rule";
  r.condition.kind = Condition::Kind::kCount;
  r.condition.threshold = 5;
  r.condition.window_ms = 60000;
  FieldRef f;
  f.name = "service";
  r.group_by.push_back(f);
  r.summary = "{{count}} errors on {{group.service}}";
  r.actions = {"hook"};
  return r;
}

Notification Nth(int i) {
  Notification n;
  n.at_ms = 1764041760000 + i;
  n.rule_name = "bench";
  n.rule_id = "bench-rule";
  n.group = {"svc-" + std::to_string(i)};
  n.value = 12;
  n.threshold = 5;
  n.window_ms = 60000;
  n.episode_start_ms = n.at_ms;
  n.event_json =
      R"({"event_id":"9f1c2b3a4d5e6f708192a3b4c5d6e7f8","message":"boom","culprit":"orders.db",)"
      R"("tags":[["service","orders-api"],["environment","production"]],)"
      R"("exception":{"values":[{"type":"DatabaseError","value":"could not connect"}]}})";
  return n;
}

struct Run {
  double submit_s = 0;
  double total_s = 0;
  bool drained = false;
};

Run RunOnce(int count, int workers, int batch, bool full_sync, int delay_ms,
            const std::string& dir) {
  httplib::Server server;
  std::atomic<int> received{0};
  server.Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    received.fetch_add(1);
    res.set_content("ok", "text/plain");
  });
  server.set_keep_alive_max_count(1000000);
  server.set_tcp_nodelay(true);
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread listener([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const std::string db = dir + "/outbox-" + std::to_string(delay_ms) + ".db";
  for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(db + s);
  OutboxOptions oo;
  oo.full_sync = full_sync;
  auto box = Outbox::Open(db, oo);
  HttpClientOptions http;
  http.allow = {"127.0.0.1"};
  auto client = SafeHttpClient::Create(http);
  ActionDef def;
  def.name = "hook";
  def.kind = "webhook";
  ActionValue url;
  url.text = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  ActionValue secret;
  secret.kind = ActionValue::Kind::kEnv;
  secret.text = "BENCH_SECRET";
  def.args = {{"url", url, {}}, {"secret", secret, {}}};
  auto action = CreateAction(def,
                             [](const ActionValue&) -> Result<std::string> {
                               return std::string("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
                             },
                             {});
  if (!box.ok() || !client.ok() || !action.ok()) {
    std::fprintf(stderr, "setup failed\n");
    std::exit(1);
  }
  SystemClock clock;
  DispatcherOptions options;
  options.workers = workers;
  auto d = Dispatcher::Start(**box, {action->get()}, **client, clock, options);
  if (!d.ok()) std::exit(1);
  RuleSet rules;
  rules.rules.push_back(BenchRule());
  const Rule& rule = rules.rules[0];
  std::vector<Notification> notifications;
  notifications.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) notifications.push_back(Nth(i));

  Run run;
  const auto t0 = std::chrono::steady_clock::now();
  if (batch <= 1) {
    for (const Notification& n : notifications) {
      if (!(*d)->Submit(n, rule).ok()) std::exit(1);
    }
  } else {
    for (size_t i = 0; i < notifications.size(); i += static_cast<size_t>(batch)) {
      const size_t len = std::min(notifications.size() - i, static_cast<size_t>(batch));
      if (!(*d)->Submit(std::span<const Notification>(notifications.data() + i, len), rules).ok()) {
        std::exit(1);
      }
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  run.submit_s = Seconds(t0, t1);
  if (delay_ms == 0) {
    run.drained = (*d)->Drain(600000);
    run.total_s = Seconds(t0, std::chrono::steady_clock::now());
    if (received.load() < count) std::fprintf(stderr, "only %d received\n", received.load());
  }
  (*d)->Stop();
  server.stop();
  listener.join();
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 20000;
  int workers = 8;
  int batch = 1;
  bool full_sync = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--count" && i + 1 < argc)
      count = std::atoi(argv[++i]);
    else if (a == "--workers" && i + 1 < argc)
      workers = std::atoi(argv[++i]);
    else if (a == "--batch" && i + 1 < argc)
      batch = std::atoi(argv[++i]);
    else if (a == "--full-sync")
      full_sync = true;
    else {
      std::fprintf(stderr,
                   "usage: delivery_bench [--count N] [--workers W] [--batch B] [--full-sync]\n");
      return 2;
    }
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   ("klaxon-delivery-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  const Run fast = RunOnce(count, workers, batch, full_sync, 0, dir.string());
  std::printf("delivery: %d notifications, %d workers, batch %d, synchronous=%s\n", count, workers,
              batch, full_sync ? "FULL" : "NORMAL");
  std::printf("  submit (durable enqueue):  %.3f s  %.0f notifications/s\n", fast.submit_s,
              count / fast.submit_s);
  std::printf("  delivered end to end:      %.3f s  %.0f notifications/s%s\n", fast.total_s,
              count / fast.total_s, fast.drained ? "" : "  (NOT DRAINED)");
  const int slow_count = std::min(count, 5000);
  const Run slow = RunOnce(slow_count, workers, batch, full_sync, 1000, dir.string());
  std::printf("  submit with a receiver answering after 1 s: %d in %.3f s  %.0f notifications/s\n",
              slow_count, slow.submit_s, slow_count / slow.submit_s);
  std::filesystem::remove_all(dir);
  return 0;
}
