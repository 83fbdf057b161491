// Sentry issue-alert rules (the JSON of Sentry's alert-rules API) -> Klaxon rules. Sentry
// evaluates issue alerts per issue, so every imported rule groups by `issue`; the mapping of
// each condition, filter and action is in docs/sentry.md "Migrating alert rules". nlohmann
// exceptions are caught here, the one place that calls nlohmann for imports.
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>

#include "engine/duration.h"
#include "importer/importer.h"
#include "importer/rule_writer.h"

namespace klaxon::importer {
namespace {

using Json = nlohmann::json;

constexpr int64_t kMaxWindowMs = 30 * 86400000LL;

// Sentry's level numbers (sentry.constants.LOG_LEVELS), lowest first.
constexpr std::pair<int, const char*> kLevels[] = {
    {10, "debug"}, {20, "info"}, {30, "warning"}, {40, "error"}, {50, "fatal"}};

// The class name of a condition, filter or action id: its last dotted component, so that full
// class paths and the short forms users write select the same translation.
std::string ClassName(const std::string& id) { return id.substr(id.rfind('.') + 1); }

// An option as text: Sentry stores numbers as strings or numbers interchangeably.
std::string Option(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (it->is_number()) return NumberText(it->get<double>());
  if (it->is_boolean()) return it->get<bool>() ? "true" : "false";
  return it->dump();
}

// Sentry's tag keys that name a Klaxon built-in differently.
std::string TagKey(const std::string& key) {
  static const std::map<std::string, std::string> kKeys = {
      {"url", "http.url"}, {"handled", "error.handled"}, {"mechanism", "error.mechanism"}};
  auto it = kKeys.find(key);
  return it == kKeys.end() ? key : it->second;
}

// EventAttributeFilter's attributes (sentry/rules/conditions/event_attribute.py) as Klaxon
// keys; empty when there is none.
std::string AttributeKey(const std::string& attribute) {
  static const std::map<std::string, std::string> kKeys = {
      {"message", "message"},
      {"platform", "platform"},
      {"environment", "environment"},
      {"type", "event.type"},
      {"error.handled", "error.handled"},
      {"error.unhandled", "error.unhandled"},
      {"exception.type", "exception.type"},
      {"exception.value", "exception.value"},
      {"user.id", "user.id"},
      {"user.email", "user.email"},
      {"user.username", "user.username"},
      {"user.ip_address", "user.ip_address"},
      {"http.method", "http.method"},
      {"http.url", "http.url"},
      {"http.status_code", "contexts.response.status_code"},
      {"sdk.name", "sdk.name"},
      {"stacktrace.module", "stack.module"},
      {"stacktrace.filename", "stack.filename"},
      {"stacktrace.abs_path", "stack.abs_path"},
      {"stacktrace.package", "stack.package"},
      {"unreal.crash_type", "contexts.unreal.crash_type"},
      {"app.in_foreground", "contexts.app.in_foreground"},
  };
  auto it = kKeys.find(attribute);
  if (it != kKeys.end()) return it->second;
  if (attribute.rfind("extra.", 0) == 0 && attribute.size() > 6) return attribute;
  return "";
}

class SentryImporter {
 public:
  explicit SentryImporter(std::string_view file)
      : file_(file),
        writer_("Imported from " + std::string(file) + " (Sentry alert rules) by klaxon import.") {}

  Result<ImportOutput> Run(const Json& root) {
    if (root.is_array()) {
      if (root.empty()) return Error("", "the file holds no rules");
      for (size_t i = 0; i < root.size(); ++i) {
        Status s = ImportRule(root[i], "rule " + std::to_string(i + 1));
        if (!s.ok()) return s;
      }
    } else if (root.is_object()) {
      // An API response may wrap the rule: {"data": {...}} is not Sentry's, but the rule
      // itself is; accept exactly the rule object.
      Status s = ImportRule(root, "");
      if (!s.ok()) return s;
    } else {
      return Error("", "expected a rule object or a list of rules");
    }
    Result<ImportOutput> out = writer_.Finish();
    if (!out.ok())
      return Status::InvalidArgument(std::string(file_) + ": " + out.status().message());
    return out;
  }

