// The run loop (service::Runtime) end to end in one process: an in-memory source, a manual
// clock and a fake transport that records requests. Event time moves only when the test moves
// the clock, so every notification's moment is exact; the outbox is a real SQLite file.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "actions/action.h"
#include "actions/http_types.h"
#include "actions/outbox.h"
#include "clock/clock.h"
#include "connectors/source.h"
#include "engine/time_format.h"
#include "rules-dsl/rules_dsl.h"
#include "service/log_sink.h"
#include "service/runtime.h"
#include "tests/service/rule_bundle_util.h"

namespace klaxon::service {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1'700'000'000'000;  // the first event's time and the clock's start
constexpr int64_t kLatenessMs = 5000;

// One ordered partition fed by the test, like a followed file: lines pushed are handed out in
// order, then kIdle after each full wait.
class MemorySource final : public connectors::Source {
 public:
  void Push(std::string line) {
    std::lock_guard lock(mu_);
    lines_.push_back(std::move(line));
    idle_since_drained_ = 0;
    cv_.notify_all();
  }
  // Full idle waits since the last pushed line was handed out: after one, the run loop has
  // evaluated everything it read (it evaluates all decoded records when the source is idle).
  int IdleSinceDrained() const {
    std::lock_guard lock(mu_);
    return idle_since_drained_;
  }
  // Lines pushed and not handed out yet.
  size_t Unread() const {
    std::lock_guard lock(mu_);
    return lines_.size();
  }

  Result<connectors::NextStatus> Next(std::chrono::milliseconds timeout,
                                      connectors::Record* record) override {
    std::unique_lock lock(mu_);
    if (lines_.empty()) cv_.wait_for(lock, timeout, [&] { return !lines_.empty(); });
    if (lines_.empty()) {
      if (timeout.count() > 0) ++idle_since_drained_;
      return connectors::NextStatus::kIdle;
    }
    current_ = std::move(lines_.front());
    lines_.pop_front();
    *record = connectors::Record();
    record->payload = current_;
    record->offset = ++line_;
    return connectors::NextStatus::kRecord;
  }
  void MarkProcessed(const connectors::Record&) override {}
  Status Commit() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  std::string current_;
  int64_t line_ = 0;
  int idle_since_drained_ = 0;
};

// Records every request and answers with the scripted statuses in turn (200 once they run out).
class FakeTransport final : public actions::Transport {
 public:
  void Script(std::vector<int> statuses) {
    std::lock_guard lock(mu_);
    statuses_.assign(statuses.begin(), statuses.end());
  }
  actions::HttpResponse Send(const actions::HttpRequest& request) override {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    actions::HttpResponse r;
    r.status = 200;
    if (!statuses_.empty()) {
      r.status = statuses_.front();
      statuses_.pop_front();
    }
    return r;
  }
  std::vector<actions::HttpRequest> Requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t Count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }

 private:
  mutable std::mutex mu_;
  std::deque<int> statuses_;
  std::vector<actions::HttpRequest> requests_;
};

class NullLog final : public LogSink {
 public:
  void Log(LogLevel, std::string_view, Fields) override {}
};

