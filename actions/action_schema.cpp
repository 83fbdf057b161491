#include "actions/action_schema.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include "engine/closest_match.h"
#include "engine/template.h"

namespace klaxon::actions {
namespace {

constexpr std::array kSlackArgs = {
    ArgSpec{"webhook", ArgType::kSecret, true, "the incoming-webhook URL"},
    ArgSpec{"channel", ArgType::kString, false, "channel override, e.g. \"#alerts\""},
    ArgSpec{"username", ArgType::kString, false, "bot name shown in Slack"},
    ArgSpec{"icon_emoji", ArgType::kString, false, "e.g. \":rotating_light:\""},
    ArgSpec{"title", ArgType::kTemplate, false, "header template (default: the rule summary)"},
    ArgSpec{"text", ArgType::kTemplate, false, "body template (default: the description)"},
    ArgSpec{"link", ArgType::kTemplate, false, "URL of a button, e.g. a dashboard"},
    ArgSpec{"send_resolved", ArgType::kBool, false, "notify when the alert resolves (true)"},
    ArgSpec{"rate_limit", ArgType::kDuration, false, "minimum spacing of messages (1s)"},
    ArgSpec{"timeout", ArgType::kDuration, false, "read timeout (15s)"},
};

constexpr std::array kWebhookArgs = {
    ArgSpec{"url", ArgType::kString, true, "receiver URL"},
    ArgSpec{"secret", ArgType::kSecretList, false,
            "Standard Webhooks secret(s), whsec_<base64>; several during rotation"},
    ArgSpec{"sentry_secret", ArgType::kSecret, false,
            "also sign as Sentry does (Sentry-Hook-Signature) with this client secret"},
    ArgSpec{"project", ArgType::kString, false, "project name in the default body"},
    ArgSpec{"body", ArgType::kTemplate, false, "replaces the default JSON body"},
    ArgSpec{"headers", ArgType::kStringList, false, "extra headers, \"Name: value\""},
    ArgSpec{"send_resolved", ArgType::kBool, false, "notify when the alert resolves (true)"},
    ArgSpec{"rate_limit", ArgType::kDuration, false, "minimum spacing of requests (0s)"},
    ArgSpec{"timeout", ArgType::kDuration, false, "read timeout (15s)"},
};

constexpr std::array kPagerDutyArgs = {
    ArgSpec{"routing_key", ArgType::kSecret, true, "the integration's 32-character routing key"},
    ArgSpec{"url", ArgType::kString, false,
            "Events API endpoint (https://events.pagerduty.com/v2/enqueue)"},
    ArgSpec{"severity", ArgType::kString, false, "overrides the rule's severity"},
    ArgSpec{"source", ArgType::kTemplate, false, "payload.source (default: klaxon)"},
    ArgSpec{"component", ArgType::kTemplate, false, "payload.component"},
    ArgSpec{"group", ArgType::kTemplate, false, "payload.group"},
    ArgSpec{"class", ArgType::kTemplate, false, "payload.class"},
    ArgSpec{"client", ArgType::kString, false, "client name shown in PagerDuty"},
    ArgSpec{"client_url", ArgType::kString, false, "link back from PagerDuty"},
    ArgSpec{"send_resolved", ArgType::kBool, false, "resolve the incident on resolve (true)"},
    ArgSpec{"rate_limit", ArgType::kDuration, false, "minimum spacing of events (500ms)"},
    ArgSpec{"timeout", ArgType::kDuration, false, "read timeout (15s)"},
};

constexpr std::array kJiraArgs = {
    ArgSpec{"url", ArgType::kString, true, "Jira base URL, e.g. https://acme.atlassian.net"},
    ArgSpec{"project", ArgType::kString, true, "project key, e.g. OPS"},
    ArgSpec{"issue_type", ArgType::kString, true, "e.g. Bug"},
    ArgSpec{"user", ArgType::kString, false, "Cloud: the account email (basic auth)"},
    ArgSpec{"token", ArgType::kSecret, true, "Cloud: API token; Data Center: bearer token"},
    ArgSpec{"api_version", ArgType::kNumber, false, "2 (wiki markup) or 3 (ADF); default 2"},
    ArgSpec{"priority", ArgType::kString, false, "priority name, e.g. High"},
    ArgSpec{"labels", ArgType::kStringList, false, "extra labels"},
    ArgSpec{"summary", ArgType::kTemplate, false, "issue summary (default: the rule summary)"},
    ArgSpec{"description", ArgType::kTemplate, false, "issue description"},
    ArgSpec{"resolve_transition", ArgType::kString, false,
            "transition name applied on resolve, e.g. Done"},
    ArgSpec{"send_resolved", ArgType::kBool, false, "comment/transition on resolve (true)"},
    ArgSpec{"rate_limit", ArgType::kDuration, false, "minimum spacing of requests (0s)"},
    ArgSpec{"timeout", ArgType::kDuration, false, "read timeout (15s)"},
};

constexpr std::array kLogArgs = {
    ArgSpec{"path", ArgType::kString, false, "file to append to; \"-\" is stdout (default)"},
    ArgSpec{"send_resolved", ArgType::kBool, false, "log resolves too (true)"},
};

constexpr std::array kKinds = {
    KindSpec{"slack", kSlackArgs}, KindSpec{"pagerduty", kPagerDutyArgs},
    KindSpec{"jira", kJiraArgs},   KindSpec{"webhook", kWebhookArgs},
    KindSpec{"log", kLogArgs},
};

const char* TypeName(ArgType t) {
  switch (t) {
    case ArgType::kString:
      return "a string";
    case ArgType::kSecret:
      return "a secret (env(\"NAME\") or file(\"path\"))";
    case ArgType::kTemplate:
      return "a string";
    case ArgType::kBool:
      return "true or false";
    case ArgType::kNumber:
      return "a number";
    case ArgType::kDuration:
      return "a duration such as 30s";
    case ArgType::kStringList:
      return "a string or a list of strings";
    case ArgType::kSecretList:
      return "a secret or a list of secrets";
  }
  return "a value";
}

bool IsStringish(const ActionValue& v) {
  return v.kind == ActionValue::Kind::kString || v.kind == ActionValue::Kind::kEnv ||
         v.kind == ActionValue::Kind::kFile;
}

void CheckValue(const ActionArg& arg, const ArgSpec& spec, const ActionValue& v,
                std::vector<ActionProblem>& out) {
  auto wrong_type = [&] {
    out.push_back({v.pos, "argument `" + arg.key + "` must be " + TypeName(spec.type), ""});
  };
  switch (spec.type) {
    case ArgType::kString:
      if (!IsStringish(v)) wrong_type();
      return;
    case ArgType::kSecret:
      if (v.kind == ActionValue::Kind::kString) {
        std::string var;
        for (char c : arg.key) var.push_back(static_cast<char>(std::toupper(c)));
        out.push_back({v.pos, "secret `" + arg.key + "` must not be written as a literal",
                       "read it from the environment or a file: " + arg.key + ": env(\"" + var +
                           "\") or " + arg.key + ": file(\"/run/secrets/" + arg.key + "\")"});
      } else if (!IsStringish(v)) {
        wrong_type();
      }
      return;
    case ArgType::kTemplate:
      if (v.kind != ActionValue::Kind::kString) {
        wrong_type();
        return;
      }
      if (auto t = CompileTemplate(v.text); !t.ok()) {
        out.push_back({v.pos, "argument `" + arg.key + "`: " + t.status().message(), ""});
      }
      return;
    case ArgType::kBool:
      if (v.kind != ActionValue::Kind::kBool) wrong_type();
      return;
    case ArgType::kNumber:
      if (v.kind != ActionValue::Kind::kNumber) wrong_type();
      return;
    case ArgType::kDuration:
      if (v.kind != ActionValue::Kind::kDuration) wrong_type();
      return;
    case ArgType::kStringList:
    case ArgType::kSecretList: {
      const ArgSpec element{spec.key,
                            spec.type == ArgType::kStringList ? ArgType::kString : ArgType::kSecret,
                            false, ""};
      if (v.kind == ActionValue::Kind::kList) {
        for (const ActionValue& e : v.list) CheckValue(arg, element, e, out);
      } else {
        CheckValue(arg, element, v, out);
      }
      return;
    }
  }
}

bool IsUrlKey(std::string_view kind, std::string_view key) {
  return key == "url" || (kind == "slack" && key == "webhook");
}

// Values that the factories would refuse, checked here where they are written literally (a
// value read through env(...)/file(...) is only known when the action is created).
void CheckLiteral(const ActionDef& def, const ActionArg& arg, std::vector<ActionProblem>& out) {
  const ActionValue& v = arg.value;
  if (IsUrlKey(def.kind, arg.key) && v.kind == ActionValue::Kind::kString && !IsHttpUrl(v.text)) {
    out.push_back({v.pos, "argument `" + arg.key + "` must be an http(s) URL",
                   "Klaxon sends over http:// or https:// only, e.g. "
                   "\"https://hooks.example.com/klaxon\""});
  } else if (def.kind == "webhook" && arg.key == "headers") {
    const std::span<const ActionValue> values = v.kind == ActionValue::Kind::kList
                                                    ? std::span<const ActionValue>(v.list)
                                                    : std::span<const ActionValue>(&v, 1);
    for (const ActionValue& h : values) {
      if (h.kind == ActionValue::Kind::kString && !IsHeaderLine(h.text)) {
        out.push_back(
            {h.pos, "a header must read \"Name: value\"", "e.g. headers: [\"X-Team: payments\"]"});
      } else if (h.kind == ActionValue::Kind::kString) {
        if (std::string problem = ReservedHeaderProblem(h.text); !problem.empty()) {
          out.push_back({h.pos, problem, "Klaxon sets it for every request"});
        }
      }
    }
  } else if (def.kind == "jira" && arg.key == "api_version" &&
             v.kind == ActionValue::Kind::kNumber && v.number != 2 && v.number != 3) {
    out.push_back({v.pos, "argument `api_version` must be 2 or 3",
                   "2: wiki markup (the default), 3: Atlassian Document Format"});
  } else if (def.kind == "pagerduty" && arg.key == "severity" &&
             v.kind == ActionValue::Kind::kString && !IsPagerDutySeverity(v.text)) {
    out.push_back({v.pos, "unknown pagerduty severity `" + v.text + "`",
                   "severities: critical, error, warning, info"});
  }
}

}  // namespace

bool IsHttpUrl(std::string_view url) {
  auto starts_with_nocase = [&](std::string_view prefix) {
    if (url.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(url[i])) != prefix[i]) return false;
    }
    return true;
  };
  return starts_with_nocase("https://") || starts_with_nocase("http://");
}