 private:
  Status Error(const std::string& where, const std::string& message) const {
    return Status::InvalidArgument(std::string(file_) + ": " + (where.empty() ? "" : where + ": ") +
                                   message);
  }

  // One condition, filter or action entry must be an object with a string `id`.
  Result<std::string> Id(const Json& entry, const std::string& where) const {
    if (!entry.is_object()) return Error(where, "expected an object with an `id`");
    auto it = entry.find("id");
    if (it == entry.end() || !it->is_string()) return Error(where, "missing `id` (a class path)");
    return it->get<std::string>();
  }

  // "1m", "1h", "1d", "1w", "30d" (Sentry's intervals) as a Klaxon window.
  Result<std::string> Interval(const std::string& text, const std::string& where) const {
    Result<int64_t> ms = ParseDurationMs(text);
    if (!ms.ok()) return Error(where, "interval `" + text + "`: " + ms.status().message());
    if (*ms < 1000 || *ms > kMaxWindowMs) {
      return Error(where, "interval `" + text + "` is outside Klaxon's windows (1s to 30d)");
    }
    return DurationText(*ms);
  }

  // TaggedEventFilter / EventAttributeFilter's `match` on a key; nullopt when `match` or the
  // value cannot be translated (the caller drops the filter with a comment).
  std::optional<FilterExpr> MatchFilter(const std::string& key, const std::string& match,
                                        const std::string& value) {
    if (match == "is") return FilterExpr::Has(key);
    if (match == "ns") return FilterExpr::Not(FilterExpr::Has(key));
    // Sentry: a value-matching filter with an empty value matches nothing.
    if (value.empty()) return std::nullopt;
    if (value.find('*') != std::string::npos) return std::nullopt;  // `*` is literal in Sentry
    if (match == "eq") return FilterExpr::Match(key, {value});
    if (match == "ne") return FilterExpr::Not(FilterExpr::Match(key, {value}));
    if (match == "sw") return FilterExpr::Match(key, {value + "*"});
    if (match == "nsw") return FilterExpr::Not(FilterExpr::Match(key, {value + "*"}));
    if (match == "ew") return FilterExpr::Match(key, {"*" + value});
    if (match == "new") return FilterExpr::Not(FilterExpr::Match(key, {"*" + value}));
    if (match == "co") return FilterExpr::Match(key, {"*" + value + "*"});
    if (match == "nc") return FilterExpr::Not(FilterExpr::Match(key, {"*" + value + "*"}));
    if (match == "in") {  // a comma-separated list
      std::vector<std::string> values;
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        std::string v = value.substr(start, comma - start);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        while (!v.empty() && v.back() == ' ') v.pop_back();
        if (!v.empty()) values.push_back(v);
        start = comma + 1;
      }
      if (values.empty()) return std::nullopt;
      return FilterExpr::Match(key, values);
    }
    return std::nullopt;
  }

