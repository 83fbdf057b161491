// Silences: matchers with Alertmanager's semantics, the store across a restart, and the
// dispatcher with a real HTTP receiver on 127.0.0.1 and a ManualClock: a silenced episode is
// held, its repeats and resolve are not delivered, and one that outlives its silence notifies
// as firing when the silence ends, under its original idempotency key.
#include <unistd.h>

#include <filesystem>
#include <span>

#include <doctest/doctest.h>

#include "actions/delivery_history.h"
#include "actions/dispatcher.h"
#include "actions/http_client.h"
#include "actions/outbox.h"
#include "actions/render.h"
#include "actions/silencer.h"
#include "tests/actions/actions_test_util.h"

namespace klaxon::actions {
namespace {

using namespace klaxon::actions::testing;

constexpr int64_t kNow = 1764041000000;
constexpr int64_t kHour = 3600000;

std::string TempDb(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("klaxon-silence-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p.string() + suffix);
  return p.string();
}

struct TempDirCleanup {
  ~TempDirCleanup() {
    std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                                ("klaxon-silence-" + std::to_string(::getpid())));
  }
};

Silence MakeSilence(const std::vector<std::string>& matchers, int64_t start, int64_t end) {
  Silence s;
  for (const std::string& m : matchers) {
    Result<SilenceMatcher> parsed = ParseMatcher(m);
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().message());
    s.matchers.push_back(std::move(parsed).value());
  }
  s.starts_at_ms = start;
  s.ends_at_ms = end;
  s.created_by = "oncall";
  s.comment = "maintenance";
  return s;
}

TEST_CASE("matchers: parsing, Alertmanager semantics, errors") {
  const AlertLabels labels = LabelsOf(SampleNotification(AlertState::kFiring), SampleRule());
  // alertname, rule, severity, the group field, the rule's labels.
  CHECK(labels == AlertLabels{{"alertname", "orders-db-errors"},
                              {"rule", "orders-db-errors"},
                              {"severity", "critical"},
                              {"service", "orders-api"},
                              {"team", "payments"}});
  auto matches = [&](const std::string& m) {
    Result<SilenceMatcher> parsed = ParseMatcher(m);
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().message());
    Silence s;
    s.matchers.push_back(*parsed);
    return Matches(s, labels);
  };
  CHECK(matches("alertname=orders-db-errors"));
  CHECK(matches("rule=\"orders-db-errors\""));
  CHECK(matches("service =~ \"orders-.*\""));
  CHECK_FALSE(matches("service=~orders"));  // anchored: the whole value
  CHECK(matches("service!~\"check.*\""));
  CHECK(matches("team!=search"));
  CHECK_FALSE(matches("team!=payments"));
  CHECK(matches("environment=\"\""));  // a label the alert lacks is ""
  CHECK_FALSE(matches("environment=production"));
  CHECK(matches("summary=~\"a\\\"b|\""));  // escapes inside quotes; "" matches the empty value

  CHECK(ParseMatcher("service").status().message() ==
        "matcher `service`: expected name=value, name!=value, name=~regex or name!~regex");
  CHECK(ParseMatcher("service=~\"(\"").status().message() == "matcher `service=~`: missing ): (");
  CHECK(ParseMatcher("service=\"x").status().message() ==
        "matcher `service=\"x`: unterminated quote");
  CHECK(ParseMatcher("ser vice=x").status().message() ==
        "matcher `ser vice=x`: expected name=value, name!=value, name=~regex or name!~regex");
  CHECK(FormatMatcher(*ParseMatcher("a=~\"x\\\"y\"")) == "a=~\"x\\\"y\"");
  // An operator typed twice would otherwise become part of the value and match nothing.
  CHECK(ParseMatcher("alertname==x").status().message() ==
        "matcher `alertname==x`: the value starts with `=`; write name=value, name!=value, "
        "name=~regex or name!~regex (quote a value that starts with it)");
  CHECK(ParseMatcher("alertname=\"=x\"")->value == "=x");
}

