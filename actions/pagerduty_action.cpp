// pagerduty: Events API v2. trigger on firing/repeat, resolve on resolved, one dedup_key per
// (rule, group) so the whole episode is one incident.
#include <nlohmann/json.hpp>

#include "actions/action_args.h"
#include "actions/action_schema.h"
#include "actions/render.h"

namespace klaxon::actions {
namespace {

using nlohmann::json;

constexpr size_t kSummaryMax = 1024;

class PagerDutyAction final : public Action {
 public:
  PagerDutyAction(const ActionDef& def, const ActionArgs& args, const ActionOptions& options)
      : Action(def.name, "pagerduty") {
    for (const std::string& s : args.secrets()) AddSecret(s);
    routing_key_ = args.String("routing_key");
    url_ = args.String("url", "https://events.pagerduty.com/v2/enqueue");
    url_secret_ = args.IsSecret("url");
    severity_ = args.String("severity");
    source_ = args.Tmpl("source");
    component_ = args.Tmpl("component");
    group_ = args.Tmpl("group");
    class_ = args.Tmpl("class");
    client_ = args.String("client", "Klaxon");
    client_url_ = args.String("client_url", options.klaxon_url);
    send_resolved_ = args.Bool("send_resolved", true);
    min_interval_ms_ = args.DurationMs("rate_limit", 500);
    timeout_ms_ = args.DurationMs("timeout", 15000);
    target_ = url_secret_ ? MaskUrl(url_) : url_;
  }

  std::optional<Prepared> Prepare(const Notification& n, const Rule& rule) const override {
    if (n.state == AlertState::kResolved && !send_resolved_) return std::nullopt;
    const RenderContext ctx(n, rule);
    const std::string dedup_key = "klaxon-" + EpisodeKey(ctx.Get("rule.id").value_or(""), n.group);
    json body;
    body["dedup_key"] = dedup_key;
    if (n.state == AlertState::kResolved) {
      body["event_action"] = "resolve";
    } else {
      body["event_action"] = "trigger";
      json payload;
      payload["summary"] = TruncateChars(ctx.Summary(), kSummaryMax);
      payload["source"] = source_.empty() ? std::string("klaxon") : ctx.Render(source_);
      payload["severity"] =
          severity_.empty() ? std::string(SeverityName(rule.severity)) : severity_;
      payload["timestamp"] = FormatIso8601(n.at_ms);
      if (!component_.empty()) payload["component"] = ctx.Render(component_);
      if (!group_.empty()) payload["group"] = ctx.Render(group_);
      if (!class_.empty()) payload["class"] = ctx.Render(class_);
      json group = json::object();
      for (const auto& [k, v] : ctx.group()) group[k] = v;
      json details = {{"rule", ctx.Get("rule.name").value_or("")},
                      {"state", AlertStateName(n.state)},
                      {"value", n.value},
                      {"threshold", ctx.ConditionText()},
                      {"window", FormatWindow(n.window_ms)},
                      {"group", group},
                      {"timestamp", FormatIso8601(n.at_ms)},
                      {"episode_start", FormatIso8601(n.episode_start_ms)}};
      if (n.repeat_index > 0) details["repeat"] = n.repeat_index;
      if (auto id = ctx.Get("event.event_id"); id && !id->empty()) details["event_id"] = *id;
      if (auto d = ctx.Description(); !d.empty()) details["description"] = d;
      for (const auto& [k, v] : rule.labels) details["labels"][k] = v;
      payload["custom_details"] = details;
      body["payload"] = payload;
      body["client"] = client_;
      if (!client_url_.empty()) body["client_url"] = client_url_;
    }
    return Prepared{name_, IdempotencyKey(n), dedup_key, AlertStateName(n.state), DumpJson(body)};
  }

  Result<std::vector<HttpRequest>> Requests(const Prepared& p, int64_t /*now_ms*/,
                                            bool mask) const override {
    json body = json::parse(p.payload, nullptr, false);
    if (!body.is_object()) return Status::Internal("stored pagerduty payload is not JSON");
    body["routing_key"] = mask ? std::string("***") : routing_key_;
    HttpRequest r;
    r.method = "POST";
    r.url = mask ? target_ : url_;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = DumpJson(body);
    r.timeout_ms = timeout_ms_;
    return std::vector<HttpRequest>{std::move(r)};
  }

  // Never merges different dedup_keys (each is its own incident, and a digest incident could
  // never be resolved). Over the limit, consecutive triggers of one dedup_key collapse into the
  // latest (PagerDuty would fold them into the same incident anyway); a resolve is never
  // merged or dropped, and the dispatcher keeps each dedup_key's events in order.
  Batch Select(std::span<const Prepared* const> due, bool over_limit) const override {
    Batch b{{0}, *due[0]};
    if (!over_limit || due[0]->state == "resolved") return b;
    for (size_t i = 1; i < due.size(); ++i) {
      if (due[i]->order_key != due[0]->order_key) continue;
      if (due[i]->state == "resolved") break;
      b.members.push_back(i);
      b.send = *due[i];
    }
    return b;
  }

 private:
  std::string routing_key_;
  std::string url_;
  bool url_secret_ = false;
  std::string severity_;
  Template source_, component_, group_, class_;
  std::string client_;
  std::string client_url_;
  int64_t timeout_ms_ = 15000;
};

}  // namespace

Result<std::unique_ptr<Action>> CreatePagerDutyAction(const ActionDef& def,
                                                      const SecretResolver& secrets,
                                                      const ActionOptions& options) {
  auto args = ActionArgs::Resolve(def, secrets);
  if (!args.ok()) return args.status();
  const std::string sev = args->String("severity");
  // A literal severity was checked by ValidateActionDef; this catches one read from env(...).
  if (!sev.empty() && !IsPagerDutySeverity(sev)) {
    return Status::InvalidArgument("pagerduty action `" + def.name +
                                   "`: severity must be critical, error, warning or info");
  }
  if (args->String("routing_key").empty()) {
    return Status::InvalidArgument("pagerduty action `" + def.name + "`: routing_key is empty");
  }
  return std::unique_ptr<Action>(new PagerDutyAction(def, *args, options));
}

}  // namespace klaxon::actions
