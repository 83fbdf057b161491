#include "service/admin_server.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace klaxon::service {
namespace {

AdminHandlers Handlers() {
  AdminHandlers h;
  h.metrics = [] { return std::string(); };
  h.ready = [] { return true; };
  h.rules_json = [] { return std::string("{}"); };
  h.alerts_json = [] { return std::string("{}"); };
  return h;
}

bool Healthy(const std::string& host, int port) {
  httplib::Client client(host, port);
  client.set_connection_timeout(2, 0);
  const httplib::Result res = client.Get("/-/healthy");
  return res && res->status == 200;
}

TEST_CASE("admin.listen :PORT serves on every interface") {
  // Before: an empty host bound [::1] only, so 127.0.0.1 was refused.
  Result<std::unique_ptr<AdminServer>> server = AdminServer::Start(":0", Handlers());
  REQUIRE(server.ok());
  CHECK(Healthy("127.0.0.1", (*server)->port()));
}

TEST_CASE("admin.listen with a host serves on that host only; bad ports are refused") {
  Result<std::unique_ptr<AdminServer>> server = AdminServer::Start("127.0.0.1:0", Handlers());
  REQUIRE(server.ok());
  CHECK(Healthy("127.0.0.1", (*server)->port()));
  const auto bad = AdminServer::Start("127.0.0.1:99999", Handlers());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "admin.listen: port '99999' is out of range (0 to 65535)");
}

TEST_CASE("a second admin server cannot take a port that is in use") {
  // Before: SO_REUSEPORT let a second instance bind, and scrapes alternated between them.
  Result<std::unique_ptr<AdminServer>> first = AdminServer::Start("127.0.0.1:0", Handlers());
  REQUIRE(first.ok());
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  const auto second = AdminServer::Start(taken, Handlers());
  CHECK_FALSE(second.ok());
  CHECK(Healthy("127.0.0.1", (*first)->port()));
}

TEST_CASE("16 slow clients do not starve /-/healthy") {
  Result<std::unique_ptr<AdminServer>> server = AdminServer::Start("127.0.0.1:0", Handlers());
  REQUIRE(server.ok());
  std::vector<int> slow;
  for (int i = 0; i < 16; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>((*server)->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    const char partial[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";  // never finished
    REQUIRE(::send(fd, partial, sizeof(partial) - 1, 0) > 0);
    slow.push_back(fd);
  }
  // Before the fix the slow clients held every server thread for its 5 s read timeout, so the
  // probe waited at least that long. 3 s tells the two apart with room for a loaded machine
  // (a 1 s wait failed once with the whole suite running on two cores).
  httplib::Client client("127.0.0.1", (*server)->port());
  client.set_connection_timeout(3, 0);
  client.set_read_timeout(3, 0);
  const httplib::Result res = client.Get("/-/healthy");
  CHECK(res);
  if (res) CHECK(res->status == 200);
  for (int fd : slow) ::close(fd);
}

TEST_CASE("an admin server stopped right after it started does not hang") {
  // Before: a Stop() before the accept loop ran was ignored and the join waited forever.
  for (int i = 0; i < 100; ++i) {
    Result<std::unique_ptr<AdminServer>> server = AdminServer::Start("127.0.0.1:0", Handlers());
    REQUIRE(server.ok());
    (*server)->Stop();
  }
}

}  // namespace
}  // namespace klaxon::service
