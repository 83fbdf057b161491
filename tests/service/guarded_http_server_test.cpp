// GuardedHttpServer: a request that trickles in is cut at its deadline, and when every worker
// is held by such clients a new connection cuts the one reading the longest and is served.
#include "service/guarded_http_server.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

namespace klaxon::service {
namespace {

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  return fd;
}

// Sends `request` whole and returns the first line of the answer ("" when cut off).
std::string Ask(int port, const std::string& request) {
  const int fd = Connect(port);
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  char buffer[256] = {};
  const ssize_t n = ::recv(fd, buffer, sizeof(buffer) - 1, 0);
  ::close(fd);
  if (n <= 0) return "";
  const std::string answer(buffer, static_cast<size_t>(n));
  return answer.substr(0, answer.find("\r\n"));
}

struct Running {
  GuardedHttpServer server;
  int port = 0;
  std::thread thread;
  explicit Running(GuardedServerOptions options) : server(options) {
    server.Get("/ok", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    port = server.bind_to_any_port("127.0.0.1");
    server.RaiseBacklog();
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Running() {
    server.stop();
    thread.join();
  }
};

TEST_CASE("a request that trickles in is cut at its deadline, not per read") {
  GuardedServerOptions options;
  options.request_deadline_ms = 300;
  Running running(options);
  const int fd = Connect(running.port);
  const auto start = std::chrono::steady_clock::now();
  bool cut = false;
  // One byte every 100 ms: each read comes well within any per-read timeout.
  for (char c :
       std::string("GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n")) {
    if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
      cut = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  CHECK(cut);
  CHECK(seconds < 2.0);
  CHECK(Ask(running.port, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 200 OK");
}

TEST_CASE("with every worker held by idle clients, a new request cuts the oldest and is served") {
  GuardedServerOptions options;
  options.workers = 2;
  options.idle_timeout_ms = 60000;  // the idle clients would hold their workers for a minute
  Running running(options);
  std::vector<int> idle;
  for (int i = 0; i < 2; ++i) idle.push_back(Connect(running.port));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // both workers are waiting
  const auto start = std::chrono::steady_clock::now();
  CHECK(Ask(running.port, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 200 OK");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  CHECK(running.server.evictions() >= 1);
  for (int fd : idle) ::close(fd);
}

}  // namespace
}  // namespace klaxon::service
