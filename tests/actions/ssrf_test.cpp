// The SSRF guard: every spelling of an internal address is refused; the allow list admits
// internal receivers; the checked address is the one connected to.
#include <doctest/doctest.h>

#include "actions/http_client.h"
#include "tests/actions/actions_test_util.h"

namespace klaxon::actions {
namespace {

using namespace klaxon::actions::testing;

TEST_CASE("internal destinations are refused in every spelling") {
  auto client = SafeHttpClient::Create({});
  REQUIRE(client.ok());
  const std::vector<std::string> urls = {
      "http://127.0.0.1/",
      "http://127.0.0.1:8080/hook",
      "http://localhost/",
      "http://LOCALHOST./",
      "http://10.1.2.3/",
      "http://172.16.0.1/",
      "http://172.31.255.255/",
      "http://192.168.1.1/",
      "http://100.64.0.1/",
      "http://169.254.169.254/latest/meta-data/",
      "http://0.0.0.0/",
      "http://224.0.0.1/",
      "http://255.255.255.255/",
      "http://[::1]/",
      "http://[::]/",
      "http://[::ffff:127.0.0.1]/",
      "http://[::ffff:169.254.169.254]/",
      "http://[::ffff:a9fe:a9fe]/",
      "http://[64:ff9b::10.0.0.1]/",
      "http://[fc00::1]/",
      "http://[fd12:3456::1]/",
      "http://[fe80::1]/",
      "http://[ff02::1]/",
      "http://2130706433/",
      "http://0x7f000001/",
      "http://0x7F.0.0.1/",
      "http://0177.0.0.1/",
      "http://017700000001/",
      "http://127.1/",
      "http://127.000.000.001/",
      "https://3232235777/",
  };
  for (const std::string& url : urls) {
    CAPTURE(url);
    HttpResponse r = (*client)->Send({"POST", url, {}, "{}", 1000});
    CHECK(r.error == TransportError::kBlocked);
    CHECK(r.status == 0);
    CHECK(r.error_detail.find("refused") != std::string::npos);
  }
}

TEST_CASE("public addresses pass the address check") {
  for (const std::string ip :
       {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111"}) {
    CAPTURE(ip);
    CHECK(DeniedAddressReason(ip).empty());
  }
  CHECK(DeniedAddressReason("169.254.169.254") == "link-local");
  CHECK(DeniedAddressReason("::ffff:10.0.0.1") == "private (embedded IPv4)");
}

TEST_CASE("malformed URLs are refused before any connection") {
  auto client = SafeHttpClient::Create({});
  REQUIRE(client.ok());
  for (const std::string url :
       {"ftp://example.com/", "http://", "http://user:pw@example.com/", "http://exa mple.com/",
        "http://example.com:99999/", "example.com"}) {
    CAPTURE(url);
    CHECK((*client)->Send({"GET", url, {}, "", 1000}).error == TransportError::kBadUrl);
  }
}

TEST_CASE("the allow list admits an internal receiver, and only that one") {
  Receiver receiver;
  HttpClientOptions options;
  options.allow = {"127.0.0.1/32"};
  auto client = SafeHttpClient::Create(options);
  REQUIRE(client.ok());
  HttpResponse ok = (*client)->Send(
      {"POST", receiver.Url("/hook"), {{"Content-Type", "application/json"}}, "{}", 5000});
  CHECK(ok.error == TransportError::kNone);
  CHECK(ok.status == 200);
  CHECK(receiver.Count() == 1);
  // Other internal ranges stay closed, and odd spellings of the allowed address too.
  CHECK((*client)->Send({"GET", "http://10.0.0.1/", {}, "", 1000}).error ==
        TransportError::kBlocked);
  CHECK((*client)
            ->Send(
                {"GET", "http://2130706433:" + std::to_string(receiver.port()) + "/", {}, "", 1000})
            .error == TransportError::kBlocked);
  // Host names can be allowed too.
  options.allow = {"localhost", "::1"};
  auto by_name = SafeHttpClient::Create(options);
  REQUIRE(by_name.ok());
  auto pinned = CheckDestination("localhost", *AllowList::Parse(options.allow));
  REQUIRE(pinned.ok());
  CHECK((*pinned == "127.0.0.1" || *pinned == "::1"));
  CHECK(!AllowList::Parse({"10.0.0.0/33"}).ok());
  CHECK(!AllowList::Parse({"not a host/8"}).ok());
  // A numeric host that is no address is a typo, not a host name to allow.
  CHECK(!AllowList::Parse({"999.1.1.1"}).ok());
  CHECK(!AllowList::Parse({"10.1"}).ok());
  CHECK(AllowList::Parse({"10.1.2.3", "hooks.internal", "fd00::/8"}).ok());
}

TEST_CASE("the checked address is pinned: keep-alive reuses the connection") {
  Receiver receiver;
  HttpClientOptions options;
  options.allow = {"127.0.0.1"};
  auto client = SafeHttpClient::Create(options);
  REQUIRE(client.ok());
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = (*client)->Send({"POST", receiver.Url("/hook"), {}, "{}", 5000});
    REQUIRE(r.status == 200);
  }
  CHECK(receiver.Count() == 20);
}

TEST_CASE("6to4 and Teredo addresses are refused when they lead inside") {
  const std::vector<std::string> inside = {
      "2002:7f00:1::1",                        // 6to4 of 127.0.0.1
      "2002:a9fe:a9fe::",                      // 6to4 of 169.254.169.254
      "2002:c0a8:101::1",                      // 6to4 of 192.168.1.1
      "2002:a00:1::",                          // 6to4 of 10.0.0.1
      "2001:0:4136:e378:8000:63bf:3fff:fdd2",  // Teredo: refused outright
      "2001::1",
  };
  for (const std::string& ip : inside) {
    CAPTURE(ip);
    CHECK_FALSE(DeniedAddressReason(ip).empty());
  }
  // NAT64's local-use prefix (RFC 8215) leads to a site's own IPv4 network, whatever follows.
  CHECK(DeniedAddressReason("64:ff9b:1::a00:1") == "NAT64 local-use");
  CHECK(DeniedAddressReason("64:ff9b:1:ffff::8.8.8.8") == "NAT64 local-use");
  CHECK(DeniedAddressReason("64:ff9b::808:808").empty());  // well-known prefix, public IPv4
  CHECK(DeniedAddressReason("2002:7f00:1::1") == "loopback (embedded IPv4, 6to4)");
  CHECK(DeniedAddressReason("2001::1") == "Teredo tunnel");
  // 6to4 of a public address, and other 2001: networks, stay allowed.
  CHECK(DeniedAddressReason("2002:808:808::1").empty());
  CHECK(DeniedAddressReason("2001:4860:4860::8888").empty());
  auto client = SafeHttpClient::Create({});
  REQUIRE(client.ok());
  for (const std::string url : {"http://[2002:7f00:1::1]/", "http://[2001:0:4136:e378::1]:8080/"}) {
    CAPTURE(url);
    CHECK((*client)->Send({"POST", url, {}, "{}", 1000}).error == TransportError::kBlocked);
  }
}

}  // namespace
}  // namespace klaxon::actions