  // A filter-like entry (a filter, or a legacy event condition): the filter, or nullopt and
  // a comment saying why it was not imported.
  std::optional<FilterExpr> EventFilter(const std::string& cls, const Json& e,
                                        std::vector<std::string>& comments) {
    if (cls == "TaggedEventFilter" || cls == "TaggedEventCondition" || cls == "TagFilter") {
      const std::string key = Option(e, "key");
      const std::string match = Option(e, "match").empty() ? "eq" : Option(e, "match");
      if (key.empty()) {
        writer_.Dropped(comments, cls + " without a `key`");
        return std::nullopt;
      }
      auto f = MatchFilter(TagKey(key), match, Option(e, "value"));
      if (!f) writer_.Dropped(comments, Describe(cls, e) + " (no equivalent for this match)");
      return f;
    }
    if (cls == "EventAttributeFilter" || cls == "EventAttributeCondition") {
      const std::string attribute = Option(e, "attribute");
      const std::string key = AttributeKey(attribute);
      if (key.empty()) {
        writer_.Dropped(comments, Describe(cls, e) + " (no Klaxon field for `" + attribute + "`)");
        return std::nullopt;
      }
      auto f = MatchFilter(key, Option(e, "match"), Option(e, "value"));
      if (!f) writer_.Dropped(comments, Describe(cls, e) + " (no equivalent for this match)");
      return f;
    }
    if (cls == "ExceptionTypeFilter") {
      const std::string match = Option(e, "match").empty() ? "eq" : Option(e, "match");
      auto f = MatchFilter("exception.type", match, Option(e, "value"));
      if (!f) writer_.Dropped(comments, Describe(cls, e) + " (no equivalent for this match)");
      return f;
    }
    if (cls == "LevelFilter" || cls == "LevelCondition") {
      const std::string match = Option(e, "match").empty() ? "eq" : Option(e, "match");
      const std::string level_text = Option(e, "level");
      char* end = nullptr;
      const long level = std::strtol(level_text.c_str(), &end, 10);
      std::vector<std::string> names;
      for (const auto& [number, name] : kLevels) {
        if (level_text == name) names = {name};
        const bool take = match == "eq"    ? number == level
                          : match == "gte" ? number >= level
                          : match == "lte" ? number <= level
                                           : false;
        if (end != level_text.c_str() && *end == '\0' && take) names.push_back(name);
      }
      if (names.empty() || (match != "eq" && match != "gte" && match != "lte")) {
        writer_.Dropped(comments, Describe(cls, e) + " (unknown level or match)");
        return std::nullopt;
      }
      return FilterExpr::Match("level", names);
    }
    writer_.Dropped(comments, Describe(cls, e) + " (no Klaxon equivalent)");
    return std::nullopt;
  }

  // A short description of an entry for comments: its class and its options.
  static std::string Describe(const std::string& cls, const Json& e) {
    std::string out = cls;
    std::string options;
    for (auto it = e.begin(); it != e.end(); ++it) {
      if (it.key() == "id" || it.key() == "name" || it.key() == "uuid") continue;
      options += (options.empty() ? "" : ", ") + it.key() + "=" +
                 (it->is_string() ? it->get<std::string>() : it->dump());
    }
    return options.empty() ? out : out + " (" + options + ")";
  }

  static FilterExpr Combine(const std::string& match, std::vector<FilterExpr> parts) {
    if (parts.empty()) return FilterExpr::All();
    if (match == "any") return FilterExpr::Or(std::move(parts));
    if (match == "none") return FilterExpr::Not(FilterExpr::Or(std::move(parts)));
    return FilterExpr::And(std::move(parts));
  }

