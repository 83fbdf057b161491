// Payload builders: golden requests per kind and state, signatures, scrubbing, templates.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "actions/action.h"
#include "actions/event_use.h"
#include "actions/render.h"
#include "actions/signing.h"
#include "tests/actions/actions_test_util.h"

namespace klaxon::actions {
namespace {

using namespace klaxon::actions::testing;
using nlohmann::json;

constexpr int64_t kNow = 1764041800000;
const std::string kSlackUrl = "https://hooks.slack.com/services/T0AAA/B0BBB/SlackSecretXyz123";
const std::string kRoutingKey = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32";
const std::string kJiraToken = "jira-api-token-ABCDEF";
const std::string kWhsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string kSentrySecret = "sentry-client-secret-123456";

SecretResolver Resolver() {
  return MapResolver({{"SLACK_URL", kSlackUrl},
                      {"PD_KEY", kRoutingKey},
                      {"JIRA_TOKEN", kJiraToken},
                      {"WHSEC", kWhsec},
                      {"SENTRY_SECRET", kSentrySecret}});
}

ActionDef DefFor(const std::string& kind) {
  if (kind == "slack") {
    return MakeDef(
        "ops", "slack",
        {{"webhook", Env("SLACK_URL")},
         {"channel", Str("#alerts")},
         {"link", Str("https://grafana.example.com/d/orders?service={{group.service}}")}});
  }
  if (kind == "pagerduty") return MakeDef("ops", "pagerduty", {{"routing_key", Env("PD_KEY")}});
  if (kind == "jira" || kind == "jira3") {
    ActionValue version;
    version.kind = ActionValue::Kind::kNumber;
    version.number = kind == "jira" ? 2 : 3;
    return MakeDef("ops", "jira",
                   {{"url", Str("https://acme.atlassian.net")},
                    {"project", Str("OPS")},
                    {"issue_type", Str("Bug")},
                    {"user", Str("oncall@example.com")},
                    {"token", Env("JIRA_TOKEN")},
                    {"api_version", version},
                    {"priority", Str("High")},
                    {"resolve_transition", Str("Done")}});
  }
  if (kind == "webhook") {
    return MakeDef("ops", "webhook",
                   {{"url", Str("https://incidents.example.com/hooks/klaxon")},
                    {"secret", Env("WHSEC")},
                    {"sentry_secret", Env("SENTRY_SECRET")},
                    {"project", Str("orders")}});
  }
  return MakeDef("ops", "log", {});
}

std::unique_ptr<Action> Make(const std::string& kind) {
  auto a =
      CreateAction(DefFor(kind), Resolver(), ActionOptions{"https://klaxon.example.com", nullptr});
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  return std::move(a).value();
}

std::string PreviewText(const Action& a, AlertState state) {
  auto reqs = PreviewRequests(a, SampleNotification(state), SampleRule(), kNow);
  REQUIRE(reqs.ok());
  std::string out;
  for (const HttpRequest& r : *reqs) out += FormatRequest(r) + "----\n";
  return out;
}

TEST_CASE("golden requests per kind and state") {
  for (const std::string kind : {"slack", "pagerduty", "jira", "jira3", "webhook", "log"}) {
    auto action = Make(kind);
    for (AlertState state : {AlertState::kFiring, AlertState::kRepeat, AlertState::kResolved}) {
      const std::string name = kind + "_" + AlertStateName(state) + ".txt";
      CAPTURE(name);
      const std::string text = PreviewText(*action, state);
      CHECK_MESSAGE(MatchesGolden(name, text), text);
    }
  }
}

TEST_CASE("Standard Webhooks published test vector") {
  auto sig = StandardWebhookSignature({"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
                                      "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                      R"({"test": 2432232314})");
  REQUIRE(sig.ok());
  CHECK(*sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  // Rotation: one signature per secret, space-separated, in order.
  auto two = StandardWebhookSignature(
      {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "raw-secret-bytes"},
      "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})");
  REQUIRE(two.ok());
  CHECK(two->starts_with("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,"));
  CHECK(!StandardWebhookSignature({"whsec_not*base64"}, "m", 1, "b").ok());
}

std::string IndependentHexHmac(const std::string& key, const std::string& body) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), out, &len);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < len; ++i) {
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s;
}

TEST_CASE("Sentry-Hook-Signature is hex HMAC-SHA256 of the exact body") {
  const std::string body = R"({"action":"triggered","data":{"event":{"event_id":"abc"}}})";
  CHECK(SentryHookSignature("my-client-secret", body) ==
        IndependentHexHmac("my-client-secret", body));
  // And on a real request: the signature covers exactly the bytes sent.
  auto action = Make("webhook");
  auto p = action->Prepare(SampleNotification(AlertState::kFiring), SampleRule());
  REQUIRE(p);
  auto reqs = action->Requests(*p, kNow, /*mask=*/false);
  REQUIRE(reqs.ok());
  const HttpRequest& r = reqs->front();
  std::string sentry_sig, std_sig, id, ts;
  for (const auto& [k, v] : r.headers) {
    if (k == "Sentry-Hook-Signature") sentry_sig = v;
    if (k == "webhook-signature") std_sig = v;
    if (k == "webhook-id") id = v;
    if (k == "webhook-timestamp") ts = v;
  }
  CHECK(sentry_sig == IndependentHexHmac(kSentrySecret, r.body));
  auto key = Base64Decode(kWhsec.substr(6));
  REQUIRE(key.ok());
  CHECK(std_sig == "v1," + Base64Encode(HmacSha256(*key, id + "." + ts + "." + r.body)));
  CHECK(id == p->idempotency_key);
  CHECK(ts == std::to_string(kNow / 1000));
}

TEST_CASE("sensitive event fields are scrubbed in every payload") {
  const std::vector<std::string> leaks = {"hunter2", "4111 1111 1111 1111", "sk_live_abc", "s3cret",
                                          "tok_123", "4242-4242-4242-4242", "abc.def"};
  for (const std::string kind : {"slack", "pagerduty", "jira", "jira3", "webhook", "log"}) {
    auto action = Make(kind);
    for (AlertState state : {AlertState::kFiring, AlertState::kResolved}) {
      auto p = action->Prepare(SampleNotification(state), SampleRule());
      REQUIRE(p);
      auto reqs = action->Requests(*p, kNow, false);
      REQUIRE(reqs.ok());
      for (const HttpRequest& r : *reqs) {
        for (const std::string& leak : leaks) {
          CAPTURE(kind);
          CAPTURE(leak);
          CHECK(r.body.find(leak) == std::string::npos);
        }
      }
    }
  }
  // The default webhook body keeps the tags, filtered.
  auto webhook = Make("webhook");
  auto p = webhook->Prepare(SampleNotification(AlertState::kFiring), SampleRule());
  json doc = json::parse(json::parse(p->payload)["body"].get<std::string>());
  CHECK(doc["tags"]["api_key"] == "[Filtered]");
  CHECK(doc["tags"]["service"] == "orders-api");
  CHECK(doc["message"] == "Query failed for card [Filtered]");
}

TEST_CASE("card numbers: Luhn-valid 13-19 digit runs only") {
  CHECK(ScrubCardNumbers("pay 4111111111111111 now") == "pay [Filtered] now");
  CHECK(ScrubCardNumbers("4111-1111-1111-1111") == "[Filtered]");
  CHECK(ScrubCardNumbers("order 4111111111111112") == "order 4111111111111112");    // not Luhn
  CHECK(ScrubCardNumbers("id 123456789012") == "id 123456789012");                  // 12 digits
  CHECK(ScrubCardNumbers("ts 17640417602501234567") == "ts 17640417602501234567");  // 20 digits
  CHECK(IsSensitiveKey("X-Auth-Token"));
  CHECK(IsSensitiveKey("DB_PASSWORD"));
  CHECK(!IsSensitiveKey("service"));
}

TEST_CASE("template placeholders over rule, measurement and event") {
  const Rule rule = SampleRule();
  Notification n = SampleNotification(AlertState::kFiring);
  RenderContext ctx(n, rule);
  CHECK(ctx.Get("count") == "12");
  CHECK(ctx.Get("threshold") == "5");
  CHECK(ctx.Get("window") == "1m");
  CHECK(ctx.Get("rule.name") == "orders-db-errors");
  CHECK(ctx.Get("rule.severity") == "critical");
  CHECK(ctx.Get("group.service") == "orders-api");
  CHECK(ctx.Get("labels.team") == "payments");
  CHECK(ctx.Get("event.event_id") == "9f1c2b3a4d5e6f708192a3b4c5d6e7f8");
  CHECK(ctx.Get("event.culprit") == "orders.db in save");
  CHECK(ctx.Get("event.tags.service") == "orders-api");
  // Sentry lists chained exceptions cause first: the last one is the outermost.
  CHECK(ctx.Get("event.exception.type") == "DatabaseError");
  CHECK(ctx.Get("event.exception.values.0.type") == "ConnectionResetError");
  CHECK(ctx.Get("event.user.password") == "[Filtered]");
  CHECK(!ctx.Get("event.nope").has_value());
  CHECK(!ctx.Get("group.nope").has_value());
  CHECK(ctx.Summary() == "12 DatabaseErrors in 1m on orders-api");
  // Tags as an object work the same way.
  n.event_json = R"({"tags":{"service":"billing","token":"t"}})";
  RenderContext obj(n, rule);
  CHECK(obj.Get("event.tags.service") == "billing");
  CHECK(obj.Get("event.tags.token") == "[Filtered]");
  CHECK(obj.Get("event.exception.type") == std::nullopt);
  // Sentry's title: the main (last) exception's type and value, else the message.
  CHECK(ctx.Get("event.title") == "DatabaseError: " + *ctx.Get("event.exception.value"));
  n.event_json = R"({"exception":[{"type":"*errors.errorString","value":"boom\nmore"}]})";
  CHECK(RenderContext(n, rule).Get("event.title") == "*errors.errorString: boom");
  n.event_json = R"({"logentry":{"message":"order %s failed","formatted":"order 7 failed"}})";
  CHECK(RenderContext(n, rule).Get("event.title") == "order 7 failed");
  n.event_json = R"({"title":"as sent"})";
  CHECK(RenderContext(n, rule).Get("event.title") == "as sent");
  // Unparsable event JSON renders missing placeholders as empty, never crashes.
  n.event_json = "{not json";
  RenderContext bad(n, rule);
  CHECK(!bad.Get("event.event_id").has_value());
}

TEST_CASE("slack respects Block Kit limits") {
  Rule rule = SampleRule();
  rule.summary = std::string(400, 'x') + "{{group.service}}";
  rule.description = std::string(5000, 'y');
  for (int i = 0; i < 12; ++i) {
    FieldRef f;
    f.name = "f" + std::to_string(i);
    rule.group_by.push_back(f);
  }
  Notification n = SampleNotification(AlertState::kFiring);
  for (int i = 0; i < 12; ++i) n.group.push_back(std::string(3000, 'z'));
  auto action = Make("slack");
  auto p = action->Prepare(n, rule);
  REQUIRE(p);
  json msg = json::parse(p->payload);
  REQUIRE(msg["blocks"].is_array());
  CHECK(msg["blocks"].size() <= 50);
  bool saw_fields = false;
  for (const json& b : msg["blocks"]) {
    if (b["type"] == "header") {
      CHECK(b["text"]["type"] == "plain_text");
      CHECK(b["text"]["text"].get<std::string>().size() <= 150 + 2);  // "…" is 3 bytes
    }
    if (b["type"] == "section" && b.contains("text")) {
      CHECK(b["text"]["text"].get<std::string>().size() <= 3000 + 2);
    }
    if (b["type"] == "section" && b.contains("fields")) {
      saw_fields = true;
      CHECK(b["fields"].size() <= 10);
      for (const json& f : b["fields"]) CHECK(f["text"].get<std::string>().size() <= 2000 + 2);
    }
  }
  CHECK(saw_fields);
  CHECK(msg["text"].is_string());
  // Resolved messages are distinguishable.
  auto resolved = action->Prepare(SampleNotification(AlertState::kResolved), SampleRule());
  CHECK(json::parse(resolved->payload)["text"].get<std::string>().find("RESOLVED") !=
        std::string::npos);
}

TEST_CASE("pagerduty: one dedup_key per episode, severity mapped, resolve carries it") {
  auto action = Make("pagerduty");
  std::string keys[3];
  int i = 0;
  for (AlertState s : {AlertState::kFiring, AlertState::kRepeat, AlertState::kResolved}) {
    auto p = action->Prepare(SampleNotification(s), SampleRule());
    REQUIRE(p);
    json body = json::parse(p->payload);
    keys[i++] = body["dedup_key"];
    CHECK(body["event_action"] == (s == AlertState::kResolved ? "resolve" : "trigger"));
    CHECK(p->order_key == body["dedup_key"]);
  }
  CHECK(keys[0] == keys[1]);
  CHECK(keys[1] == keys[2]);
  Rule rule = SampleRule();
  for (auto [sev, name] : {std::pair{Severity::kCritical, "critical"},
                           {Severity::kError, "error"},
                           {Severity::kWarning, "warning"},
                           {Severity::kInfo, "info"}}) {
    rule.severity = sev;
    rule.summary = std::string(2000, 's');
    auto p = action->Prepare(SampleNotification(AlertState::kFiring), rule);
    json body = json::parse(p->payload);
    CHECK(body["payload"]["severity"] == name);
    CHECK(body["payload"]["summary"].get<std::string>().size() <= 1024 + 2);
  }
  // Another group is another incident.
  Notification other = SampleNotification(AlertState::kFiring);
  other.group = {std::string("billing")};
  CHECK(json::parse(action->Prepare(other, SampleRule())->payload)["dedup_key"] != keys[0]);
}

TEST_CASE("idempotency keys are stable per notification and distinct across notifications") {
  const Notification a = SampleNotification(AlertState::kFiring);
  CHECK(IdempotencyKey(a) == IdempotencyKey(SampleNotification(AlertState::kFiring)));
  CHECK(IdempotencyKey(a) != IdempotencyKey(SampleNotification(AlertState::kRepeat)));
  CHECK(IdempotencyKey(SampleNotification(AlertState::kRepeat)) !=
        IdempotencyKey(SampleNotification(AlertState::kResolved)));
  Notification later = a;
  later.episode_start_ms += 1;
  CHECK(IdempotencyKey(a) != IdempotencyKey(later));
  Notification missing = a;
  missing.group = {std::nullopt};
  Notification empty = a;
  empty.group = {std::string("")};
  CHECK(IdempotencyKey(missing) != IdempotencyKey(empty));
}

TEST_CASE("idempotency keys of one-shot notifications tell events of one millisecond apart") {
  // Two new issues of a `new(issue)` rule without group by, in the same millisecond: two
  // notifications, two keys (one key made the outbox keep one and drop the other).
  Notification a = SampleNotification(AlertState::kFiring);
  a.one_shot = true;
  a.event_json = R"({"timestamp":1,"message":"first"})";
  Notification b = a;
  b.event_json = R"({"timestamp":1,"message":"second"})";
  CHECK(IdempotencyKey(a) != IdempotencyKey(b));
  CHECK(IdempotencyKey(a) == IdempotencyKey(Notification(a)));  // a redelivered event: same key
  // Rules with episodes keep their key whatever event triggered them.
  a.one_shot = b.one_shot = false;
  CHECK(IdempotencyKey(a) == IdempotencyKey(b));
}

TEST_CASE("secrets never appear in previews, Describe() or errors") {
  const std::vector<std::string> secrets = {kSlackUrl, "SlackSecretXyz123", kRoutingKey, kJiraToken,
                                            kWhsec,    kSentrySecret};
  for (const std::string kind : {"slack", "pagerduty", "jira", "webhook"}) {
    auto action = Make(kind);
    std::string seen = action->Describe();
    for (AlertState s : {AlertState::kFiring, AlertState::kResolved})
      seen += PreviewText(*action, s);
    for (const std::string& secret : secrets) {
      CAPTURE(kind);
      CHECK(seen.find(secret) == std::string::npos);
    }
    const std::string redacted = action->Redact("oops " + kSlackUrl + " " + kRoutingKey + " " +
                                                kJiraToken + " " + kSentrySecret);
    CHECK(redacted.find("***") != std::string::npos);
    if (kind == "slack") CHECK(redacted.find(kSlackUrl) == std::string::npos);
    if (kind == "pagerduty") CHECK(redacted.find(kRoutingKey) == std::string::npos);
    if (kind == "jira") CHECK(redacted.find(kJiraToken) == std::string::npos);
    if (kind == "webhook") CHECK(redacted.find(kSentrySecret) == std::string::npos);
  }
  CHECK(Make("slack")->Describe() == "slack ops -> https://hooks.slack.com/services/***");
  CHECK(MaskUrl("https://example.com/tok") == "https://example.com/***");
  CHECK(MaskUrl("https://u:p@example.com/a/b") == "https://***@example.com/***");
}

TEST_CASE("CreateAction validates arguments with positions") {
  ActionDef literal =
      MakeDef("s", "slack", {{"webhook", Str("https://hooks.slack.com/services/x")}});
  literal.args[0].value.pos = {"r.rules", 3, 14};
  auto a = CreateAction(literal, Resolver(), {});
  REQUIRE(!a.ok());
  CHECK(a.status().message() == "r.rules:3:14: secret `webhook` must not be written as a literal");
  auto unset = CreateAction(MakeDef("s", "slack", {{"webhook", Env("NOPE")}}), Resolver(), {});
  REQUIRE(!unset.ok());
  CHECK(unset.status().message().find("NOPE is not set") != std::string::npos);
  auto kind = CreateAction(MakeDef("s", "slak", {}), Resolver(), {});
  REQUIRE(!kind.ok());
  CHECK(kind.status().message().find("unknown action kind `slak`") != std::string::npos);
  CHECK(BuiltinActionKinds().size() == 5);
}

}  // namespace
}  // namespace klaxon::actions

