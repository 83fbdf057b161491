// The endpoint over real HTTP on 127.0.0.1: encodings, the decompression bomb, huge bodies,
// CORS, and slow clients that must not starve a normal SDK request.
#include "ingest/http_endpoint.h"

#include <arpa/inet.h>
#include <brotli/encode.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <fstream>
#include <thread>

namespace klaxon::ingest {
namespace {

const std::string kAuth = "Sentry sentry_key=k42, sentry_version=7";

struct Server {
  explicit Server(size_t max_request_bytes = 1 << 20, int64_t request_timeout_ms = 30000) {
    EndpointOptions o;
    o.port = 0;
    o.max_request_bytes = max_request_bytes;
    o.request_timeout_ms = request_timeout_ms;
    o.read_timeout_ms = 1000;
    o.now_ms = [this] { return now.load(); };
    auto started = IngestEndpoint::Start(o, handler);
    REQUIRE(started.ok());
    endpoint = std::move(started).value();
  }
  httplib::Result Post(const std::string& path, const std::string& body,
                       const std::string& encoding = "") {
    httplib::Client c("127.0.0.1", endpoint->port());
    c.set_read_timeout(10, 0);
    httplib::Headers h = {{"X-Sentry-Auth", kAuth}};
    if (!encoding.empty()) h.emplace("Content-Encoding", encoding);
    return c.Post(path, h, body, "application/x-sentry-envelope");
  }

  std::atomic<int64_t> now{0};
  EventQueue queue{1000, 64 << 20};
  QueueSink sink{queue};
  IngestMetrics metrics;
  IngestHandler handler{HandlerOptions{{{42, "orders-api", {"k42"}, 0, 0}}, 1 << 20}, sink,
                        metrics};
  std::unique_ptr<IngestEndpoint> endpoint;
};

std::string Envelope(const std::string& event) {
  return "{}\n{\"type\":\"event\",\"length\":" + std::to_string(event.size()) + "}\n" + event;
}

// gzip (window_bits 31) or zlib (15) of `chunks` copies of `piece`, streamed.
std::string Deflate(const std::string& piece, size_t chunks, int window_bits) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out;
  std::string buf(1 << 16, '\0');
  for (size_t i = 0; i <= chunks; ++i) {
    const bool last = i == chunks;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
    z.avail_in = last ? 0 : static_cast<uInt>(piece.size());
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf.data());
      z.avail_out = static_cast<uInt>(buf.size());
      deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
      out.append(buf.data(), buf.size() - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

std::string Brotli(const std::string& in) {
  size_t size = BrotliEncoderMaxCompressedSize(in.size());
  std::string out(size, '\0');
  REQUIRE(BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT,
                                in.size(), reinterpret_cast<const uint8_t*>(in.data()), &size,
                                reinterpret_cast<uint8_t*>(out.data())));
  out.resize(size);
  return out;
}

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  return fd;
}

// Sends `head` and returns the first bytes of the answer.
std::string RawRequest(int port, const std::string& head) {
  const int fd = Connect(port);
  REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));
  char buf[512];
  const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

int64_t PeakRssKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST_CASE("endpoint: plain, gzip, deflate and br bodies; store; events reach the queue") {
  Server s;
  const std::string body = Envelope("{\"message\":\"hello\"}");
  auto plain = s.Post("/api/42/envelope/", body);
  REQUIRE(plain);
  CHECK(plain->status == 200);
  CHECK(plain->get_header_value("Access-Control-Allow-Origin") == "*");
  auto gz = s.Post("/api/42/envelope/", Deflate(body, 1, 31), "gzip");
  REQUIRE(gz);
  CHECK(gz->status == 200);
  auto zl = s.Post("/api/42/envelope/", Deflate(body, 1, 15), "deflate");
  REQUIRE(zl);
  CHECK(zl->status == 200);
  auto br = s.Post("/api/42/envelope/", Brotli(body), "br");
  REQUIRE(br);
  CHECK(br->status == 200);
  auto store = s.Post("/api/42/store/", "{\"message\":\"hello\"}");
  REQUIRE(store);
  CHECK(store->status == 200);
  CHECK(s.queue.size() == 5);
  std::string e;
  while (s.queue.Pop(std::chrono::milliseconds(0), &e)) {
    CHECK(e.find("\"message\":\"hello\"") != std::string::npos);
    CHECK(e.find("\"project\":\"orders-api\"") != std::string::npos);
  }
  // Corrupt gzip and unknown encodings are refused, not guessed.
  auto corrupt = s.Post("/api/42/envelope/", "not gzip at all", "gzip");
  REQUIRE(corrupt);
  CHECK(corrupt->status == 400);
  auto unknown = s.Post("/api/42/envelope/", body, "zstd-nope");
  REQUIRE(unknown);
  CHECK(unknown->status == 415);
  auto no_route = s.Post("/api/x/envelope/", body);
  REQUIRE(no_route);
  CHECK(no_route->status == 404);
  CHECK(no_route->body == "{\"detail\":\"not found\"}");
}