TEST_CASE("matcher lists: commas, newlines and braces, as Prometheus selectors") {
  auto texts = [](const Result<std::vector<SilenceMatcher>>& r) {
    std::vector<std::string> out;
    for (const SilenceMatcher& m : *r) out.push_back(FormatMatcher(m));
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(texts(ParseMatchers("alertname=a, severity=critical")) ==
        V{"alertname=\"a\"", "severity=\"critical\""});
  CHECK(texts(ParseMatchers("{alertname=\"a,b\", env=~\"x|y\"}")) ==
        V{"alertname=\"a,b\"", "env=~\"x|y\""});
  CHECK(texts(ParseMatchers("alertname=a\r\n\nservice!=b\n")) ==
        V{"alertname=\"a\"", "service!=\"b\""});
  CHECK(texts(ParseMatchers("a=\"q\\\",r\"")) == V{"a=\"q\\\",r\""});  // an escaped quote
  CHECK(ParseMatchers("a=b, c, d==e").status().message() ==
        "matcher `c`: expected name=value, name!=value, name=~regex or name!~regex; matcher "
        "`d==e`: the value starts with `=`; write name=value, name!=value, name=~regex or "
        "name!~regex (quote a value that starts with it)");
}

TEST_CASE("a silence must be selective, bounded and explained") {
  Silence ok = MakeSilence({"service=orders-api"}, kNow, kNow + kHour);
  CHECK(ValidateSilence(ok).ok());
  Silence all = MakeSilence({"service=~\".*\""}, kNow, kNow + kHour);
  CHECK(ValidateSilence(all).message() ==
        "at least one matcher must not match the empty string (this silence would mute every "
        "alert)");
  Silence bad = MakeSilence({}, kNow, kNow);
  bad.created_by.clear();
  bad.comment.clear();
  CHECK(ValidateSilence(bad).message() ==
        "a silence needs at least one matcher; the end must be after the start; created_by: say "
        "who silences; comment: say why");
  CHECK(StateAt(ok, kNow - 1) == SilenceState::kPending);
  CHECK(StateAt(ok, kNow) == SilenceState::kActive);
  CHECK(StateAt(ok, kNow + kHour) == SilenceState::kExpired);
}

TEST_CASE("silences and held episodes survive a restart; expiring ends them") {
  TempDirCleanup cleanup;
  const std::string db = TempDb("restart.db");
  std::string id;
  {
    auto silencer = Silencer::Open(db, kNow);
    REQUIRE(silencer.ok());
    Result<Silence> added =
        (*silencer)->Add(MakeSilence({"service=orders-api"}, 0, kNow + kHour), kNow);
    REQUIRE(added.ok());
    id = added->id;
    CHECK(id.size() == 36);
    CHECK(added->starts_at_ms == kNow);
    std::vector<Prepared> items = {{"ops", "key-1", "", "firing", "{}"}};
    bool silenced = false;
    REQUIRE((*silencer)
                ->Filter(SampleNotification(AlertState::kFiring), SampleRule(), items, kNow + 1,
                         &silenced)
                .ok());
    CHECK(silenced);
    CHECK(items.empty());
    CHECK((*silencer)->Add(MakeSilence({"a=b"}, 0, kNow - 1), kNow).status().message() ==
          "the end must be after the start");
  }
  auto again = Silencer::Open(db, kNow + 2);
  REQUIRE(again.ok());
  std::optional<Silence> s = (*again)->Get(id);
  REQUIRE(s.has_value());
  CHECK(FormatMatcher(s->matchers[0]) == "service=\"orders-api\"");
  CHECK(s->comment == "maintenance");
  SilencerStats st = (*again)->Stats(kNow + 2);
  CHECK(st.active == 1);
  CHECK(st.held_episodes == 1);
  CHECK((*again)->Released(kNow + 2).empty());
  REQUIRE((*again)->Expire(id, kNow + 3).ok());
  CHECK((*again)->Expire(id, kNow + 4).message() == "silence " + id + " has already expired");
  CHECK((*again)->Expire("nope", kNow + 4).message() == "no silence nope");
  std::vector<HeldEpisode> released = (*again)->Released(kNow + 4);
  REQUIRE(released.size() == 1);
  CHECK(released[0].items.at(0).idempotency_key == "key-1");
  REQUIRE((*again)->Forget({released[0].key}).ok());
  CHECK((*again)->Stats(kNow + 4).held_episodes == 0);
  CHECK((*again)->Stats(kNow + 4).expired == 1);
}

TEST_CASE("expired silences stay listed for 5 days, then are dropped, also across restarts") {
  TempDirCleanup cleanup;
  const std::string db = TempDb("retention.db");
  constexpr int64_t kRetention = 5 * 24 * kHour;
  const auto ids = [](const Silencer& s) {
    std::vector<std::string> out;
    for (const Silence& x : s.List()) out.push_back(x.id);
    return out;
  };
  std::string ran_out, expired;
  {
    auto silencer = Silencer::Open(db, kNow);
    REQUIRE(silencer.ok());
    // One runs to its end (kNow + 2h), one is expired by hand at kNow + 1h.
    Result<Silence> a = (*silencer)->Add(MakeSilence({"service=a"}, 0, kNow + 2 * kHour), kNow);
    Result<Silence> b = (*silencer)->Add(MakeSilence({"service=b"}, 0, kNow + 3 * kHour), kNow);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    ran_out = a->id;
    expired = b->id;
    REQUIRE((*silencer)->Expire(expired, kNow + kHour).ok());
    // Listed, as expired, for the whole retention after each one's end.
    REQUIRE((*silencer)->PruneExpired(kNow + kHour + kRetention).ok());
    CHECK(ids(**silencer) == std::vector<std::string>{ran_out, expired});
    CHECK((*silencer)->Stats(kNow + kHour + kRetention).expired == 2);
    // Then dropped while running, each at its own time.
    REQUIRE((*silencer)->PruneExpired(kNow + kHour + kRetention + 1).ok());
    CHECK(ids(**silencer) == std::vector<std::string>{ran_out});
    CHECK(!(*silencer)->Get(expired).has_value());
  }
  {
    // A restart within the retention lists what the store kept, and not what it dropped.
    auto again = Silencer::Open(db, kNow + 2 * kHour + kRetention);
    REQUIRE(again.ok());
    CHECK(ids(**again) == std::vector<std::string>{ran_out});
    REQUIRE((*again)->Get(ran_out).has_value());
    CHECK(StateAt(*(*again)->Get(ran_out), kNow + 2 * kHour + kRetention) ==
          SilenceState::kExpired);
  }
  // A restart past the retention drops it on opening.
  auto later = Silencer::Open(db, kNow + 2 * kHour + kRetention + 1);
  REQUIRE(later.ok());
  CHECK((*later)->List().empty());
}

TEST_CASE("a rule without episodes (every event, new value): silenced means dropped") {
  TempDirCleanup cleanup;
  auto silencer = Silencer::Open(TempDb("oneshot.db"), kNow);
  REQUIRE(silencer.ok());
  REQUIRE(
      (*silencer)->Add(MakeSilence({"alertname=orders-db-errors"}, 0, kNow + kHour), kNow).ok());
  for (Condition::Kind kind : {Condition::Kind::kEvery, Condition::Kind::kNewValue}) {
    Rule rule = SampleRule();
    rule.condition.kind = kind;
    for (int i = 0; i < 5; ++i) {
      Notification n = SampleNotification(AlertState::kFiring);
      n.at_ms = n.episode_start_ms = kNow + i;  // each event its own notification
      std::vector<Prepared> items = {{"ops", "key-" + std::to_string(i), "", "firing", "{}"}};
      bool silenced = false;
      REQUIRE((*silencer)->Filter(n, rule, items, kNow + 1, &silenced).ok());
      CHECK(silenced);
      CHECK(items.empty());
    }
  }
  // Nothing held, so nothing floods out when the silence ends.
  CHECK((*silencer)->Stats(kNow + 1).held_episodes == 0);
  CHECK((*silencer)->Released(kNow + kHour).empty());
  CHECK((*silencer)->Stats(kNow + 1).silenced == 10);
}

// One webhook action "ops" -> receiver, outbox and silencer in one file, a manual clock.
struct Setup {
  ManualClock clock{kNow};
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<Silencer> silencer;
  std::unique_ptr<SafeHttpClient> client;
  std::unique_ptr<Action> action;
  std::unique_ptr<Dispatcher> dispatcher;
  RuleSet rules;

  Setup(const std::string& url, const std::string& db) {
    outbox = std::move(Outbox::Open(db)).value();
    auto s = Silencer::Open(db, clock.NowMs());
    REQUIRE(s.ok());
    silencer = std::move(s).value();
    HttpClientOptions http;
    http.allow = {"127.0.0.1"};
    client = std::move(SafeHttpClient::Create(http)).value();
    action =
        std::move(CreateAction(MakeDef("ops", "webhook", {{"url", Str(url)}}), MapResolver({}), {}))
            .value();
    DispatcherOptions options;
    options.seed = 7;
    options.silencer = silencer.get();
    options.silence_check_ms = 60000;  // the release at the silence's end must not wait for it
    dispatcher =
        std::move(Dispatcher::Start(*outbox, {action.get()}, *client, clock, options)).value();
    rules.rules.push_back(SampleRule());
  }
  ~Setup() { dispatcher->Stop(); }
  void Submit(const Notification& n) {
    REQUIRE(dispatcher->Submit(std::span<const Notification>(&n, 1), rules).ok());
  }
};

std::string WebhookId(const ReceivedRequest& r) { return r.Header("webhook-id"); }

TEST_CASE("a silenced episode: held, repeats and resolve muted, released when it outlives") {
  TempDirCleanup cleanup;
  Receiver receiver;
  Setup s(receiver.Url(), TempDb("dispatch.db"));
  Result<Silence> silence = s.silencer->Add(
      MakeSilence({"alertname=orders-db-errors", "service=~\"orders-.*\""}, 0, kNow + kHour), kNow);
  REQUIRE(silence.ok());

  // Episode 1: fires and resolves under the silence: the receiver hears nothing.
  Notification firing = SampleNotification(AlertState::kFiring);
  s.Submit(firing);
  s.Submit(SampleNotification(AlertState::kRepeat));
  s.Submit(SampleNotification(AlertState::kResolved));
  CHECK(s.silencer->Stats(kNow).silenced == 3);
  CHECK(s.silencer->Stats(kNow).held_episodes == 0);

  // Another group is not silenced.
  Notification other = firing;
  other.group = {std::string("search-api")};
  s.Submit(other);
  REQUIRE(receiver.WaitForCount(1));

  // Episode 2 fires under the silence and outlives it.
  Notification firing2 = firing;
  firing2.episode_start_ms += kHour / 2;
  s.Submit(firing2);
  CHECK(s.silencer->Stats(kNow).held_episodes == 1);
  s.clock.Advance(kHour - 1);
  CHECK_FALSE(receiver.WaitForCount(2, 300));
  s.clock.Advance(1);  // the silence ends
  REQUIRE(receiver.WaitForCount(2));
  const std::vector<ReceivedRequest> got = receiver.Requests();
  REQUIRE(got.size() == 2);
  CHECK(WebhookId(got[0]) == IdempotencyKey(other));
  CHECK(WebhookId(got[1]) == IdempotencyKey(firing2));  // its original key: never sent twice
  CHECK(got[1].body.find("\"firing\"") != std::string::npos);
  CHECK(s.silencer->Stats(s.clock.NowMs()).held_episodes == 0);

  // Its resolve after the silence is delivered.
  Notification resolved2 = SampleNotification(AlertState::kResolved);
  resolved2.episode_start_ms = firing2.episode_start_ms;
  s.Submit(resolved2);
  REQUIRE(receiver.WaitForCount(3));
  CHECK(WebhookId(receiver.Requests()[2]) == IdempotencyKey(resolved2));

  // The history the status page shows, newest first: what became of each per action.
  REQUIRE(WaitUntil([&] {
    return s.dispatcher->RecentNotifications().front().deliveries.at(0).state == "delivered";
  }));
  const std::vector<NotificationRecord> recent = s.dispatcher->RecentNotifications();
  REQUIRE(recent.size() == 6);
  CHECK(recent[0].state == "resolved");
  CHECK(recent[0].group == "service=orders-api");
  CHECK(recent[1].state == "firing");
  CHECK(recent[1].deliveries.at(0).state == "delivered");  // held, then released
  CHECK(recent[2].group == "service=search-api");
  for (size_t i = 3; i < 6; ++i) {
    CHECK(recent[i].deliveries.at(0).action == "ops");
    CHECK(recent[i].deliveries.at(0).state == "silenced");
  }
}

TEST_CASE("the resolve of an episode delivered before a silence is still delivered") {
  TempDirCleanup cleanup;
  Receiver receiver;
  Setup s(receiver.Url(), TempDb("resolve.db"));
  s.Submit(SampleNotification(AlertState::kFiring));
  REQUIRE(receiver.WaitForCount(1));
  REQUIRE(s.silencer->Add(MakeSilence({"service=orders-api"}, 0, kNow + kHour), kNow).ok());
  s.Submit(SampleNotification(AlertState::kRepeat));  // muted
  s.Submit(SampleNotification(AlertState::kResolved));
  REQUIRE(receiver.WaitForCount(2));
  CHECK(receiver.Requests()[1].body.find("\"resolved\"") != std::string::npos);
  CHECK(s.silencer->Stats(kNow).silenced == 1);
}

}  // namespace
}  // namespace klaxon::actions

