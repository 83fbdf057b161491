// The HTTP client's limits against hostile receivers on 127.0.0.1: a receiver that trickles
// its answer one byte at a time meets the whole-request deadline, a huge answer is not read
// into memory, shutdown does not wait for a slow receiver, and every request says who sends.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <regex>
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

int64_t MsSince(WallClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(WallClock::now() - t).count();
}

std::string TempDb(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("klaxon-limits-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p.string() + suffix);
  return p.string();
}

// Answers every connection with a valid HTTP response, one byte every `interval_ms`, from
// the status line on: each read gets data well within any read timeout, so only a deadline
// for the whole request ends it.
class TrickleServer {
 public:
  explicit TrickleServer(int interval_ms) : interval_ms_(interval_ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    REQUIRE(::listen(fd_, 16) == 0);
    accept_thread_ = std::thread([this] {
      while (true) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        ++accepted_;
        std::lock_guard lock(mu_);
        connections_.emplace_back([this, c] { Trickle(c); });
      }
    });
  }
  ~TrickleServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    accept_thread_.join();
    std::lock_guard lock(mu_);
    for (std::thread& t : connections_) t.join();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  int accepted() const { return accepted_; }

 private:
  void Trickle(int c) {
    char buf[4096];
    (void)::recv(c, buf, sizeof buf, 0);
    const std::string answer =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n" +
        std::string(1000, 'x');
    for (char ch : answer) {
      if (stop_ || ::send(c, &ch, 1, MSG_NOSIGNAL) != 1) break;
      for (int waited = 0; waited < interval_ms_ && !stop_; waited += 10) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    ::close(c);
  }

  int interval_ms_;
  int fd_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::thread> connections_;
};

std::unique_ptr<SafeHttpClient> LocalClient(int64_t deadline_ms) {
  HttpClientOptions options;
  options.allow = {"127.0.0.1"};
  options.request_deadline_ms = deadline_ms;
  auto client = SafeHttpClient::Create(options);
  REQUIRE(client.ok());
  return std::move(client).value();
}

TEST_CASE("a receiver trickling one byte per read meets the whole-request deadline") {
  TrickleServer server(200);  // well inside the 5 s read timeout, for every byte
  auto client = LocalClient(1000);
  const auto started = WallClock::now();
  HttpResponse r = client->Send({"POST", server.Url(), {}, "{}", 5000});
  const int64_t elapsed = MsSince(started);
  CHECK(r.error == TransportError::kTimeout);
  CHECK(r.error_detail.find("deadline") != std::string::npos);
  CHECK(elapsed >= 900);
  CHECK(elapsed < 3000);  // without the deadline: the 1,070-byte answer takes 214 s
}

TEST_CASE("two trickling receivers do not stop delivery to other actions, nor slow it") {
  TrickleServer slow1(200), slow2(200);
  Receiver healthy;
  auto client = LocalClient(1500);
  std::vector<std::unique_ptr<Action>> actions;
  for (const auto& [name, url] : std::vector<std::pair<std::string, std::string>>{
           {"a-slow1", slow1.Url()}, {"a-slow2", slow2.Url()}, {"z-healthy", healthy.Url()}}) {
    auto a = CreateAction(MakeDef(name, "webhook", {{"url", Str(url)}}), MapResolver({}), {});
    REQUIRE(a.ok());
    actions.push_back(std::move(a).value());
  }
  auto outbox = Outbox::Open(TempDb("two_slow.db"));
  REQUIRE(outbox.ok());
  SystemClock clock;
  DispatcherOptions options;  // two workers, as by default: both can be held by a slow one
  auto d = Dispatcher::Start(**outbox, {actions[0].get(), actions[1].get(), actions[2].get()},
                             *client, clock, options);
  REQUIRE(d.ok());
  Rule rule = SampleRule();
  rule.actions = {"a-slow1", "a-slow2"};
  for (int i = 0; i < 4; ++i) {
    Notification n = SampleNotification(AlertState::kFiring);
    n.group = {"g" + std::to_string(i)};
    REQUIRE((*d)->Submit(n, rule).ok());
  }
  REQUIRE(WaitUntil([&] { return slow1.accepted() >= 1 && slow2.accepted() >= 1; }, 5000));
  // Both workers are now inside a trickling request.
  rule.actions = {"z-healthy"};
  const auto started = WallClock::now();
  REQUIRE((*d)->Submit(SampleNotification(AlertState::kFiring), rule).ok());
  CHECK(healthy.WaitForCount(1, 10000));
  CHECK(MsSince(started) < 4000);  // at most one deadline, plus a pick
  // Once they have failed, the slow actions share one worker and leave the other free: later
  // notifications go out at once although both receivers keep trickling.
  REQUIRE(WaitUntil([&] { return (*d)->Stats().retried >= 4; }, 10000));
  for (int i = 1; i <= 3; ++i) {
    Notification n = SampleNotification(AlertState::kFiring);
    n.group = {"h" + std::to_string(i)};
    const auto sent = WallClock::now();
    REQUIRE((*d)->Submit(n, rule).ok());
    CHECK(healthy.WaitForCount(1 + i, 10000));
    CHECK(MsSince(sent) < 500);  // not a deadline (1.5 s) away
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  const auto started_stop = WallClock::now();
  (*d)->Stop();
  CHECK(MsSince(started_stop) < 3000);
}

TEST_CASE("shutdown abandons a trickling request after the grace period: drain_timeout holds") {
  TrickleServer server(200);
  auto client = LocalClient(60000);  // the deadline alone would hold shutdown for a minute
  auto action =
      CreateAction(MakeDef("slow", "webhook", {{"url", Str(server.Url())}}), MapResolver({}), {});
  REQUIRE(action.ok());
  const std::string db = TempDb("drain.db");
  auto outbox = Outbox::Open(db);
  REQUIRE(outbox.ok());
  SystemClock clock;
  DispatcherOptions options;
  options.stop_grace_ms = 200;
  auto d = Dispatcher::Start(**outbox, {action->get()}, *client, clock, options);
  REQUIRE(d.ok());
  Rule rule = SampleRule();
  rule.actions = {"slow"};
  REQUIRE((*d)->Submit(SampleNotification(AlertState::kFiring), rule).ok());
  REQUIRE(WaitUntil([&] { return server.accepted() >= 1; }, 5000));
  // The service's shutdown: Drain(drain_timeout), then Stop().
  const auto started = WallClock::now();
  CHECK_FALSE((*d)->Drain(500));
  (*d)->Stop();
  CHECK(MsSince(started) < 2000);
  // Abandoned, not lost: it is still in the outbox for the next start.
  auto size = (*outbox)->Size();
  REQUIRE(size.ok());
  CHECK(*size == 1);
}

TEST_CASE("a huge response body is not read: the first bytes are kept, memory stays bounded") {
  constexpr uint64_t kHuge = 1536ull << 20;  // 1.5 GiB announced
  constexpr uint64_t kGuard = 256ull << 20;  // the server gives up past this (test safety)
  std::atomic<uint64_t> written{0};
  httplib::Server server;
  server.Post("/big", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content_provider(kHuge, "text/plain",
                             [&](size_t offset, size_t length, httplib::DataSink& sink) {
                               if (offset >= kGuard) return false;
                               const std::string chunk(std::min<size_t>(length, 65536), 'e');
                               written += chunk.size();
                               return sink.write(chunk.data(), chunk.size());
                             });
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto client = LocalClient(30000);
  HttpRequest request{"POST", "http://127.0.0.1:" + std::to_string(port) + "/big", {}, "{}", 5000};
  HttpResponse r = client->Send(request);
  server.stop();
  t.join();
  CHECK(r.error == TransportError::kNone);
  CHECK(r.status == 500);
  CHECK(r.truncated);
  CHECK(r.body.size() == request.max_response_bytes);
  CHECK(r.body.substr(0, 4) == "eeee");
  // What crossed the socket before the client closed it: socket buffers, not the body.
  CHECK(written.load() < (64ull << 20));
  // The answer is classified as usual and its logged part is short.
  const DeliveryResult d = ClassifyResponse(r, 0);
  CHECK(d.reason == "http_500");
  CHECK(d.detail.size() <= 520);
}

TEST_CASE("every request says User-Agent: klaxon/<version>") {
  Receiver receiver;
  auto client = LocalClient(30000);
  // A request's own User-Agent is replaced, so every kind sends the same one.
  HttpResponse r =
      client->Send({"POST", receiver.Url(), {{"User-Agent", "cpp-httplib/0.11.4"}}, "{}", 5000});
  REQUIRE(r.status == 200);
  REQUIRE(client->Send({"POST", receiver.Url(), {}, "{}", 5000}).status == 200);
  REQUIRE(receiver.Count() == 2);
  for (const ReceivedRequest& got : receiver.Requests()) {
    CHECK(std::regex_match(got.Header("User-Agent"), std::regex(R"(klaxon/\d+\.\d+\.\d+)")));
    CHECK(got.headers.count("User-Agent") == 1);
  }
  CHECK(DefaultUserAgent().rfind("klaxon/", 0) == 0);
}

}  // namespace
}  // namespace klaxon::actions
