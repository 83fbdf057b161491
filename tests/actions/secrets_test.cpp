// Secrets echoed by a receiver's error page are masked in what `klaxon notify` prints and in
// the dispatcher's log: header values read through env(), their bare credential, Jira's Basic
// value, and a secret cut in two by the logged detail's truncation.
#include <unistd.h>

#include <filesystem>

#include <doctest/doctest.h>

#include "actions/dispatcher.h"
#include "actions/http_client.h"
#include "actions/outbox.h"
#include "actions/signing.h"
#include "tests/actions/actions_test_util.h"

namespace klaxon::actions {
namespace {

using namespace klaxon::actions::testing;

std::string TempDb(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("klaxon-hardening-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p.string() + suffix);
  return p.string();
}

struct LogLines {
  std::mutex mu;
  std::string all;
  LogFn Fn() {
    return [this](LogLevel, const std::string& m) {
      std::lock_guard lock(mu);
      all += m + "\n";
    };
  }
  std::string Get() {
    std::lock_guard lock(mu);
    return all;
  }
};

// Delivers one test notification through `def` the way `klaxon notify` does; returns the
// receiver's verdict and collects the dispatcher's log.
DeliveryResult NotifyThrough(const ActionDef& def, const SecretResolver& secrets,
                             const std::string& db, LogLines& logs) {
  auto action = CreateAction(def, secrets, {});
  REQUIRE_MESSAGE(action.ok(), action.status().message());
  auto outbox = Outbox::Open(TempDb(db));
  REQUIRE(outbox.ok());
  HttpClientOptions http;
  http.allow = {"127.0.0.1"};
  auto client = SafeHttpClient::Create(http);
  REQUIRE(client.ok());
  SystemClock clock;
  DispatcherOptions options;
  options.log = logs.Fn();
  auto d = Dispatcher::Start(**outbox, {action->get()}, **client, clock, options);
  REQUIRE(d.ok());
  Rule rule = SampleRule();
  rule.actions = {def.name};
  auto p = (*action)->Prepare(SampleNotification(AlertState::kFiring), rule);
  REQUIRE(p);
  auto r = (*d)->SendAndWait(*p, 10000);
  (*d)->Stop();
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE("a secret header echoed by the receiver's error page is masked") {
  const std::string token = "sk-test-0123456789abcdefXYZ";
  // The page echoes the header value, the bare token, and the token again straddling the
  // 512-byte cut of the logged detail (its first half must not leak either).
  Receiver receiver([&](const ReceivedRequest& r, httplib::Response& res) {
    const std::string auth = r.Header("Authorization");
    std::string page = "invalid credentials: " + auth + "; token " + token + " ";
    page += std::string(500 - page.size(), '.') + token;
    res.status = 401;
    res.set_content(page, "text/plain");
  });
  ActionValue headers;
  headers.kind = ActionValue::Kind::kList;
  headers.list = {Env("AUTH_HEADER")};
  LogLines logs;
  const DeliveryResult r = NotifyThrough(
      MakeDef("hook", "webhook", {{"url", Str(receiver.Url())}, {"headers", headers}}),
      MapResolver({{"AUTH_HEADER", "Authorization: Bearer " + token}}), "echo.db", logs);
  CHECK(r.reason == "http_401");
  CHECK(r.detail.find("invalid credentials: ***; token ***") != std::string::npos);
  CHECK(r.detail.find("sk-test") == std::string::npos);
  CHECK(r.detail.find("sk-") == std::string::npos);
  CHECK(logs.Get().find("sk-test") == std::string::npos);
  REQUIRE(receiver.Count() == 1);
  CHECK(receiver.Requests()[0].Header("Authorization") == "Bearer " + token);
}

TEST_CASE("jira: the Basic authorization value is masked when echoed") {
  const std::string basic = Base64Encode("ops@example.com:jira-api-token-1234567890");
  Receiver receiver([](const ReceivedRequest& r, httplib::Response& res) {
    res.status = 403;
    res.set_content("forbidden for " + r.Header("Authorization"), "text/plain");
  });
  LogLines logs;
  const DeliveryResult r = NotifyThrough(
      MakeDef("jira", "jira",
              {{"url", Str("http://127.0.0.1:" + std::to_string(receiver.port()))},
               {"project", Str("OPS")},
               {"issue_type", Str("Bug")},
               {"user", Str("ops@example.com")},
               {"token", Env("JIRA_TOKEN")}}),
      MapResolver({{"JIRA_TOKEN", "jira-api-token-1234567890"}}), "jira_echo.db", logs);
  CHECK(r.reason == "http_403");
  CHECK(r.detail == "forbidden for Basic ***");
  CHECK(logs.Get().find(basic) == std::string::npos);
}

}  // namespace
}  // namespace klaxon::actions
