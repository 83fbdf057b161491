#include "service/listen_address.h"

#include <doctest/doctest.h>

namespace klaxon::service {
namespace {

TEST_CASE("admin.listen: HOST:PORT, [IPv6]:PORT, or :PORT for every interface") {
  CHECK(ParseListenAddress(":9464")->host.empty());
  CHECK(ParseListenAddress(":9464")->port == 9464);
  CHECK(ParseListenAddress("[::1]:0")->host == "::1");
  CHECK(ParseListenAddress("127.0.0.1:9464")->host == "127.0.0.1");
  CHECK_FALSE(ParseListenAddress("9464").ok());
  CHECK_FALSE(ParseListenAddress("::1:9464").ok());
  CHECK_FALSE(ParseListenAddress("127.0.0.1:").ok());
  CHECK_FALSE(ParseListenAddress("127.0.0.1:-1").ok());
  CHECK(ParseListenAddress("127.0.0.1:99999999999999999999").status().message() ==
        "port '99999999999999999999' is out of range (0 to 65535)");
}

}  // namespace
}  // namespace klaxon::service
