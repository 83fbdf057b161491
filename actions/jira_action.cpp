// jira: one issue per alert episode, found again through its `klaxon-<hash>` label (as
// Alertmanager does) so a retry or a repeat comments instead of opening a duplicate.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "actions/action_args.h"
#include "actions/render.h"
#include "actions/signing.h"

namespace klaxon::actions {
namespace {

using nlohmann::json;

// Jira's answers are parsed (search results, transitions), not only logged: keep more of them.
constexpr size_t kMaxJiraResponse = 256 * 1024;

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string JqlQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// Atlassian Document Format: one paragraph per line.
json Adf(const std::string& text) {
  json content = json::array();
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(start, nl - start);
    json para = {{"type", "paragraph"}, {"content", json::array()}};
    if (!line.empty()) para["content"].push_back({{"type", "text"}, {"text", line}});
    content.push_back(para);
    start = nl + 1;
  }
  return {{"type", "doc"}, {"version", 1}, {"content", content}};
}

class JiraAction final : public Action {
 public:
  JiraAction(const ActionDef& def, const ActionArgs& args) : Action(def.name, "jira") {
    for (const std::string& s : args.secrets()) AddSecret(s);
    base_ = args.String("url");
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
    base_secret_ = args.IsSecret("url");
    project_ = args.String("project");
    issue_type_ = args.String("issue_type");
    user_ = args.String("user");
    token_ = args.String("token");
    api_version_ = static_cast<int>(args.Number("api_version", 2));
    priority_ = args.String("priority");
    labels_ = args.Strings("labels");
    summary_ = args.Tmpl("summary");
    description_ = args.Tmpl("description");
    transition_ = args.String("resolve_transition");
    send_resolved_ = args.Bool("send_resolved", true);
    min_interval_ms_ = args.DurationMs("rate_limit", 0);
    timeout_ms_ = args.DurationMs("timeout", 15000);
    target_ = base_secret_ ? MaskUrl(base_) : base_;
    // The Authorization value is derived from the token: an echoed header must be masked too.
    if (!user_.empty()) AddSecret(Base64Encode(user_ + ":" + token_));
  }

  std::optional<Prepared> Prepare(const Notification& n, const Rule& rule) const override {
    if (n.state == AlertState::kResolved && !send_resolved_) return std::nullopt;
    const RenderContext ctx(n, rule);
    const std::string label =
        "klaxon-" + EpisodeKey(ctx.Get("rule.id").value_or(""), n.group).substr(0, 16);
    const std::string summary = summary_.empty() ? ctx.Summary() : ctx.Render(summary_);
    std::string text = description_.empty() ? ctx.Description() : ctx.Render(description_);
    std::string facts;
    facts += "Rule: " + ctx.Get("rule.name").value_or("") + " (severity " +
             SeverityName(rule.severity) + ")\n";
    facts +=
        "State: " + std::string(AlertStateName(n.state)) + " at " + FormatIso8601(n.at_ms) + "\n";
    if (n.window_ms > 0)
      facts += "Value: " + FormatNumber(n.value) + " (" + ctx.ConditionText() + ")\n";
    if (!ctx.GroupText().empty()) facts += "Group: " + ctx.GroupText() + "\n";
    if (auto id = ctx.Get("event.event_id"); id && !id->empty()) facts += "Event: " + *id + "\n";
    json description;
    if (api_version_ == 3) {
      description = Adf((text.empty() ? "" : text + "\n\n") + facts);
    } else {
      std::string wiki = text.empty() ? "" : text + "\n\n";
      // Wiki markup: bold the fact names.
      size_t start = 0;
      while (start < facts.size()) {
        size_t nl = facts.find('\n', start);
        std::string line = facts.substr(start, nl - start);
        size_t colon = line.find(':');
        wiki += "*" + line.substr(0, colon + 1) + "*" + line.substr(colon + 1) + "\n";
        start = nl + 1;
      }
      description = wiki;
    }
    json labels = json::array({label});
    for (const std::string& l : labels_) labels.push_back(l);
    json fields = {{"project", {{"key", project_}}},
                   {"issuetype", {{"name", issue_type_}}},
                   {"summary", TruncateChars(summary, 255)},
                   {"description", description},
                   {"labels", labels}};
    if (!priority_.empty()) fields["priority"] = {{"name", priority_}};
    std::string comment_text;
    switch (n.state) {
      case AlertState::kFiring:
        comment_text = "Firing again: " + summary + "\n" + facts;
        break;
      case AlertState::kRepeat:
        comment_text = "Still firing (reminder " + std::to_string(n.repeat_index) +
                       "): " + summary + "\n" + facts;
        break;
      case AlertState::kResolved:
        comment_text = "Resolved: " + summary + "\n" + facts;
        break;
    }
    json doc = {{"label", label},
                {"create", {{"fields", fields}}},
                {"comment", {{"body", api_version_ == 3 ? Adf(comment_text) : json(comment_text)}}},
                {"resolve", n.state == AlertState::kResolved}};
    return Prepared{name_, IdempotencyKey(n), label, AlertStateName(n.state), DumpJson(doc)};
  }