namespace klaxon::actions {
namespace {

// Scale-out sends a rule's owner only the event id unless ActionReadsEvent says a payload reads
// more (actions/event_use.h): a payload that starts reading an event field must say so there.
TEST_CASE("Payloads that do not read the event beyond its id render alike from the id alone") {
  Rule rule = SampleRule();
  rule.description = "Runbook: https://runbooks.example.com/{{group.service}}";
  REQUIRE_FALSE(TemplateReadsEvent(rule.summary));
  REQUIRE_FALSE(TemplateReadsEvent(rule.description));
  Notification whole = SampleNotification(AlertState::kFiring);
  const json event = json::parse(whole.event_json);
  REQUIRE(event.contains("event_id"));
  Notification id_only = whole;
  id_only.event_json = json{{"event_id", event["event_id"]}}.dump();
  for (const std::string kind : {"slack", "pagerduty", "jira", "jira3", "webhook", "log"}) {
    CAPTURE(kind);
    auto action = Make(kind);
    auto render = [&](const Notification& n) {
      auto reqs = PreviewRequests(*action, n, rule, kNow);
      REQUIRE(reqs.ok());
      std::string out;
      for (const HttpRequest& r : *reqs) out += FormatRequest(r) + "----\n";
      return out;
    };
    const bool reads = ActionReadsEvent(DefFor(kind));
    CHECK((render(whole) == render(id_only)) == !reads);
  }
}

}  // namespace
}  // namespace klaxon::actions
