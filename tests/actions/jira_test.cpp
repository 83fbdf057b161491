// Jira against a fake Jira on 127.0.0.1: create once, comment on repeats instead of opening a
// duplicate, transition by name on resolve; bearer auth without a user.
#include <unistd.h>

#include <filesystem>
#include <set>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "actions/dispatcher.h"
#include "actions/http_client.h"
#include "actions/outbox.h"
#include "tests/actions/actions_test_util.h"

namespace klaxon::actions {
namespace {

using namespace klaxon::actions::testing;
using nlohmann::json;

// A tiny Jira: issues carry labels; search finds open ones by label.
struct FakeJira {
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> labels_by_key;
  std::set<std::string> done;
  int next = 24;

  void Handle(const ReceivedRequest& r, httplib::Response& res) {
    std::lock_guard lock(mu);
    if (r.method == "GET" && r.path.starts_with("/rest/api/2/search")) {
      json issues = json::array();
      for (const auto& [key, labels] : labels_by_key) {
        for (const std::string& l : labels) {
          if (r.path.find("%22" + l + "%22") != std::string::npos && done.count(key) == 0) {
            issues.push_back({{"key", key}});
          }
        }
      }
      res.set_content(json{{"issues", issues}}.dump(), "application/json");
    } else if (r.method == "POST" && r.path == "/rest/api/2/issue") {
      const json body = json::parse(r.body);
      const std::string key = "OPS-" + std::to_string(next++);
      labels_by_key[key] = body["fields"]["labels"].get<std::vector<std::string>>();
      res.status = 201;
      res.set_content(json{{"id", "10000"}, {"key", key}}.dump(), "application/json");
    } else if (r.method == "POST" && r.path.ends_with("/comment")) {
      res.status = 201;
      res.set_content("{}", "application/json");
    } else if (r.method == "GET" && r.path.ends_with("/transitions")) {
      res.set_content(
          R"({"transitions":[{"id":"11","name":"In Progress"},{"id":"31","name":"Done"}]})",
          "application/json");
    } else if (r.method == "POST" && r.path.ends_with("/transitions")) {
      const json body = json::parse(r.body);
      if (body["transition"]["id"] == "31") {
        done.insert(r.path.substr(std::string("/rest/api/2/issue/").size(),
                                  r.path.size() - std::string("/rest/api/2/issue/").size() -
                                      std::string("/transitions").size()));
      }
      res.status = 204;
    } else {
      res.status = 404;
    }
  }
};

TEST_CASE("jira: one issue per episode, comments on repeat, transition on resolve") {
  FakeJira jira;
  Receiver receiver([&](const ReceivedRequest& r, httplib::Response& res) { jira.Handle(r, res); });
  auto action = CreateAction(MakeDef("jira", "jira",
                                     {{"url", Str(receiver.Url(""))},
                                      {"project", Str("OPS")},
                                      {"issue_type", Str("Bug")},
                                      {"token", Env("JIRA")},
                                      {"resolve_transition", Str("done")}}),
                             MapResolver({{"JIRA", "dc-bearer-token-123"}}), {});
  REQUIRE(action.ok());
  HttpClientOptions http;
  http.allow = {"127.0.0.1"};
  auto client = SafeHttpClient::Create(http);
  REQUIRE(client.ok());
  const Rule rule = SampleRule();
  auto deliver = [&](AlertState s) {
    auto p = (*action)->Prepare(SampleNotification(s), rule);
    REQUIRE(p);
    return (*action)->Deliver(*p, **client, 0);
  };
  CHECK(deliver(AlertState::kFiring).kind == DeliveryResult::Kind::kAccepted);
  // A retry of the same firing (e.g. after a crash) finds the issue: no duplicate.
  CHECK(deliver(AlertState::kFiring).kind == DeliveryResult::Kind::kAccepted);
  CHECK(deliver(AlertState::kRepeat).kind == DeliveryResult::Kind::kAccepted);
  CHECK(deliver(AlertState::kResolved).kind == DeliveryResult::Kind::kAccepted);
  CHECK(jira.labels_by_key.size() == 1);
  CHECK(jira.done.count("OPS-24") == 1);
  std::vector<std::string> calls;
  for (const auto& r : receiver.Requests()) {
    calls.push_back(r.method + " " + r.path.substr(0, r.path.find('?')));
    CHECK(r.Header("Authorization") == "Bearer dc-bearer-token-123");
  }
  CHECK(calls ==
        std::vector<std::string>{"GET /rest/api/2/search", "POST /rest/api/2/issue",
                                 "GET /rest/api/2/search", "POST /rest/api/2/issue/OPS-24/comment",
                                 "GET /rest/api/2/search", "POST /rest/api/2/issue/OPS-24/comment",
                                 "GET /rest/api/2/search", "POST /rest/api/2/issue/OPS-24/comment",
                                 "GET /rest/api/2/issue/OPS-24/transitions",
                                 "POST /rest/api/2/issue/OPS-24/transitions"});
  // A new episode after the resolve opens a new issue.
  Notification again = SampleNotification(AlertState::kFiring);
  again.episode_start_ms += 3600000;
  auto p = (*action)->Prepare(again, rule);
  CHECK((*action)->Deliver(*p, **client, 0).kind == DeliveryResult::Kind::kAccepted);
  CHECK(jira.labels_by_key.size() == 2);
}

TEST_CASE("batch submit: one outbox commit for what one engine call returned") {
  Receiver receiver;
  auto action = CreateAction(MakeDef("hook", "webhook", {{"url", Str(receiver.Url("/hook"))}}),
                             MapResolver({}), {});
  REQUIRE(action.ok());
  HttpClientOptions http;
  http.allow = {"127.0.0.1"};
  auto client = SafeHttpClient::Create(http);
  const std::string path = std::filesystem::temp_directory_path() /
                           ("klaxon-batch-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  auto box = Outbox::Open(path);
  REQUIRE(box.ok());
  ManualClock clock(1000);
  auto d = Dispatcher::Start(**box, {action->get()}, **client, clock, {});
  REQUIRE(d.ok());
  RuleSet rules;
  rules.rules.push_back(SampleRule());
  rules.rules[0].actions = {"hook", "missing"};
  std::vector<Notification> batch;
  for (int i = 0; i < 10; ++i) {
    Notification n = SampleNotification(AlertState::kFiring);
    n.group = {"svc-" + std::to_string(i)};
    batch.push_back(n);
  }
  batch.push_back(batch[0]);  // a duplicate within the batch
  const Status s = (*d)->Submit(batch, rules);
  CHECK(s.code() == StatusCode::kNotFound);  // the unknown action is reported...
  REQUIRE((*d)->Drain(10000));               // ...and the known one still delivers
  CHECK(receiver.Count() == 10);
  const auto stats = (*d)->Stats();
  CHECK(stats.sent == 10);
  CHECK(stats.duplicates == 1);
  CHECK(stats.outbox_size == 0);
  (*d)->Stop();
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace klaxon::actions