  // Sentry's actions; returns the names of the Klaxon actions (defined once per file).
  std::vector<std::string> Actions(const Json& actions, std::vector<std::string>& comments,
                                   const std::string& where, Status& status) {
    std::vector<std::string> names;
    if (!actions.is_array()) return names;
    for (size_t i = 0; i < actions.size(); ++i) {
      const std::string at = where + "actions[" + std::to_string(i) + "]";
      Result<std::string> id = Id(actions[i], at);
      if (!id.ok()) {
        status = id.status();
        return names;
      }
      const Json& a = actions[i];
      const std::string cls = ClassName(*id);
      ImportedAction action;
      std::string key;
      if (cls == "SlackNotifyServiceAction" || cls == "SlackAction") {
        std::string channel = Option(a, "channel");
        action.kind = "slack";
        action.name = "slack" + (channel.empty() ? "" : "-" + channel);
        key = "slack|" + channel;
        if (!channel.empty()) action.args.push_back({"channel", StringLiteral(channel)});
        if (!Option(a, "tags").empty() || !Option(a, "notes").empty()) {
          comments.push_back(
              "Slack tags and notes are not imported: Klaxon's message shows the "
              "group and the event");
        }
      } else if (cls == "PagerDutyNotifyServiceAction" || cls == "PagerDutyAction") {
        const std::string service = Option(a, "service");
        std::string severity = Option(a, "severity");
        action.kind = "pagerduty";
        action.name = "pagerduty" + (service.empty() ? "" : "-" + service);
        key = "pagerduty|" + service + "|" + severity;
        if (severity == "critical" || severity == "error" || severity == "warning" ||
            severity == "info") {
          action.args.push_back({"severity", StringLiteral(severity)});
        }
      } else if (cls == "JiraCreateTicketAction" || cls == "JiraServerCreateTicketAction" ||
                 cls == "JiraAction") {
        const std::string project = Option(a, "project");
        const std::string type = Option(a, "issuetype");
        action.kind = "jira";
        action.name = "jira" + (project.empty() ? "" : "-" + project);
        key = "jira|" + project + "|" + type;
        action.args.push_back({"project", StringLiteral(project.empty() ? "OPS" : project)});
        action.args.push_back({"issue_type", StringLiteral(type.empty() ? "Bug" : type)});
        action.comments.push_back(
            "Sentry names the Jira project and issue type by id; Klaxon "
            "wants the project key and the issue type name");
      } else if ((cls == "NotifyEventServiceAction" && Option(a, "service") != "mail") ||
                 cls == "NotifyEventSentryAppAction" || cls == "WebhookAction") {
        std::string service = Option(a, "service");
        if (service.empty()) service = Option(a, "sentryAppInstallationUuid");
        action.kind = "webhook";
        action.name = "webhook" + (service.empty() || service == "webhooks" ? "" : "-" + service);
        key = "webhook|" + service;
      } else {
        writer_.Dropped(comments, "the action " + Describe(cls, a) +
                                      " (Klaxon's actions are slack, pagerduty, jira, webhook "
                                      "and log)");
        continue;
      }
      auto known = actions_.find(key);
      if (known != actions_.end()) {
        names.push_back(known->second);
        continue;
      }
      action.name = writer_.UniqueName(action.name);
      // Secrets never sit in rule files: each comes from an environment variable.
      if (action.kind == "slack") {
        action.args.insert(action.args.begin(),
                           {"webhook", "env(\"" + EnvName(action.name, "WEBHOOK_URL") + "\")"});
      } else if (action.kind == "pagerduty") {
        action.args.insert(action.args.begin(),
                           {"routing_key", "env(\"" + EnvName(action.name, "ROUTING_KEY") + "\")"});
      } else if (action.kind == "jira") {
        action.args.insert(action.args.begin(),
                           {"url", "env(\"" + EnvName(action.name, "URL") + "\")"});
        action.args.push_back({"token", "env(\"" + EnvName(action.name, "TOKEN") + "\")"});
      } else {
        action.args.push_back({"url", "env(\"" + EnvName(action.name, "URL") + "\")"});
        if (cls == "NotifyEventSentryAppAction") {
          action.args.push_back(
              {"sentry_secret", "env(\"" + EnvName(action.name, "SECRET") + "\")"});
        }
      }
      actions_[key] = action.name;
      names.push_back(action.name);
      writer_.Add(std::move(action));
    }
    return names;
  }

  // A trigger condition: the Klaxon condition text, "" for every event, nullopt when dropped.
  std::optional<std::string> Trigger(const std::string& cls, const Json& c, const std::string& at,
                                     std::vector<std::string>& comments, Status& status) {
    if (cls == "FirstSeenEventCondition") return "new(issue)";
    if (cls == "EveryEventCondition") return "";
    if (cls == "EventFrequencyCondition" || cls == "EventUniqueUserFrequencyCondition") {
      const std::string value_text = Option(c, "value");
      char* end = nullptr;
      const double value = std::strtod(value_text.c_str(), &end);
      if (value_text.empty() || *end != '\0' || !std::isfinite(value) || value < 0) {
        status = Error(at, "`value` must be a non-negative number, not `" + value_text + "`");
        return std::nullopt;
      }
      Result<std::string> window =
          Interval(Option(c, "interval").empty() ? "1m" : Option(c, "interval"), at);
      if (!window.ok()) {
        status = window.status();
        return std::nullopt;
      }
      const std::string type = Option(c, "comparisonType");
      const bool users = cls == "EventUniqueUserFrequencyCondition";
      if (type == "percent") {
        if (users) {
          writer_.Dropped(comments, Describe(cls, c) + " (a percent change of unique users)");
          return std::nullopt;
        }
        Result<std::string> offset = Interval(Option(c, "comparisonInterval"), at);
        if (!offset.ok()) {
          status = offset.status();
          return std::nullopt;
        }
        // Sentry: 100 * (now - then) / then > value, that is 100 * now / then > 100 + value.
        return "frequency in " + *window + " > " + NumberText(100 + value) + "% of " + *offset +
               " ago";
      }
      if (!type.empty() && type != "count") {
        status = Error(at, "unknown comparisonType `" + type + "` (count or percent)");
        return std::nullopt;
      }
      if (users) {
        comments.push_back(
            "Sentry counts users by id, else username, email or IP address; "
            "Klaxon counts user.id");
        return "unique(user.id) > " + NumberText(value) + " in " + *window;
      }
      return "frequency > " + NumberText(value) + " in " + *window;
    }
    writer_.Dropped(comments, "the condition " + Describe(cls, c) + " (no Klaxon equivalent)");
    return std::nullopt;
  }

