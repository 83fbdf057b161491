// webhook: JSON POST to any URL, signed the Standard Webhooks way and optionally Sentry's way.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "actions/action_args.h"
#include "actions/action_schema.h"
#include "actions/render.h"
#include "actions/signing.h"

namespace klaxon::actions {
namespace {

using nlohmann::json;

constexpr size_t kDigestItems = 20;
// What previews show for signatures (see Requests): obviously not a signature.
constexpr std::string_view kSignaturePlaceholder = "v1,<signature computed at delivery>";
constexpr std::string_view kSentrySignaturePlaceholder = "<signature computed at delivery>";

class WebhookAction final : public Action {
 public:
  WebhookAction(const ActionDef& def, const ActionArgs& args, const ActionOptions& options)
      : Action(def.name, "webhook") {
    for (const std::string& s : args.secrets()) AddSecret(s);
    url_ = args.String("url");
    url_secret_ = args.IsSecret("url");
    secrets_ = args.Strings("secret");
    sentry_secret_ = args.String("sentry_secret");
    project_ = args.String("project");
    body_ = args.Tmpl("body");
    for (const std::string& h : args.Strings("headers")) {
      const size_t colon = h.find(':');
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      headers_.emplace_back(h.substr(0, colon), value);
    }
    headers_secret_ = args.IsSecret("headers");
    const std::vector<std::string>& secret_values = args.secrets();
    for (const std::string& h : args.Strings("headers")) {
      if (std::find(secret_values.begin(), secret_values.end(), h) != secret_values.end()) {
        AddHeaderSecret(h);
      }
    }
    send_resolved_ = args.Bool("send_resolved", true);
    min_interval_ms_ = args.DurationMs("rate_limit", 0);
    timeout_ms_ = args.DurationMs("timeout", 15000);
    klaxon_url_ = options.klaxon_url;
    target_ = url_secret_ ? MaskUrl(url_) : url_;
  }

  std::optional<Prepared> Prepare(const Notification& n, const Rule& rule) const override {
    if (n.state == AlertState::kResolved && !send_resolved_) return std::nullopt;
    const RenderContext ctx(n, rule);
    std::string body;
    if (!body_.empty()) {
      body = ctx.Render(body_);
    } else {
      body = DumpJson(DefaultBody(ctx));
    }
    json doc = {{"body", body},
                {"resource", rule.condition.window_ms > 0 ? "metric_alert" : "event_alert"}};
    return Prepared{name_, IdempotencyKey(n), AlertOrderKey(n, rule), AlertStateName(n.state),
                    DumpJson(doc)};
  }

  Result<std::vector<HttpRequest>> Requests(const Prepared& p, int64_t now_ms,
                                            bool mask) const override {
    json doc = json::parse(p.payload, nullptr, false);
    if (!doc.is_object() || !doc.contains("body") || !doc["body"].is_string()) {
      return Status::Internal("stored webhook payload is malformed");
    }
    HttpRequest r;
    r.method = "POST";
    r.url = mask ? target_ : url_;
    r.body = doc["body"].get<std::string>();
    r.timeout_ms = timeout_ms_;
    const int64_t ts = now_ms / 1000;
    r.headers = {{"Content-Type", "application/json"},
                 {"webhook-id", p.idempotency_key},
                 {"webhook-timestamp", std::to_string(ts)}};
    // Previews (mask) show a placeholder, never a signature: they are made with stand-in
    // secrets (replay needs none), and a real-looking value from one would mislead whoever
    // compares it with what their receiver computes.
    if (!secrets_.empty()) {
      auto sig = StandardWebhookSignature(secrets_, p.idempotency_key, ts, r.body);
      if (!sig.ok())
        return Status::InvalidArgument("webhook action `" + name_ + "`: " + sig.status().message());
      std::string shown;
      for (size_t i = 0; mask && i < secrets_.size(); ++i) {
        shown += (i == 0 ? "" : " ") + std::string(kSignaturePlaceholder);
      }
      r.headers.emplace_back("webhook-signature", mask ? shown : *sig);
    }
    if (!sentry_secret_.empty()) {
      r.headers.emplace_back("Sentry-Hook-Resource", doc.value("resource", "event_alert"));
      r.headers.emplace_back("Sentry-Hook-Timestamp", std::to_string(ts));
      r.headers.emplace_back("Request-ID", p.idempotency_key);
      r.headers.emplace_back("Sentry-Hook-Signature",
                             mask ? std::string(kSentrySignaturePlaceholder)
                                  : SentryHookSignature(sentry_secret_, r.body));
    }
    for (const auto& [k, v] : headers_) {
      r.headers.emplace_back(k, mask && headers_secret_ ? std::string("***") : v);
    }
    return std::vector<HttpRequest>{std::move(r)};
  }