bool IsHeaderLine(std::string_view header) {
  return !header.empty() && header.front() != ':' && header.find(':') != std::string_view::npos &&
         header.find_first_of("\r\n") == std::string_view::npos;
}

std::string ReservedHeaderProblem(std::string_view header) {
  const size_t colon = header.find(':');
  std::string_view name = header.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::string_view kReserved[] = {
      "content-length",   "transfer-encoding", "host",       "connection",
      "keep-alive",       "upgrade",           "te",         "trailer",
      "expect",           "proxy-connection",  "webhook-id", "webhook-timestamp",
      "webhook-signature"};
  for (std::string_view r : kReserved) {
    if (lower == r) return "header `" + std::string(name) + "` cannot be set by an action";
  }
  return "";
}

bool IsPagerDutySeverity(std::string_view severity) {
  return severity == "critical" || severity == "error" || severity == "warning" ||
         severity == "info";
}

std::span<const KindSpec> ActionKinds() { return kKinds; }

const KindSpec* FindKind(std::string_view kind) {
  for (const KindSpec& k : kKinds) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

std::vector<ActionProblem> ValidateActionDef(const ActionDef& def) {
  std::vector<ActionProblem> out;
  const KindSpec* kind = FindKind(def.kind);
  if (kind == nullptr) {
    std::string kinds;
    std::string best;
    size_t best_distance = 3;
    for (const KindSpec& k : kKinds) {
      kinds += (kinds.empty() ? "" : ", ") + std::string(k.kind);
      const size_t d = EditDistance(def.kind, k.kind);
      if (d < best_distance) {
        best_distance = d;
        best = k.kind;
      }
    }
    out.push_back({def.pos, "unknown action kind `" + def.kind + "`",
                   best.empty() ? "known kinds: " + kinds
                                : "did you mean `" + best + "`? known kinds: " + kinds});
    return out;
  }
  std::set<std::string> seen;
  for (const ActionArg& arg : def.args) {
    if (!seen.insert(arg.key).second) {
      out.push_back({arg.pos, "argument `" + arg.key + "` given twice", ""});
      continue;
    }
    const ArgSpec* spec = nullptr;
    for (const ArgSpec& s : kind->args) {
      if (s.key == arg.key) spec = &s;
    }
    if (spec == nullptr) {
      std::string keys;
      std::string best;
      size_t best_distance = 3;
      for (const ArgSpec& s : kind->args) {
        keys += (keys.empty() ? "" : ", ") + std::string(s.key);
        const size_t d = EditDistance(arg.key, s.key);
        if (d < best_distance) {
          best_distance = d;
          best = s.key;
        }
      }
      out.push_back({arg.pos, "unknown argument `" + arg.key + "` for " + def.kind + " actions",
                     best.empty() ? "known arguments: " + keys
                                  : "did you mean `" + best + "`? known arguments: " + keys});
      continue;
    }
    const size_t before = out.size();
    CheckValue(arg, *spec, arg.value, out);
    if (out.size() == before) CheckLiteral(def, arg, out);
  }
  for (const ArgSpec& s : kind->args) {
    if (s.required && seen.count(std::string(s.key)) == 0) {
      out.push_back(
          {def.pos,
           def.kind + " action `" + def.name + "` needs argument `" + std::string(s.key) + "`",
           std::string(s.help)});
    }
  }
  return out;
}

}  // namespace klaxon::actions