TEST_CASE("endpoint: status codes, headers and JSON bodies of refusals") {
  Server s;
  httplib::Client c("127.0.0.1", s.endpoint->port());
  auto no_key = c.Post("/api/42/envelope/", Envelope("{}"), "application/x-sentry-envelope");
  REQUIRE(no_key);
  CHECK(no_key->status == 401);
  CHECK(no_key->body == "{\"detail\":\"missing authorization information\"}");
  CHECK(no_key->get_header_value("X-Sentry-Error") == no_key->body);
  auto query_key = c.Post("/api/42/envelope/?sentry_key=k42&sentry_version=7", Envelope("{}"),
                          "text/plain;charset=UTF-8");
  REQUIRE(query_key);
  CHECK(query_key->status == 200);
  auto unknown = s.Post("/api/43/envelope/", Envelope("{}"));
  REQUIRE(unknown);
  CHECK(unknown->status == 403);
  auto malformed = s.Post("/api/42/envelope/", "{\"x\"");
  REQUIRE(malformed);
  CHECK(malformed->status == 400);
}

TEST_CASE("endpoint: CORS preflight as Relay answers browsers") {
  Server s;
  httplib::Client c("127.0.0.1", s.endpoint->port());
  auto res = c.Options("/api/42/envelope/", {{"Origin", "https://shop.example"},
                                             {"Access-Control-Request-Method", "POST"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Access-Control-Allow-Origin") == "https://shop.example");
  CHECK(res->get_header_value("Access-Control-Allow-Methods") == "POST, OPTIONS");
  CHECK(res->get_header_value("Access-Control-Allow-Headers").find("x-sentry-auth") !=
        std::string::npos);
  CHECK(res->get_header_value("Access-Control-Allow-Headers").find("content-encoding") !=
        std::string::npos);
  CHECK(res->get_header_value("Access-Control-Expose-Headers") ==
        "x-sentry-error, x-sentry-rate-limits, retry-after");
  CHECK(res->get_header_value("Access-Control-Max-Age") == "3600");
}

TEST_CASE("endpoint: a gzip bomb of 1 GiB of zeros is refused with 413 in bounded memory") {
  Server s(4 << 20);
  const std::string bomb = Deflate(std::string(1 << 20, '\0'), 1024, 31);  // 1 GiB decoded
  CHECK(bomb.size() < (2 << 20));
  const int64_t before = PeakRssKib();
  auto res = s.Post("/api/42/envelope/", bomb, "gzip");
  REQUIRE(res);
  CHECK(res->status == 413);
  CHECK(res->body == "{\"detail\":\"request larger than 4194304 bytes (decoded)\"}");
  const int64_t grown_kib = PeakRssKib() - before;
  MESSAGE("peak RSS grew by " << grown_kib << " KiB");
  CHECK(grown_kib < 64 * 1024);
  CHECK(s.metrics.requests("envelope", 413) == 1);
  // Too large by its Content-Length: refused before a byte of the body is read.
  const std::string huge = RawRequest(s.endpoint->port(),
                                      "POST /api/42/envelope/ HTTP/1.1\r\nHost: x\r\n"
                                      "Content-Length: 5242880\r\n\r\n");
  CHECK(huge.rfind("HTTP/1.1 413", 0) == 0);
  // And the server still serves.
  auto ok = s.Post("/api/42/envelope/", Envelope("{}"));
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("endpoint: 16 slow clients do not delay a normal request; they are cut off") {
  Server s(1 << 20, 1500);
  std::vector<int> sockets;
  for (int i = 0; i < 16; ++i) {
    const int fd = Connect(s.endpoint->port());
    const std::string head =
        "POST /api/42/envelope/ HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: " + kAuth +
        "\r\nContent-Length: 100000\r\n\r\n{}";
    REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(head.size()));
    sockets.push_back(fd);
  }
  std::atomic<bool> stop{false};
  // Trickle one byte per client every 200 ms: each read succeeds, so only the whole-request
  // deadline ends them.
  std::thread trickle([&] {
    while (!stop) {
      for (int fd : sockets) ::send(fd, "\n", 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  auto res = s.Post("/api/42/envelope/", Envelope("{\"m\":1}"));
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(took < std::chrono::milliseconds(500));
  // By request_timeout each slow client has been answered and its connection closed.
  std::this_thread::sleep_for(std::chrono::milliseconds(1800));
  stop = true;
  trickle.join();
  int answered = 0;
  for (int fd : sockets) {
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    // 408 at the deadline; 400 when one read waited past read_timeout (a loaded machine can delay
    // the trickle that long): either way answered and cut off.
    if (n > 0 && std::string(buf, static_cast<size_t>(n)).rfind("HTTP/1.1 4", 0) == 0) ++answered;
    ::close(fd);
  }
  CHECK(answered == 16);
  CHECK(s.metrics.requests("envelope", 408) + s.metrics.requests("envelope", 400) == 16);
}

}  // namespace
}  // namespace klaxon::ingest
