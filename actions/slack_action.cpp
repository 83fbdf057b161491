// slack: incoming-webhook POST with Block Kit blocks and a plain-text fallback.
#include <nlohmann/json.hpp>

#include "actions/action_args.h"
#include "actions/render.h"
#include "actions/signing.h"

namespace klaxon::actions {
namespace {

using nlohmann::json;

constexpr size_t kHeaderMax = 150;
constexpr size_t kSectionMax = 3000;
constexpr size_t kFieldMax = 2000;
constexpr size_t kMaxFields = 10;
constexpr size_t kMaxBlocks = 50;
constexpr size_t kDigestLines = 10;

const char* StatePrefix(AlertState s) {
  switch (s) {
    case AlertState::kFiring:
      return ":rotating_light: FIRING";
    case AlertState::kRepeat:
      return ":repeat: STILL FIRING";
    case AlertState::kResolved:
      return ":white_check_mark: RESOLVED";
  }
  return "FIRING";
}

json Mrkdwn(const std::string& text) { return {{"type", "mrkdwn"}, {"text", text}}; }

class SlackAction final : public Action {
 public:
  SlackAction(const ActionDef& def, const ActionArgs& args) : Action(def.name, "slack") {
    for (const std::string& s : args.secrets()) AddSecret(s);
    webhook_ = args.String("webhook");
    channel_ = args.String("channel");
    username_ = args.String("username");
    icon_emoji_ = args.String("icon_emoji");
    title_ = args.Tmpl("title");
    text_ = args.Tmpl("text");
    link_ = args.Tmpl("link");
    send_resolved_ = args.Bool("send_resolved", true);
    min_interval_ms_ = args.DurationMs("rate_limit", 1000);
    timeout_ms_ = args.DurationMs("timeout", 15000);
    target_ = MaskUrl(webhook_);
  }

  std::optional<Prepared> Prepare(const Notification& n, const Rule& rule) const override {
    if (n.state == AlertState::kResolved && !send_resolved_) return std::nullopt;
    const RenderContext ctx(n, rule);
    const std::string summary = title_.empty() ? ctx.Summary() : ctx.Render(title_);
    const std::string header = std::string(StatePrefix(n.state)) + ": " + summary;
    std::string body = text_.empty() ? ctx.Description() : ctx.Render(text_);

    json blocks = json::array();
    blocks.push_back(
        {{"type", "header"},
         {"text",
          {{"type", "plain_text"}, {"text", TruncateChars(header, kHeaderMax)}, {"emoji", true}}}});
    if (!body.empty()) {
      blocks.push_back({{"type", "section"}, {"text", Mrkdwn(TruncateChars(body, kSectionMax))}});
    }
    json fields = json::array();
    auto add_field = [&](const std::string& label, const std::string& value) {
      if (fields.size() >= kMaxFields) return;
      fields.push_back(Mrkdwn(TruncateChars("*" + label + "*\n" + value, kFieldMax)));
    };
    for (const auto& [k, v] : ctx.group()) add_field(k, v.empty() ? "(none)" : v);
    if (HasEpisodes(rule.condition)) {
      add_field("Value", FormatNumber(n.value));
      add_field("Threshold", ctx.ConditionText());
      add_field("Window", FormatWindow(n.window_ms));
    }
    if (auto type = ctx.Get("event.exception.type"); type && !type->empty()) {
      add_field("Exception", *type);
    }
    if (!fields.empty()) blocks.push_back({{"type", "section"}, {"fields", fields}});
    std::string context = "Rule *" + ctx.Get("rule.name").value_or("") + "* | severity " +
                          SeverityName(rule.severity) + " | " + AlertStateName(n.state) + " | " +
                          FormatIso8601(n.at_ms);
    if (auto id = ctx.Get("event.event_id"); id && !id->empty()) context += " | event " + *id;
    blocks.push_back({{"type", "context"},
                      {"elements", json::array({Mrkdwn(TruncateChars(context, kFieldMax))})}});
    if (!link_.empty()) {
      const std::string url = ctx.Render(link_);
      if (!url.empty()) {
        blocks.push_back(
            {{"type", "actions"},
             {"elements", json::array({{{"type", "button"},
                                        {"text", {{"type", "plain_text"}, {"text", "Open"}}},
                                        {"url", TruncateChars(url, 3000)}}})}});
      }
    }
    json msg = {{"text", TruncateChars(
                             header + (ctx.GroupText().empty() ? "" : " (" + ctx.GroupText() + ")"),
                             kSectionMax)},
                {"blocks", blocks}};
    AddRouting(msg);
    return Prepared{name_, IdempotencyKey(n), AlertOrderKey(n, rule), AlertStateName(n.state),
                    DumpJson(msg)};
  }

