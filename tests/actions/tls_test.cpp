// TLS certificates are verified: a receiver with a self-signed certificate is refused unless
// its certificate is trusted explicitly (ca_file). Also: log action and webhook digests
// through the dispatcher.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "actions/dispatcher.h"
#include "actions/http_client.h"
#include "actions/outbox.h"
#include "tests/actions/actions_test_util.h"

namespace klaxon::actions {
namespace {

using namespace klaxon::actions::testing;

std::filesystem::path TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("klaxon-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

TEST_CASE("TLS: self-signed receivers are refused; trusted with ca_file they work") {
  const auto dir = TempDir("tls");
  const std::string cert = (dir / "cert.pem").string();
  const std::string key = (dir / "key.pem").string();
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  httplib::SSLServer server(cert.c_str(), key.c_str());
  server.Post("/hook", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/hook";

  HttpClientOptions options;
  options.allow = {"127.0.0.1"};
  auto strict = SafeHttpClient::Create(options);
  REQUIRE(strict.ok());
  HttpResponse refused = (*strict)->Send({"POST", url, {}, "{}", 5000});
  CHECK(refused.error == TransportError::kConnection);
  CHECK(refused.status == 0);
  CHECK(ClassifyResponse(refused, 0).kind == DeliveryResult::Kind::kRetry);

  options.ca_file = cert;
  auto trusting = SafeHttpClient::Create(options);
  REQUIRE(trusting.ok());
  HttpResponse ok = (*trusting)->Send({"POST", url, {}, "{}", 5000});
  CHECK(ok.error == TransportError::kNone);
  CHECK(ok.status == 200);
  server.stop();
  t.join();
  std::filesystem::remove_all(dir);
}

TEST_CASE("log action writes one JSON line per notification to its file") {
  const auto dir = TempDir("log");
  const std::string path = (dir / "alerts.jsonl").string();
  ActionValue p = Str(path);
  auto action = CreateAction(MakeDef("audit", "log", {{"path", p}}), MapResolver({}), {});
  REQUIRE(action.ok());
  auto box = Outbox::Open((dir / "outbox.db").string());
  REQUIRE(box.ok());
  auto client = SafeHttpClient::Create({});
  ManualClock clock(1000);
  auto d = Dispatcher::Start(**box, {action->get()}, **client, clock, {});
  REQUIRE(d.ok());
  Rule rule = SampleRule();
  rule.actions = {"audit"};
  for (AlertState s : {AlertState::kFiring, AlertState::kRepeat, AlertState::kResolved}) {
    REQUIRE((*d)->Submit(SampleNotification(s), rule).ok());
  }
  REQUIRE((*d)->Drain(10000));
  (*d)->Stop();
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> states;
  while (std::getline(in, line)) {
    states.push_back(nlohmann::json::parse(line)["state"].get<std::string>());
  }
  CHECK(states == std::vector<std::string>{"firing", "repeat", "resolved"});
  std::filesystem::remove_all(dir);
}

TEST_CASE("webhook with a rate limit sends a signed digest of what piled up") {
  Receiver receiver;
  ActionValue limit;
  limit.kind = ActionValue::Kind::kDuration;
  limit.duration_ms = 10000;
  auto action = CreateAction(
      MakeDef("hook", "webhook",
              {{"url", Str(receiver.Url("/hook"))}, {"secret", Env("S")}, {"rate_limit", limit}}),
      MapResolver({{"S", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}), {});
  REQUIRE(action.ok());
  const auto dir = TempDir("digest");
  auto box = Outbox::Open((dir / "outbox.db").string());
  HttpClientOptions http;
  http.allow = {"127.0.0.1"};
  auto client = SafeHttpClient::Create(http);
  ManualClock clock(1000);
  auto d = Dispatcher::Start(**box, {action->get()}, **client, clock, {});
  REQUIRE(d.ok());
  Rule rule = SampleRule();
  rule.actions = {"hook"};
  for (int i = 0; i < 25; ++i) {
    Notification n = SampleNotification(AlertState::kFiring);
    n.group = {"svc-" + std::to_string(i)};
    REQUIRE((*d)->Submit(n, rule).ok());
    if (i == 0) REQUIRE(receiver.WaitForCount(1));
  }
  clock.Advance(10000);
  REQUIRE((*d)->Drain(10000));
  REQUIRE(receiver.Count() == 2);
  const ReceivedRequest digest = receiver.Requests()[1];
  const nlohmann::json body = nlohmann::json::parse(digest.body);
  CHECK(body["type"] == "digest");
  CHECK(body["count"] == 24);
  CHECK(body["notifications"].size() == 20);
  CHECK(body["text"] == "and 4 more");
  CHECK(digest.Header("webhook-signature").starts_with("v1,"));
  CHECK((*d)->Stats().coalesced == 23);
  (*d)->Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace klaxon::actions