namespace klaxon::actions {
namespace {

TEST_CASE("DeliveryHistory: bounded, newest first, updates by action and key") {
  DeliveryHistory h(2);
  h.Add({1, "r", "g=a", "firing", {{"ops", "queued", ""}, {"pd", "queued", ""}}}, {"k1", "k1"});
  h.Add({2, "r", "g=b", "firing", {{"ops", "queued", ""}}}, {"k2"});
  h.Update("pd", "k1", "retrying", "http_500; attempt 1 failed");
  std::vector<NotificationRecord> got = h.Newest();
  REQUIRE(got.size() == 2);
  CHECK(got[1].deliveries[0].state == "queued");
  CHECK(got[1].deliveries[1].state == "retrying");
  h.Add({3, "r", "g=c", "resolved", {{"ops", "queued", ""}}}, {"k3"});
  h.Update("ops", "k1", "delivered", "");  // forgotten: no effect
  h.Update("ops", "k3", "given up", "http_4xx");
  got = h.Newest();
  REQUIRE(got.size() == 2);
  CHECK(got[0].at_ms == 3);
  CHECK(got[0].deliveries[0].state == "given up");
  CHECK(got[0].deliveries[0].detail == "http_4xx");
  CHECK(got[1].at_ms == 2);
}

TEST_CASE("DeliveryHistory: the same notification submitted again is listed once") {
  DeliveryHistory h(4);
  h.Add({1, "r", "g=a", "firing", {{"ops", "queued", ""}}}, {"k1"});
  h.Update("ops", "k1", "retrying", "http_500");
  // A retry of a batch the outbox refused submits it again: same action, same key.
  h.Add({1, "r", "g=a", "firing", {{"ops", "queued", ""}}}, {"k1"});
  h.Add({2, "r", "g=a", "resolved", {{"ops", "queued", ""}}}, {"k2"});
  std::vector<NotificationRecord> got = h.Newest();
  REQUIRE(got.size() == 2);
  CHECK(got[1].at_ms == 1);
  CHECK(got[1].deliveries[0].state == "retrying");  // what happened to it is kept
}

}  // namespace
}  // namespace klaxon::actions