  static bool IsEventFilter(const std::string& cls) {
    return cls == "TaggedEventCondition" || cls == "EventAttributeCondition" ||
           cls == "LevelCondition";
  }

  Status ImportRule(const Json& r, const std::string& where_rule) {
    if (!r.is_object()) return Error(where_rule, "a rule must be an object");
    const std::string title = Option(r, "name");
    const std::string where = where_rule.empty()
                                  ? (title.empty() ? "" : "\"" + title + "\"")
                                  : where_rule + (title.empty() ? "" : " (\"" + title + "\")");
    auto check_list = [&](const char* key) -> Status {
      auto it = r.find(key);
      if (it != r.end() && !it->is_null() && !it->is_array()) {
        return Error(where, "`" + std::string(key) + "` must be a list");
      }
      return Status::Ok();
    };
    for (const char* key : {"conditions", "filters", "actions"}) {
      if (Status s = check_list(key); !s.ok()) return s;
    }
    std::vector<std::string> comments;
    if (!title.empty()) comments.push_back("Sentry rule: " + title);
    const std::string base_name = writer_.UniqueName(title.empty() ? "sentry-rule" : title);

    const std::string action_match =
        Option(r, "actionMatch").empty() ? "all" : Option(r, "actionMatch");
    const std::string filter_match =
        Option(r, "filterMatch").empty() ? "all" : Option(r, "filterMatch");
    for (const auto& [key, value] :
         {std::pair{"actionMatch", action_match}, std::pair{"filterMatch", filter_match}}) {
      if (value != "all" && value != "any" && value != "none") {
        return Error(where,
                     "`" + std::string(key) + "` must be all, any or none, not `" + value + "`");
      }
    }

    // Filters, combined by filterMatch.
    std::vector<FilterExpr> filters;
    const Json empty = Json::array();
    const Json& filter_list =
        r.contains("filters") && r["filters"].is_array() ? r["filters"] : empty;
    for (size_t i = 0; i < filter_list.size(); ++i) {
      Result<std::string> id = Id(filter_list[i], where + " filters[" + std::to_string(i) + "]");
      if (!id.ok()) return id.status();
      if (auto f = EventFilter(ClassName(*id), filter_list[i], comments))
        filters.push_back(std::move(*f));
    }
    FilterExpr filter = Combine(filter_match, std::move(filters));
    if (const std::string env = Option(r, "environment"); !env.empty()) {
      filter = FilterExpr::And({FilterExpr::Match("environment", {env}), filter});
    }

    // Conditions: triggers and legacy event conditions, combined by actionMatch.
    std::vector<std::string> triggers;
    std::vector<FilterExpr> event_conditions;
    Status status;
    const Json& conditions =
        r.contains("conditions") && r["conditions"].is_array() ? r["conditions"] : empty;
    for (size_t i = 0; i < conditions.size(); ++i) {
      const std::string at = where + " conditions[" + std::to_string(i) + "]";
      Result<std::string> id = Id(conditions[i], at);
      if (!id.ok()) return id.status();
      const std::string cls = ClassName(*id);
      if (IsEventFilter(cls)) {
        if (auto f = EventFilter(cls, conditions[i], comments))
          event_conditions.push_back(std::move(*f));
        continue;
      }
      std::optional<std::string> t = Trigger(cls, conditions[i], at, comments, status);
      if (!status.ok()) return status;
      if (t) triggers.push_back(*t);
    }
    if (conditions.empty()) triggers.push_back("");  // Sentry treats no condition as every event

    std::vector<std::string> then =
        Actions(r.contains("actions") ? r["actions"] : empty, comments, where + " ", status);
    if (!status.ok()) return status;

    std::string repeat;
    if (const std::string f = Option(r, "frequency"); !f.empty()) {
      char* end = nullptr;
      const long minutes = std::strtol(f.c_str(), &end, 10);
      if (*end != '\0' || minutes < 0 || minutes > 43200) {
        return Error(where, "`frequency` must be minutes from 0 to 43200, not `" + f + "`");
      }
      if (minutes > 0) repeat = DurationText(minutes * 60000);
    } else {
      repeat = "30m";  // Sentry's default action interval
    }

    // Shape the rules.
    std::vector<std::pair<std::string, FilterExpr>> shapes;  // condition, extra filter
    if (action_match == "all") {
      std::string trigger;
      for (const std::string& t : triggers) {
        if (t.empty()) continue;  // every event holds whenever another condition does
        if (trigger.empty()) {
          trigger = t;
        } else {
          writer_.Dropped(comments, "`" + t + "` together with `" + trigger +
                                        "` (actionMatch all): a Klaxon rule has one condition");
        }
      }
      shapes.push_back({trigger, FilterExpr::And(std::move(event_conditions))});
    } else if (action_match == "any") {
      const bool every = std::count(triggers.begin(), triggers.end(), "") > 0;
      if (every) {
        shapes.push_back({"", FilterExpr::All()});
      } else {
        for (const std::string& t : triggers) shapes.push_back({t, FilterExpr::All()});
        if (!event_conditions.empty()) {
          shapes.push_back({"", FilterExpr::Or(std::move(event_conditions))});
        }
      }
      if (shapes.size() > 1) {
        comments.push_back(
            "actionMatch any: one Klaxon rule per condition; each notifies on "
            "its own");
      }
    } else {  // none
      for (const std::string& t : triggers) {
        if (!t.empty()) writer_.Dropped(comments, "`" + t + "` under actionMatch none");
      }
      FilterExpr none = event_conditions.empty()
                            ? FilterExpr::All()
                            : FilterExpr::Not(FilterExpr::Or(std::move(event_conditions)));
      shapes.push_back({"", std::move(none)});
    }
    if (shapes.empty()) shapes.push_back({"", FilterExpr::All()});

    const bool disabled = Option(r, "status") == "disabled";
    for (size_t i = 0; i < shapes.size(); ++i) {
      ImportedRule rule;
      rule.name = i == 0 ? base_name : writer_.UniqueName(base_name + "-" + std::to_string(i + 1));
      if (i == 0) rule.comments = comments;
      rule.condition = shapes[i].first;
      rule.filter = FilterExpr::And({shapes[i].second, filter});
      rule.then = then;
      // Issue alerts count and fire per issue; a new issue is one by definition.
      if (rule.condition != "new(issue)") {
        rule.group_by = {"issue"};
        rule.repeat = repeat;
      }
      if (disabled) rule.comments.push_back("disabled in Sentry");
      writer_.Add(std::move(rule));
    }
    (void)disabled;
    return Status::Ok();
  }

  std::string_view file_;
  RuleWriter writer_;
  std::map<std::string, std::string> actions_;  // action signature -> name, to share definitions
};

// "line L, column C" of a byte offset, for JSON syntax errors.
std::string Position(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return std::to_string(line) + ":" + std::to_string(offset - line_start + 1);
}

}  // namespace

Result<ImportOutput> ImportSentry(std::string_view text, std::string_view file_name) {
  if (text.size() > kMaxImportBytes) {
    return Status::InvalidArgument(std::string(file_name) +
                                   ": larger than 4 MiB; not a rules file");
  }
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::parse_error& e) {
    // e.byte is 1-based: the byte after the error.
    const size_t at = e.byte > 0 ? e.byte - 1 : 0;
    std::string message = e.what();
    if (const size_t p = message.rfind(": "); p != std::string::npos)
      message = message.substr(p + 2);
    return Status::InvalidArgument(std::string(file_name) + ":" + Position(text, at) +
                                   ": invalid JSON: " + message);
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(std::string(file_name) + ": invalid JSON: " + e.what());
  }
  try {
    return SentryImporter(file_name).Run(root);
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(std::string(file_name) + ": " + e.what());
  }
}

}  // namespace klaxon::importer