  Result<std::vector<HttpRequest>> Requests(const Prepared& p, int64_t /*now_ms*/,
                                            bool mask) const override {
    HttpRequest r;
    r.method = "POST";
    r.url = mask ? target_ : webhook_;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = p.payload;
    r.timeout_ms = timeout_ms_;
    return std::vector<HttpRequest>{std::move(r)};
  }

  Batch Select(std::span<const Prepared* const> due, bool over_limit) const override {
    if (!over_limit || due.size() < 2) return Action::Select(due, over_limit);
    Batch b;
    std::string lines;
    std::string keys;
    size_t firing = 0;
    size_t resolved = 0;
    for (size_t i = 0; i < due.size(); ++i) {
      b.members.push_back(i);
      keys += due[i]->idempotency_key;
      (due[i]->state == "resolved" ? resolved : firing)++;
      if (i < kDigestLines) {
        auto m = json::parse(due[i]->payload, nullptr, false);
        std::string text = m.is_object() && m.contains("text") && m["text"].is_string()
                               ? m["text"].get<std::string>()
                               : due[i]->state;
        lines += "- " + TruncateChars(text, 280) + "\n";
      }
    }
    if (due.size() > kDigestLines) {
      lines += "_and " + std::to_string(due.size() - kDigestLines) + " more_\n";
    }
    const std::string title = ":bell: " + std::to_string(due.size()) +
                              " notifications (rate limited): " + std::to_string(firing) +
                              " firing, " + std::to_string(resolved) + " resolved";
    json msg = {{"text", title},
                {"blocks", json::array({{{"type", "header"},
                                         {"text",
                                          {{"type", "plain_text"},
                                           {"text", TruncateChars(title, kHeaderMax)},
                                           {"emoji", true}}}},
                                        {{"type", "section"},
                                         {"text", Mrkdwn(TruncateChars(lines, kSectionMax))}}})}};
    AddRouting(msg);
    b.send = Prepared{name_, Sha256Hex(keys).substr(0, 32), "", "digest", DumpJson(msg)};
    static_assert(kMaxBlocks >= 5);
    return b;
  }

 private:
  void AddRouting(json& msg) const {
    if (!channel_.empty()) msg["channel"] = channel_;
    if (!username_.empty()) msg["username"] = username_;
    if (!icon_emoji_.empty()) msg["icon_emoji"] = icon_emoji_;
  }

  std::string webhook_;
  std::string channel_;
  std::string username_;
  std::string icon_emoji_;
  Template title_;
  Template text_;
  Template link_;
  int64_t timeout_ms_ = 15000;
};

}  // namespace

Result<std::unique_ptr<Action>> CreateSlackAction(const ActionDef& def,
                                                  const SecretResolver& secrets,
                                                  const ActionOptions& /*options*/) {
  auto args = ActionArgs::Resolve(def, secrets);
  if (!args.ok()) return args.status();
  // A literal webhook URL was checked by ValidateActionDef (CreateAction). One read from
  // env(...)/file(...) is checked when sent (a bad one is a logged, final bad_url failure) so
  // that previews can stand in placeholder secrets.
  return std::unique_ptr<Action>(new SlackAction(def, *args));
}

}  // namespace klaxon::actions
