#include "cli/admin_server.h"

#include <doctest/doctest.h>
#include <httplib.h>

namespace klaxon::cli {
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

}  // namespace
}  // namespace klaxon::cli