  Batch Select(std::span<const Prepared* const> due, bool over_limit) const override {
    if (!over_limit || due.size() < 2) return Action::Select(due, over_limit);
    Batch b;
    std::string keys;
    json items = json::array();
    for (size_t i = 0; i < due.size(); ++i) {
      b.members.push_back(i);
      keys += due[i]->idempotency_key;
      if (i < kDigestItems) {
        json doc = json::parse(due[i]->payload, nullptr, false);
        const std::string body = doc.is_object() ? doc.value("body", "") : "";
        json parsed = json::parse(body, nullptr, false);
        items.push_back(parsed.is_discarded() ? json(body) : parsed);
      }
    }
    json digest = {{"type", "digest"},
                   {"count", due.size()},
                   {"notifications", items},
                   {"more", due.size() > kDigestItems ? due.size() - kDigestItems : 0},
                   {"text", due.size() > kDigestItems
                                ? "and " + std::to_string(due.size() - kDigestItems) + " more"
                                : ""}};
    json doc = {{"body", DumpJson(digest)}, {"resource", "event_alert"}};
    b.send = Prepared{name_, Sha256Hex(keys).substr(0, 32), "", "digest", DumpJson(doc)};
    return b;
  }

 private:
  json DefaultBody(const RenderContext& ctx) const {
    const Notification& n = ctx.notification();
    const json& e = ctx.event();
    auto field = [&](const char* key) -> json {
      if (!e.is_object()) return nullptr;
      auto it = e.find(key);
      return it == e.end() ? json(nullptr) : *it;
    };
    json group = json::object();
    for (const auto& [k, v] : ctx.group()) group[k] = v;
    json links = json::array();
    if (!klaxon_url_.empty()) {
      links.push_back({{"href", klaxon_url_ + "/rules/" + ctx.Get("rule.name").value_or("")},
                       {"text", "Rule in Klaxon"}});
    }
    json message = field("message");
    if (message.is_null()) {
      if (auto v = ctx.Get("event.exception.value")) message = *v;
    }
    return {{"event_id", field("event_id")},
            {"project", project_.empty() ? json(nullptr) : json(project_)},
            {"message", message},
            {"culprit", field("culprit")},
            {"tags", ctx.Tags()},
            {"rule",
             {{"name", ctx.Get("rule.name").value_or("")},
              {"id", ctx.Get("rule.id").value_or("")},
              {"severity", SeverityName(ctx.rule().severity)},
              {"summary", ctx.Summary()}}},
            {"state", AlertStateName(n.state)},
            {"group", group},
            {"value", n.value},
            {"threshold", n.threshold},
            {"window", FormatWindow(n.window_ms)},
            {"at", FormatIso8601(n.at_ms)},
            {"episode_start", FormatIso8601(n.episode_start_ms)},
            {"links", links}};
  }

  std::string url_;
  bool url_secret_ = false;
  std::vector<std::string> secrets_;
  std::string sentry_secret_;
  std::string project_;
  Template body_;
  Headers headers_;
  bool headers_secret_ = false;
  int64_t timeout_ms_ = 15000;
  std::string klaxon_url_;
};

}  // namespace

Result<std::unique_ptr<Action>> CreateWebhookAction(const ActionDef& def,
                                                    const SecretResolver& secrets,
                                                    const ActionOptions& options) {
  auto args = ActionArgs::Resolve(def, secrets);
  if (!args.ok()) return args.status();
  // A literal url and literal headers were checked by ValidateActionDef (CreateAction). A URL
  // read from env(...)/file(...) is checked when sent (a bad one is a logged, final bad_url
  // failure) so that previews can stand in placeholder secrets; headers read that way here.
  for (const std::string& h : args->Strings("headers")) {
    if (!IsHeaderLine(h)) {
      return Status::InvalidArgument("webhook action `" + def.name +
                                     "`: each header must read \"Name: value\"");
    }
    if (std::string problem = ReservedHeaderProblem(h); !problem.empty()) {
      return Status::InvalidArgument("webhook action `" + def.name + "`: " + problem);
    }
  }
  for (const std::string& s : args->Strings("secret")) {
    if (s.starts_with("whsec_") && !Base64Decode(std::string_view(s).substr(6)).ok()) {
      return Status::InvalidArgument("webhook action `" + def.name +
                                     "`: a secret starts with whsec_ but is not valid base64");
    }
  }
  return std::unique_ptr<Action>(new WebhookAction(def, *args, options));
}

}  // namespace klaxon::actions