  Result<std::vector<HttpRequest>> Requests(const Prepared& p, int64_t /*now_ms*/,
                                            bool mask) const override {
    json doc = json::parse(p.payload, nullptr, false);
    if (!doc.is_object()) return Status::Internal("stored jira payload is malformed");
    const std::string base = mask ? target_ : base_;
    std::vector<HttpRequest> out;
    out.push_back(Make("GET", base + SearchPath(doc.value("label", "")), "", mask));
    if (doc.value("resolve", false)) {
      out.push_back(
          Make("POST", base + IssuePath("{key}") + "/comment", DumpJson(doc["comment"]), mask));
      if (!transition_.empty()) {
        out.push_back(Make("GET", base + "/rest/api/2/issue/{key}/transitions", "", mask));
        out.push_back(Make("POST", base + "/rest/api/2/issue/{key}/transitions",
                           DumpJson({{"transition", {{"id", "{id of \"" + transition_ + "\"}"}}}}),
                           mask));
      }
    } else {
      out.push_back(Make("POST", base + "/rest/api/" + std::to_string(api_version_) + "/issue",
                         DumpJson(doc["create"]), mask));
      out.push_back(
          Make("POST", base + IssuePath("{key}") + "/comment", DumpJson(doc["comment"]), mask));
    }
    return out;
  }

  DeliveryResult Deliver(const Prepared& p, Transport& transport, int64_t now_ms) const override {
    json doc = json::parse(p.payload, nullptr, false);
    if (!doc.is_object()) return {DeliveryResult::Kind::kFinal, "render", -1, "malformed payload"};
    auto send = [&](HttpRequest r, HttpResponse& resp) {
      resp = RedactResponse(transport.Send(r));
      return ClassifyResponse(resp, now_ms);
    };
    HttpResponse resp;
    DeliveryResult d =
        send(Make("GET", base_ + SearchPath(doc.value("label", "")), "", false), resp);
    if (d.kind != DeliveryResult::Kind::kAccepted) return d;
    json found = json::parse(resp.body, nullptr, false);
    std::string key;
    if (found.is_object() && found.contains("issues") && found["issues"].is_array() &&
        !found["issues"].empty() && found["issues"][0].is_object()) {
      key = found["issues"][0].value("key", "");
    }
    const bool resolve = doc.value("resolve", false);
    if (key.empty()) {
      if (resolve) return {DeliveryResult::Kind::kAccepted, "no_open_issue", -1, ""};
      return send(Make("POST", base_ + "/rest/api/" + std::to_string(api_version_) + "/issue",
                       DumpJson(doc["create"]), false),
                  resp);
    }
    d = send(Make("POST", base_ + IssuePath(UrlEncode(key)) + "/comment", DumpJson(doc["comment"]),
                  false),
             resp);
    if (d.kind != DeliveryResult::Kind::kAccepted || !resolve || transition_.empty()) return d;
    const std::string tpath = base_ + "/rest/api/2/issue/" + UrlEncode(key) + "/transitions";
    d = send(Make("GET", tpath, "", false), resp);
    if (d.kind != DeliveryResult::Kind::kAccepted) return d;
    json ts = json::parse(resp.body, nullptr, false);
    std::string id;
    if (ts.is_object() && ts.contains("transitions") && ts["transitions"].is_array()) {
      for (const json& t : ts["transitions"]) {
        if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) continue;
        std::string name = t["name"].get<std::string>();
        if (std::equal(name.begin(), name.end(), transition_.begin(), transition_.end(),
                       [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
          id = t.contains("id") && t["id"].is_string() ? t["id"].get<std::string>() : "";
        }
      }
    }
    if (id.empty()) {
      return {DeliveryResult::Kind::kFinal, "transition_not_found", -1,
              "issue " + key + " has no transition named \"" + transition_ + "\""};
    }
    return send(Make("POST", tpath, DumpJson({{"transition", {{"id", id}}}}), false), resp);
  }

 private:
  std::string SearchPath(const std::string& label) const {
    const std::string jql = "project=" + JqlQuote(project_) + " and labels=" + JqlQuote(label) +
                            " and statusCategory != Done";
    return "/rest/api/2/search?jql=" + UrlEncode(jql) + "&fields=key&maxResults=1";
  }
  std::string IssuePath(const std::string& key) const {
    return "/rest/api/" + std::to_string(api_version_) + "/issue/" + key;
  }
  HttpRequest Make(std::string method, std::string url, std::string body, bool mask) const {
    HttpRequest r;
    r.method = std::move(method);
    r.url = std::move(url);
    r.body = std::move(body);
    r.timeout_ms = timeout_ms_;
    r.max_response_bytes = kMaxJiraResponse;
    std::string auth;
    if (mask) {
      auth = user_.empty() ? "Bearer ***" : "Basic ***";
    } else {
      auth = user_.empty() ? "Bearer " + token_ : "Basic " + Base64Encode(user_ + ":" + token_);
    }
    r.headers = {{"Accept", "application/json"}, {"Authorization", auth}};
    if (!r.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
    return r;
  }

  std::string base_;
  bool base_secret_ = false;
  std::string project_, issue_type_, user_, token_, priority_, transition_;
  int api_version_ = 2;
  std::vector<std::string> labels_;
  Template summary_, description_;
  int64_t timeout_ms_ = 15000;
};

}  // namespace

Result<std::unique_ptr<Action>> CreateJiraAction(const ActionDef& def,
                                                 const SecretResolver& secrets,
                                                 const ActionOptions& /*options*/) {
  auto args = ActionArgs::Resolve(def, secrets);
  if (!args.ok()) return args.status();
  // api_version and a literal url were checked by ValidateActionDef (CreateAction). A URL read
  // from env(...)/file(...) is checked when sent (a bad one is a logged, final bad_url failure)
  // so that previews can stand in placeholder secrets.
  return std::unique_ptr<Action>(new JiraAction(def, *args));
}

}  // namespace klaxon::actions