std::string Header(const actions::HttpRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

// Polls (wall time, bounded) until `pred` holds.
template <typename Pred>
bool WaitFor(Pred pred, int timeout_ms = 10000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

constexpr const char* kRules =
    R"(action hook = webhook(url: "http://receiver.test/hook", body: "{{rule.name}} {{state}} {{count}}")
rule errors {
  when frequency > 2/min for service:api
  then hook
}
)";

Result<RuleBundle> LoadTestRules() { return testing::RuleBundleFrom("pipeline.rules", kRules); }

std::string Event(int64_t at_ms) {
  return fmt::format(R"({{"timestamp": {:.3f}, "tags": {{"service": "api"}}}})", at_ms / 1000.0);
}

// A runtime on its own thread: MemorySource -> engine -> outbox -> FakeTransport.
class Pipeline {
 public:
  Pipeline() : clock_(kT0) {
    std::string tmpl = (fs::temp_directory_path() / "klaxon-pipeline-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
    RuntimeOptions o;
    o.load_rules = LoadTestRules;
    o.engine.allowed_lateness_ms = kLatenessMs;
    o.source_kind = "memory";
    auto source = std::make_unique<MemorySource>();
    source_ = source.get();
    o.source = std::move(source);
    o.transport = transport_;
    o.outbox_path = (dir_ / "outbox.db").string();
    o.admin_listen = "127.0.0.1:0";
    o.idle_tick_ms = 10;
    o.drain_timeout_ms = 300;
    o.delivery.seed = 1;
    runtime_ = std::make_unique<Runtime>(std::move(o), log_, clock_);
    const Status started = runtime_->Start();
    REQUIRE_MESSAGE(started.ok(), started.message());
    thread_ = std::thread([this] { exit_code_ = runtime_->Run(); });
  }
  ~Pipeline() {
    Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Pushes events without waiting for them.
  void Push(const std::vector<int64_t>& at_ms) {
    for (int64_t t : at_ms) source_->Push(Event(t));
  }
  // Pushes events, then waits until the run loop evaluated them and went idle a few times, so
  // event time has had every chance to move with the clock as it stands.
  void Feed(const std::vector<int64_t>& at_ms) {
    for (int64_t t : at_ms) source_->Push(Event(t));
    REQUIRE(WaitFor([&] { return source_->IdleSinceDrained() >= 3; }));
  }
  // Moves the clock, then lets the run loop tick on it.
  void AdvanceClock(int64_t ms) {
    clock_.Advance(ms);
    const int seen = source_->IdleSinceDrained();
    REQUIRE(WaitFor([&] { return source_->IdleSinceDrained() >= seen + 3; }));
  }
  void Stop() {
    if (!thread_.joinable()) return;
    runtime_->RequestShutdown();
    thread_.join();
    runtime_.reset();
  }

  ManualClock& clock() { return clock_; }
  FakeTransport& transport() { return *transport_; }
  std::string outbox_path() const { return (dir_ / "outbox.db").string(); }
  // GET on the admin server: {status, body}.
  std::pair<int, std::string> Get(const std::string& path) {
    httplib::Client client("127.0.0.1", runtime_->admin_port());
    const httplib::Result res = client.Get(path);
    REQUIRE(res);
    return {res->status, res->body};
  }
  // A request with a JSON body (may be empty) on the admin server: {status, body}.
  std::pair<int, std::string> Send(const std::string& method, const std::string& path,
                                   const std::string& body = "") {
    httplib::Client client("127.0.0.1", runtime_->admin_port());
    const httplib::Result res =
        method == "POST" ? client.Post(path, body, "application/json") : client.Delete(path);
    REQUIRE(res);
    return {res->status, res->body};
  }
  // The value of an unlabelled sample on /metrics ("" when absent).
  std::string Metric(const std::string& name) {
    const std::string body = Get("/metrics").second;
    const std::string line_start = "\n" + name + " ";
    const size_t at = body.find(line_start);
    if (at == std::string::npos) return "";
    const size_t value = at + line_start.size();
    return body.substr(value, body.find('\n', value) - value);
  }
  MemorySource& source() { return *source_; }
  int exit_code() const { return exit_code_; }

 private:
  fs::path dir_;
  ManualClock clock_;
  NullLog log_;
  std::shared_ptr<FakeTransport> transport_ = std::make_shared<FakeTransport>();
  MemorySource* source_ = nullptr;  // owned by runtime_
  std::unique_ptr<Runtime> runtime_;
  std::thread thread_;
  int exit_code_ = -1;
};

TEST_CASE("a rule fires once the lateness has passed on the clock, and the request is exact") {
  Pipeline p;
  p.clock().Set(kT0 + 2000);  // events arrive as they happen
  p.Feed({kT0, kT0 + 1000, kT0 + 2000});
  CHECK(p.transport().Count() == 0);  // held back for lateness: event time is the clock's
  // Event time kT0 + 6000: the watermark (minus 5 s of lateness) has passed two events only.
  p.AdvanceClock(4000);
  CHECK(p.transport().Count() == 0);
  // One more second: the third event is evaluated, 3 > 2 in a minute.
  p.AdvanceClock(1001);
  REQUIRE(WaitFor([&] { return p.transport().Count() >= 1; }));
  const actions::HttpRequest r = p.transport().Requests().front();
  CHECK(r.method == "POST");
  CHECK(r.url == "http://receiver.test/hook");
  CHECK(r.body == "errors firing 3");
  CHECK(Header(r, "Content-Type") == "application/json");
  CHECK(Header(r, "webhook-id").size() >= 16);
  CHECK(Header(r, "webhook-timestamp") == std::to_string((kT0 + 7001) / 1000));
  p.Stop();
  CHECK(p.exit_code() == 0);
  CHECK(p.transport().Count() == 1);  // exactly one request
}

TEST_CASE("the alert resolves when the clock moves event time past the window") {
  Pipeline p;
  p.clock().Set(kT0 + 2000);
  p.Feed({kT0, kT0 + 1000, kT0 + 2000});
  p.AdvanceClock(kLatenessMs + 1);
  REQUIRE(WaitFor([&] { return p.transport().Count() >= 1; }));
  CHECK(p.transport().Requests()[0].body == "errors firing 3");
  // Within the minute the count stays above the threshold: no resolve yet.
  p.AdvanceClock(30000);
  CHECK(p.transport().Count() == 1);
  // A minute after the events, the window holds none of them.
  p.AdvanceClock(40000);
  REQUIRE(WaitFor([&] { return p.transport().Count() >= 2; }));
  const std::vector<actions::HttpRequest> requests = p.transport().Requests();
  CHECK(requests[1].body.rfind("errors resolved", 0) == 0);
  // One episode, two state changes: different idempotency keys.
  CHECK(Header(requests[1], "webhook-id") != Header(requests[0], "webhook-id"));
  p.Stop();
  CHECK(p.transport().Count() == 2);
}

TEST_CASE("a 500 is retried after the backoff with the same idempotency key") {
  Pipeline p;
  p.transport().Script({500, 200});
  p.clock().Set(kT0 + 2000);
  p.Feed({kT0, kT0 + 1000, kT0 + 2000});
  p.AdvanceClock(kLatenessMs + 1);
  REQUIRE(WaitFor([&] { return p.transport().Count() >= 1; }));
  // The retry waits for the backoff (500 ms +/- 50 %) on the clock, which stands still.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(p.transport().Count() == 1);
  p.clock().Advance(1000);
  REQUIRE(WaitFor([&] { return p.transport().Count() >= 2; }));
  const std::vector<actions::HttpRequest> requests = p.transport().Requests();
  CHECK(Header(requests[1], "webhook-id") == Header(requests[0], "webhook-id"));
  CHECK(requests[1].body == requests[0].body);
  p.Stop();
  CHECK(p.transport().Count() == 2);
  // Delivered: nothing left in the outbox.
  Result<std::unique_ptr<actions::Outbox>> outbox = actions::Outbox::Open(p.outbox_path());
  REQUIRE(outbox.ok());
  Result<std::vector<actions::OutboxItem>> pending = (*outbox)->LoadPending();
  REQUIRE(pending.ok());
  CHECK(pending->empty());
}

TEST_CASE("a shutdown with undelivered notifications leaves them in the outbox") {
  Pipeline p;
  p.transport().Script({500, 500, 500, 500, 500, 500, 500, 500});
  p.clock().Set(kT0 + 2000);
  p.Feed({kT0, kT0 + 1000, kT0 + 2000});
  p.AdvanceClock(kLatenessMs + 1);
  REQUIRE(WaitFor([&] { return p.transport().Count() >= 1; }));
  const std::string key = Header(p.transport().Requests()[0], "webhook-id");
  p.Stop();  // the drain times out: the receiver keeps failing, the clock stands still
  CHECK(p.exit_code() == 0);
  Result<std::unique_ptr<actions::Outbox>> outbox = actions::Outbox::Open(p.outbox_path());
  REQUIRE(outbox.ok());
  Result<std::vector<actions::OutboxItem>> pending = (*outbox)->LoadPending();
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 1);
  CHECK((*pending)[0].prepared.idempotency_key == key);
  CHECK((*pending)[0].attempts >= 1);
}

// The outbox refuses writes while its file is moved away (actions/outbox.h): the same path a
// full disk takes (`cannot store notifications`), but one a test can undo.
TEST_CASE("notifications the outbox refused are retried until stored, in order, once each") {
  Pipeline p;
  p.clock().Set(kT0 + 2000);
  const std::string moved = p.outbox_path() + ".away";
  fs::rename(p.outbox_path(), moved);
  p.Feed({kT0, kT0 + 1000, kT0 + 2000});
  // "errors firing 3" is computed but cannot be stored. From then on the run loop reads no
  // record (back-pressure), so the source's idle waits stop and AdvanceClock cannot be used.
  p.clock().Advance(kLatenessMs + 1);
  REQUIRE(WaitFor([&] { return p.Metric("klaxon_notifications_unstored") == "1"; }));
  // The retries go on (on the clock) and fail: nothing is delivered, readiness says why, and
  // records that arrive meanwhile stay in the source, not in the run loop's memory.
  p.clock().Set(kT0 + 125000);
  p.Push({kT0 + 120000, kT0 + 121000, kT0 + 122000});
  for (int i = 0; i < 20; ++i) {
    p.clock().Advance(1000);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(p.source().Unread() == 3);
  CHECK(p.transport().Count() == 0);
  REQUIRE(WaitFor([&] { return p.Get("/-/ready").first == 503; }));
  CHECK(p.Get("/-/ready").second.find("1 notifications could not be stored in the outbox") !=
        std::string::npos);
  CHECK(p.Metric("klaxon_notifications_unstored") == "1");
  // The outbox comes back: the waiting notification is stored, reading goes on, and the
  // records that waited resolve the alert and fire it again.
  fs::rename(moved, p.outbox_path());
  p.clock().Advance(10000);  // past the backoff
  // Read and evaluated (idle since), before the clock moves: quiet time starts from the clock
  // at which they were evaluated.
  REQUIRE(WaitFor([&] { return p.source().Unread() == 0 && p.source().IdleSinceDrained() >= 3; }));
  p.AdvanceClock(kLatenessMs + 1);
  REQUIRE(WaitFor([&] { return p.transport().Count() >= 3; }));
  const std::vector<actions::HttpRequest> requests = p.transport().Requests();
  CHECK(requests[0].body == "errors firing 3");
  CHECK(requests[1].body.rfind("errors resolved", 0) == 0);
  CHECK(requests[2].body == "errors firing 3");
  REQUIRE(WaitFor([&] { return p.Get("/-/ready").first == 200; }));
  CHECK(p.Metric("klaxon_notifications_unstored") == "0");
  p.Stop();
  CHECK(p.exit_code() == 0);
  CHECK(p.transport().Count() == 3);  // each exactly once
}

TEST_CASE("a shutdown with notifications the outbox still refuses exits non-zero") {
  Pipeline p;
  p.clock().Set(kT0 + 2000);
  fs::rename(p.outbox_path(), p.outbox_path() + ".away");
  p.Feed({kT0, kT0 + 1000, kT0 + 2000});
  p.clock().Advance(kLatenessMs + 1);
  REQUIRE(WaitFor([&] { return p.Metric("klaxon_notifications_unstored") == "1"; }));
  p.Stop();
  CHECK(p.exit_code() == 1);
  CHECK(p.transport().Count() == 0);
}

// docs/operations.md: "Expired silences stay listed for 5 days." The dispatcher drops them on
// the run loop's clock while the process runs, not only when a restart opens the store.
TEST_CASE("an expired silence is listed for 5 days on the clock, then no longer") {
  Pipeline p;
  constexpr int64_t kRetentionMs = 5 * 24 * 3600 * 1000LL;
  const auto [status, created] =
      p.Send("POST", "/api/v1/silences",
             fmt::format(R"({{"matchers": [{{"name": "service", "value": "api", "isRegex": false,)"
                         R"( "isEqual": true}}], "startsAt": "{}", "endsAt": "{}",)"
                         R"( "createdBy": "test", "comment": "maintenance"}})",
                         FormatTimeMs(kT0), FormatTimeMs(kT0 + 3600 * 1000)));
  REQUIRE_MESSAGE(status == 200, created);
  const std::string id = nlohmann::json::parse(created)["silenceID"].get<std::string>();
  p.clock().Advance(60 * 1000);
  REQUIRE(p.Send("DELETE", "/api/v1/silences/" + id).first == 200);
  const int64_t expired_at = kT0 + 60 * 1000;
  const auto listed = [&] {
    const nlohmann::json list = nlohmann::json::parse(p.Get("/api/v1/silences").second);
    for (const auto& s : list) {
      if (s["id"] == id) return s["status"]["state"].get<std::string>();
    }
    return std::string();
  };
  CHECK(listed() == "expired");
  // A minute before the retention ends it is still there (the dispatcher checks every second
  // of the clock: give it a few checks on this clock first).
  p.clock().Set(expired_at + kRetentionMs - 60 * 1000);
  for (int i = 0; i < 5; ++i) {
    p.clock().Advance(1000);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(listed() == "expired");
  CHECK(p.Get("/api/v1/silences/" + id).first == 200);
  // Past it, it is dropped while the process runs.
  p.clock().Set(expired_at + kRetentionMs + 1000);
  CHECK(WaitFor([&] { return listed().empty(); }));
  CHECK(p.Get("/api/v1/silences/" + id).first == 404);
}

}  // namespace
}  // namespace klaxon::service
