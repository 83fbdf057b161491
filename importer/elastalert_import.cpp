// ElastAlert2 rule files (one rule per YAML file) -> Klaxon rules. Rule types, the query DSL
// subset and alerters are described in docs/sentry.md "Migrating alert rules"; yaml-cpp
// exceptions are caught here, the one place that calls yaml-cpp for imports.
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <set>
#include <tuple>

#include "importer/importer.h"
#include "importer/lucene_query.h"
#include "importer/rule_writer.h"

namespace klaxon::importer {
namespace {

// Header names that carry credentials: their values go to the environment, not into the file.
bool CredentialHeader(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* word : {"auth", "key", "token", "secret", "password", "cookie", "signature",
                           "session", "credential"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

constexpr int kMaxQueryDepth = 64;
constexpr int64_t kMaxWindowMs = 30 * 86400000LL;  // Klaxon's longest window

// Keys that say where ElastAlert reads from or how it runs, not when it alerts.
const std::set<std::string> kRuntimeKeys = {"index",
                                            "es_host",
                                            "es_port",
                                            "es_username",
                                            "es_password",
                                            "use_ssl",
                                            "verify_certs",
                                            "timestamp_field",
                                            "timestamp_type",
                                            "use_strftime_index",
                                            "doc_type",
                                            "description",
                                            "owner",
                                            "priority",
                                            "category",
                                            "buffer_time",
                                            "run_every",
                                            "scan_entire_timeframe",
                                            "use_count_query",
                                            "use_terms_query",
                                            "query_delay",
                                            "max_query_size",
                                            "es_conn_timeout",
                                            "is_enabled",
                                            "import",
                                            "alert_text_type",
                                            "alert_text_args",
                                            "alert_subject_args",
                                            "include",
                                            "top_count_keys",
                                            "top_count_number",
                                            "raw_count_keys",
                                            "kibana4_start_timedelta",
                                            "kibana4_end_timedelta",
                                            "generate_kibana_link",
                                            "use_kibana4_dashboard",
                                            "es_url_prefix",
                                            "five",
                                            "timestamp_format"};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class ElastAlertImporter {
 public:
  explicit ElastAlertImporter(std::string_view file)
      : file_(file),
        writer_("Imported from " + std::string(file) + " (ElastAlert2) by klaxon import.") {}

  Result<ImportOutput> Run(const YAML::Node& root) {
    if (!root.IsMap()) return Error(root, "an ElastAlert rule file must be a YAML mapping");
    for (const auto& kv : root) seen_.insert(kv.first.as<std::string>());
    Status s = Build(root);
    if (!s.ok()) return s;
    Result<ImportOutput> out = writer_.Finish();
    if (!out.ok())
      return Status::InvalidArgument(std::string(file_) + ": " + out.status().message());
    return out;
  }

 private:
  Status Error(const YAML::Node& n, const std::string& message) const {
    const YAML::Mark m = n.Mark();
    std::string where = std::string(file_);
    if (m.line >= 0) where += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
    return Status::InvalidArgument(where + ": " + message);
  }

  Result<std::string> Text(const YAML::Node& n, const std::string& what) const {
    if (!n.IsScalar()) return Error(n, "`" + what + "` must be a string");
    return n.as<std::string>();
  }

  Result<double> Number(const YAML::Node& n, const std::string& what) const {
    if (!n.IsScalar()) return Error(n, "`" + what + "` must be a number");
    const std::string s = n.as<std::string>();
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0) {
      return Error(n, "`" + what + "` must be a non-negative number, not `" + s + "`");
    }
    return v;
  }

  // ElastAlert's time spans are Python timedelta arguments: {minutes: 5}, {hours: 1, minutes: 30}.
  Result<int64_t> Span(const YAML::Node& n, const std::string& what) const {
    if (!n.IsMap()) return Error(n, "`" + what + "` must be a mapping such as {minutes: 5}");
    static const std::pair<const char*, double> kUnits[] = {
        {"weeks", 604800000.0}, {"days", 86400000.0}, {"hours", 3600000.0},
        {"minutes", 60000.0},   {"seconds", 1000.0},  {"milliseconds", 1.0}};
    double ms = 0;
    for (const auto& kv : n) {
      const std::string unit = kv.first.as<std::string>();
      double per = 0;
      for (const auto& [name, unit_ms] : kUnits) {
        if (unit == name) per = unit_ms;
      }
      if (per == 0) return Error(kv.first, "unknown unit `" + unit + "` in `" + what + "`");
      Result<double> amount = Number(kv.second, what + "." + unit);
      if (!amount.ok()) return amount.status();
      ms += *amount * per;
    }
    if (ms > 1e15) return Error(n, "`" + what + "` is out of range");
    return static_cast<int64_t>(std::llround(ms));
  }

  // A window in whole seconds from 1s to 30d, as Klaxon's windows are.
  Result<std::string> Window(const YAML::Node& root, const std::string& key) {
    YAML::Node n = Take(root, key);
    if (!n) return Error(root, "this rule type needs `" + key + "`");
    Result<int64_t> ms = Span(n, key);
    if (!ms.ok()) return ms.status();
    if (*ms < 1000 || *ms > kMaxWindowMs) {
      return Error(n, "`" + key + "` must be from 1 second to 30 days (Klaxon's window range)");
    }
    if (*ms % 1000 != 0) return Error(n, "`" + key + "` must be a whole number of seconds");
    return DurationText(*ms);
  }

  Result<std::vector<std::string>> Keys(const YAML::Node& n, const std::string& what) const {
    std::vector<std::string> out;
    if (n.IsScalar()) {
      for (size_t start = 0;;) {  // ElastAlert also accepts "a,b" for compound keys
        const size_t comma = n.Scalar().find(',', start);
        std::string k =
            n.Scalar().substr(start, comma == std::string::npos ? comma : comma - start);
        while (!k.empty() && k.front() == ' ') k.erase(0, 1);
        while (!k.empty() && k.back() == ' ') k.pop_back();
        if (!k.empty()) out.push_back(KlaxonKey(k));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (n.IsSequence()) {
      for (const auto& e : n) {
        if (!e.IsScalar()) return Error(e, "`" + what + "` must list field names");
        out.push_back(KlaxonKey(e.Scalar()));
      }
    } else {
      return Error(n, "`" + what + "` must be a field name or a list of them");
    }
    if (out.empty()) return Error(n, "`" + what + "` is empty");
    return out;
  }

  // One query DSL clause (or a list of them, all required).
  Result<FilterExpr> Query(const YAML::Node& n, int depth) {
    if (depth > kMaxQueryDepth) return Error(n, "the filter is nested more than 64 deep");
    if (n.IsSequence()) return All(n, depth);
    if (!n.IsMap() || n.size() != 1) {
      return Error(n,
                   "a filter must be a mapping with one query type, e.g. {term: {level: error}}");
    }
    const std::string type = n.begin()->first.as<std::string>();
    const YAML::Node body = n.begin()->second;
    if (type == "query" || type == "filter") return Query(body, depth + 1);
    if (type == "and") return All(body, depth);
    if (type == "or") {
      Result<FilterExpr> all = All(body, depth);
      if (!all.ok()) return all;
      // `or` holds a list like `and`; All joined it with AND, so rebuild as OR.
      std::vector<FilterExpr> parts;
      for (const auto& e : body) {
        Result<FilterExpr> f = Query(e, depth + 1);
        if (!f.ok()) return f;
        parts.push_back(std::move(*f));
      }
      return FilterExpr::Or(std::move(parts));
    }
    if (type == "not") {
      Result<FilterExpr> f = Query(body, depth + 1);
      if (!f.ok()) return f;
      return FilterExpr::Not(std::move(*f));
    }
    if (type == "bool") return Bool(body, depth);
    if (type == "query_string") {
      YAML::Node q = body.IsMap() ? body["query"] : body;
      if (!q || !q.IsScalar()) return Error(body, "query_string needs `query`");
      bool default_and = false;
      if (body.IsMap() && body["default_operator"]) {
        default_and = Lower(body["default_operator"].as<std::string>()) == "and";
      }
      if (body.IsMap() && body["default_field"]) {
        return Error(body["default_field"], "query_string's default_field has no equivalent");
      }
      Result<FilterExpr> f = ParseLuceneQuery(q.Scalar(), default_and);
      if (!f.ok()) return Error(q, f.status().message());
      return f;
    }
    if (type == "exists") {
      if (!body.IsMap() || !body["field"]) return Error(body, "exists needs `field`");
      return FilterExpr::Has(KlaxonKey(body["field"].as<std::string>()));
    }
    if (type == "term" || type == "terms" || type == "match" || type == "match_phrase" ||
        type == "wildcard" || type == "prefix" || type == "range") {
      if (!body.IsMap() || body.size() != 1) {
        return Error(body, type + " needs one field, e.g. {" + type + ": {level: error}}");
      }
      const std::string key = KlaxonKey(body.begin()->first.as<std::string>());
      YAML::Node v = body.begin()->second;
      if (type == "range") return Range(key, v);
      if (type == "terms") {
        if (!v.IsSequence() || v.size() == 0) return Error(v, "terms needs a list of values");
        std::vector<std::string> values;
        for (const auto& e : v) {
          if (!e.IsScalar()) return Error(e, "terms values must be scalars");
          values.push_back(e.Scalar());
        }
        return FilterExpr::Match(key, std::move(values));
      }
      if (v.IsMap()) v = v["value"] ? v["value"] : v["query"];
      if (!v || !v.IsScalar()) return Error(body, type + " needs a value");
      std::string value = v.Scalar();
      if (type == "wildcard" && value.find('?') != std::string::npos) {
        return Error(v, "the `?` wildcard has no equivalent (`*` has)");
      }
      if (type == "prefix") value += "*";
      if (type != "wildcard" && type != "prefix" && value.find('*') != std::string::npos) {
        return Error(v, "`*` in a " + type +
                            " value is literal in Elasticsearch but a wildcard "
                            "in Klaxon");
      }
      return FilterExpr::Match(key, {value});
    }
    return Error(n,
                 "the query type `" + type +
                     "` has no equivalent (supported: term, terms, "
                     "match, match_phrase, wildcard, prefix, range, exists, query_string, bool)");
  }

  Result<FilterExpr> All(const YAML::Node& n, int depth) {
    if (!n.IsSequence()) return Query(n, depth + 1);
    std::vector<FilterExpr> parts;
    for (const auto& e : n) {
      Result<FilterExpr> f = Query(e, depth + 1);
      if (!f.ok()) return f;
      parts.push_back(std::move(*f));
    }
    return FilterExpr::And(std::move(parts));
  }

  Result<FilterExpr> Bool(const YAML::Node& body, int depth) {
    if (!body.IsMap()) return Error(body, "bool needs must, filter, should or must_not");
    std::vector<FilterExpr> required;
    std::vector<FilterExpr> should;
    int64_t minimum_should = -1;
    for (const auto& kv : body) {
      const std::string part = kv.first.as<std::string>();
      if (part == "minimum_should_match") {
        Result<double> m = Number(kv.second, "minimum_should_match");
        if (!m.ok()) return m.status();
        minimum_should = static_cast<int64_t>(*m);
        continue;
      }
      if (part == "boost") continue;  // scores only
      if (part != "must" && part != "filter" && part != "should" && part != "must_not") {
        return Error(kv.first, "unknown bool clause `" + part + "`");
      }
      std::vector<YAML::Node> items;
      if (kv.second.IsSequence()) {
        for (const auto& e : kv.second) items.push_back(e);
      } else {
        items.push_back(kv.second);
      }
      for (const YAML::Node& e : items) {
        Result<FilterExpr> f = Query(e, depth + 1);
        if (!f.ok()) return f;
        if (part == "should") {
          should.push_back(std::move(*f));
        } else {
          required.push_back(part == "must_not" ? FilterExpr::Not(std::move(*f)) : std::move(*f));
        }
      }
    }
    // Elasticsearch: should clauses are optional when must or filter is present, unless
    // minimum_should_match says otherwise (bool query reference).
    const bool has_must = body["must"] || body["filter"];
    if (minimum_should < 0) minimum_should = has_must ? 0 : 1;
    if (minimum_should > 1) {
      return Error(body["minimum_should_match"], "minimum_should_match above 1 has no equivalent");
    }
    if (minimum_should == 1 && !should.empty())
      required.push_back(FilterExpr::Or(std::move(should)));
    return FilterExpr::And(std::move(required));
  }

  Result<FilterExpr> Range(const std::string& key, const YAML::Node& v) {
    if (!v.IsMap()) return Error(v, "range needs {gte: N, lt: N, ...}");
    std::vector<FilterExpr> parts;
    for (const auto& kv : v) {
      const std::string op = kv.first.as<std::string>();
      const char* sym = op == "gt"    ? ">"
                        : op == "gte" ? ">="
                        : op == "lt"  ? "<"
                        : op == "lte" ? "<="
                                      : nullptr;
      if (!sym) {
        if (op == "format" || op == "boost") continue;
        return Error(kv.first, "range bound `" + op + "` has no equivalent");
      }
      Result<double> n = Number(kv.second, "range." + op);
      if (!n.ok())
        return Error(kv.second, "range bounds must be numbers (dates have no equivalent)");
      parts.push_back(FilterExpr::Compare(key, sym, kv.second.Scalar()));
    }
    return FilterExpr::And(std::move(parts));
  }

  // Alerters -> actions; returns their names.
  Result<std::vector<std::string>> Alerters(const YAML::Node& root,
                                            std::vector<std::string>& notes) {
    std::vector<std::string> names;
    YAML::Node alert = root["alert"];
    seen_.erase("alert");
    if (!alert) return names;
    std::vector<YAML::Node> list;
    if (alert.IsSequence()) {
      for (const auto& e : alert) list.push_back(e);
    } else {
      list.push_back(alert);
    }
    auto take = [&](const char* key) -> YAML::Node {
      seen_.erase(key);
      return root[key];
    };
    for (const YAML::Node& a : list) {
      std::string kind;
      if (a.IsScalar()) {
        kind = a.Scalar();
      } else if (a.IsMap() && a.size() == 1) {
        kind = a.begin()->first.as<std::string>();
      } else {
        return Error(a, "an alerter is a name such as slack");
      }
      const std::string base = Lower(kind.substr(kind.rfind('.') + 1));
      ImportedAction action;
      if (base == "slack" || base == "slackalerter") {
        action.kind = "slack";
        action.name = writer_.UniqueName(rule_name_ + "-slack");
        if (YAML::Node url = take("slack_webhook_url"); url && url.IsSequence() && url.size() > 1) {
          writer_.Dropped(action.comments,
                          "slack_webhook_url lists several webhooks; Klaxon's "
                          "slack action posts to one");
        }
        action.args.push_back({"webhook", "env(\"" + EnvName(action.name, "WEBHOOK_URL") + "\")"});
        action.comments.push_back("set " + EnvName(action.name, "WEBHOOK_URL") +
                                  " to the rule's slack_webhook_url");
        if (YAML::Node c = take("slack_channel_override"); c && c.IsScalar()) {
          action.args.push_back({"channel", StringLiteral(c.Scalar())});
        }
        if (YAML::Node u = take("slack_username_override"); u && u.IsScalar()) {
          action.args.push_back({"username", StringLiteral(u.Scalar())});
        }
        if (YAML::Node e = take("slack_emoji_override"); e && e.IsScalar()) {
          action.args.push_back({"icon_emoji", StringLiteral(e.Scalar())});
        }
      } else if (base == "pagerduty" || base == "pagerdutyalerter") {
        action.kind = "pagerduty";
        action.name = writer_.UniqueName(rule_name_ + "-pagerduty");
        take("pagerduty_service_key");
        action.args.push_back(
            {"routing_key", "env(\"" + EnvName(action.name, "ROUTING_KEY") + "\")"});
        action.comments.push_back("set " + EnvName(action.name, "ROUTING_KEY") +
                                  " to the rule's pagerduty_service_key");
        if (YAML::Node c = take("pagerduty_client_name"); c && c.IsScalar()) {
          action.args.push_back({"client", StringLiteral(c.Scalar())});
        }
        if (YAML::Node s = take("pagerduty_v2_payload_severity"); s && s.IsScalar()) {
          const std::string sev = Lower(s.Scalar());
          if (sev == "critical" || sev == "error" || sev == "warning" || sev == "info") {
            action.args.push_back({"severity", StringLiteral(sev)});
          }
        }
      } else if (base == "jira" || base == "jiraalerter") {
        action.kind = "jira";
        action.name = writer_.UniqueName(rule_name_ + "-jira");
        YAML::Node server = take("jira_server");
        std::string url = server && server.IsScalar() ? server.Scalar() : "";
        if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
          action.args.push_back({"url", "env(\"" + EnvName(action.name, "URL") + "\")"});
        } else {
          action.args.push_back({"url", StringLiteral(url)});
        }
        YAML::Node project = take("jira_project");
        YAML::Node type = take("jira_issuetype");
        action.args.push_back(
            {"project", StringLiteral(project && project.IsScalar() ? project.Scalar() : "OPS")});
        action.args.push_back(
            {"issue_type", StringLiteral(type && type.IsScalar() ? type.Scalar() : "Bug")});
        take("jira_account_file");
        action.args.push_back({"token", "env(\"" + EnvName(action.name, "TOKEN") + "\")"});
        YAML::Node labels = take("jira_labels");
        if (!labels) labels = take("jira_label");
        if (labels) {
          std::string list = "[";
          std::vector<std::string> values;
          if (labels.IsScalar()) values.push_back(labels.Scalar());
          if (labels.IsSequence()) {
            for (const auto& l : labels) {
              if (l.IsScalar()) values.push_back(l.Scalar());
            }
          }
          for (size_t i = 0; i < values.size(); ++i)
            list += (i ? ", " : "") + StringLiteral(values[i]);
          action.args.push_back({"labels", list + "]"});
        }
        action.comments.push_back("the Jira credentials of jira_account_file go in the " +
                                  EnvName(action.name, "TOKEN") + " environment variable");
        for (const char* k :
             {"jira_priority", "jira_components", "jira_component", "jira_watchers",
              "jira_assignee", "jira_bump_tickets", "jira_max_age", "jira_transition_to"}) {
          if (take(k)) writer_.Dropped(action.comments, std::string(k));
        }
      } else if (base == "post" || base == "post2" || base == "httppostalerter" ||
                 base == "httppost2alerter") {
        const bool v2 = base.find('2') != std::string::npos;
        YAML::Node url = take(v2 ? "http_post2_url" : "http_post_url");
        action.kind = "webhook";
        action.name = writer_.UniqueName(rule_name_ + "-webhook");
        std::vector<std::string> urls;
        if (url && url.IsScalar()) urls.push_back(url.Scalar());
        if (url && url.IsSequence()) {
          for (const auto& u : url) {
            if (u.IsScalar()) urls.push_back(u.Scalar());
          }
        }
        if (urls.empty())
          return Error(
              a, "the post alerter needs " + std::string(v2 ? "http_post2_url" : "http_post_url"));
        if (urls.size() > 1) writer_.Dropped(action.comments, "every URL but the first");
        // A post URL often carries credentials (user:password@, a token in the path or query):
        // like every other action's endpoint it is read from the environment, never copied.
        const std::string url_env = EnvName(action.name, "URL");
        action.args.push_back({"url", "env(\"" + url_env + "\")"});
        action.comments.push_back("set " + url_env + " to the rule's " +
                                  (v2 ? "http_post2_url" : "http_post_url"));
        if (YAML::Node h = take(v2 ? "http_post2_headers" : "http_post_headers"); h && h.IsMap()) {
          std::string list = "[";
          bool first = true;
          int secret_headers = 0;
          for (const auto& kv : h) {
            if (!kv.second.IsScalar()) continue;
            const std::string name = kv.first.as<std::string>();
            std::string element = StringLiteral(name + ": " + kv.second.Scalar());
            if (CredentialHeader(name)) {
              const std::string env =
                  EnvName(action.name, "HEADER_" + std::to_string(++secret_headers));
              element = "env(\"" + env + "\")";
              action.comments.push_back("set " + env + " to the header line \"" + name +
                                        ": ...\" of the rule's " +
                                        (v2 ? "http_post2_headers" : "http_post_headers"));
            }
            list += (first ? "" : ", ") + element;
            first = false;
          }
          if (!first) action.args.push_back({"headers", list + "]"});
        }
        for (const char* k :
             {"http_post_payload", "http_post_static_payload", "http_post_all_values",
              "http_post2_payload", "http_post2_raw_fields"}) {
          if (take(k)) {
            writer_.Dropped(action.comments, std::string(k) +
                                                 " (Klaxon sends its own JSON body; "
                                                 "a `body` template can shape it)");
          }
        }
      } else {
        writer_.Dropped(notes, "the `" + kind +
                                   "` alerter (Klaxon's actions are slack, "
                                   "pagerduty, jira, webhook and log)");
        // Its settings (email, email_reply_to, smtp_host, ...) go with it.
        for (auto it = seen_.begin(); it != seen_.end();) {
          const bool own = *it == base || it->rfind(base + "_", 0) == 0 ||
                           (base == "email" && it->rfind("smtp_", 0) == 0);
          it = own ? seen_.erase(it) : std::next(it);
        }
        continue;
      }
      names.push_back(action.name);
      writer_.Add(std::move(action));
    }
    return names;
  }

  YAML::Node Take(const YAML::Node& root, const std::string& key) {
    seen_.erase(key);
    return root[key];
  }

  Status Build(const YAML::Node& root) {
    YAML::Node name = Take(root, "name");
    if (!name) return Error(root, "the rule has no `name`");
    Result<std::string> name_text = Text(name, "name");
    if (!name_text.ok()) return name_text.status();
    YAML::Node type_node = Take(root, "type");
    if (!type_node) return Error(root, "the rule has no `type`");
    Result<std::string> type_text = Text(type_node, "type");
    if (!type_text.ok()) return type_text.status();
    const std::string type = Lower(type_text->substr(type_text->rfind('.') + 1));

    ImportedRule rule;
    rule_name_ = writer_.UniqueName(*name_text);
    rule.name = rule_name_;
    if (*name_text != rule.name) rule.comments.push_back("ElastAlert rule: " + *name_text);

    FilterExpr filter;
    if (YAML::Node f = Take(root, "filter"); f && !f.IsNull()) {
      Result<FilterExpr> q = Query(f, 0);
      if (!q.ok()) return q.status();
      filter = std::move(*q);
    }
    if (YAML::Node qk = Take(root, "query_key"); qk) {
      Result<std::vector<std::string>> keys = Keys(qk, "query_key");
      if (!keys.ok()) return keys.status();
      rule.group_by = *keys;
    }
    Take(root, "compound_query_key");

    // realert: ElastAlert waits this long (default 1 minute) before alerting again on a key.
    int64_t realert_ms = 60000;
    if (YAML::Node r = Take(root, "realert"); r) {
      Result<int64_t> ms = Span(r, "realert");
      if (!ms.ok()) return ms.status();
      realert_ms = *ms;
    }
    if (realert_ms > 0 && realert_ms < 1000) realert_ms = 1000;
    if (realert_ms > 0) rule.repeat = DurationText(std::min<int64_t>(realert_ms, kMaxWindowMs));

    if (YAML::Node s = Take(root, "alert_subject"); s && s.IsScalar()) {
      if (s.Scalar().find('{') == std::string::npos) {
        rule.summary = s.Scalar();
      } else {
        writer_.Dropped(rule.comments,
                        "alert_subject with Python format arguments; write a "
                        "summary with {{placeholders}}");
      }
    }
    if (Take(root, "alert_text"))
      rule.comments.push_back(
          "alert_text is not imported: Klaxon's "
          "actions write their own message");

    std::vector<std::string> notes;
    Result<std::vector<std::string>> then = Alerters(root, notes);
    if (!then.ok()) return then.status();
    rule.then = *then;
    for (std::string& n : notes) rule.comments.push_back(std::move(n));

    std::vector<ImportedRule> out;
    auto with = [&](std::string condition, FilterExpr f) {
      ImportedRule r = rule;
      r.comments.clear();  // the shared comments go on the first rule, at the end
      r.condition = std::move(condition);
      r.filter = std::move(f);
      return r;
    };
    auto number = [&](const char* key) -> Result<double> {
      YAML::Node n = Take(root, key);
      if (!n) return Error(root, "the " + type + " rule type needs `" + key + "`");
      return Number(n, key);
    };
    // An upper bound (`>`) and/or a lower bound (`<`): one rule each, suffixed when both.
    auto bounds = [&](const char* max_key, const char* min_key, const std::string& head,
                      const std::string& tail, const FilterExpr& f) -> Status {
      YAML::Node max = Take(root, max_key);
      YAML::Node min = Take(root, min_key);
      if (!max && !min) {
        return Error(root, "the " + type + " rule type needs " + max_key + " or " + min_key);
      }
      for (const auto& [node, key, op, suffix] :
           {std::tuple{max, max_key, "> ", "-max"}, std::tuple{min, min_key, "< ", "-min"}}) {
        if (!node) continue;
        Result<double> n = Number(node, key);
        if (!n.ok()) return n.status();
        out.push_back(with(head + op + NumberText(*n) + tail, f));
        if (max && min) out.back().name = writer_.UniqueName(rule_name_ + suffix);
      }
      return Status::Ok();
    };

    if (type == "any") {
      out.push_back(with("", filter));
    } else if (type == "frequency") {
      Result<double> n = number("num_events");
      if (!n.ok()) return n.status();
      Result<std::string> w = Window(root, "timeframe");
      if (!w.ok()) return w.status();
      // ElastAlert matches when at least num_events happened within timeframe.
      out.push_back(with("frequency >= " + NumberText(*n) + " in " + *w, filter));
      if (Take(root, "use_count_query") || Take(root, "use_terms_query")) {
        rule.comments.push_back(
            "use_count_query / use_terms_query change how ElastAlert "
            "queries, not what it counts");
      }
    } else if (type == "flatline") {
      Result<double> n = number("threshold");
      if (!n.ok()) return n.status();
      Result<std::string> w = Window(root, "timeframe");
      if (!w.ok()) return w.status();
      out.push_back(with("frequency < " + NumberText(*n) + " in " + *w, filter));
      if (Take(root, "forget_keys")) {
        writer_.Dropped(out.back().comments,
                        "forget_keys (Klaxon keeps watching a group "
                        "until it has been silent for its window)");
      }
    } else if (type == "spike") {
      Result<double> h = number("spike_height");
      if (!h.ok()) return h.status();
      if (*h <= 0) return Error(root["spike_height"], "spike_height must be positive");
      Result<std::string> w = Window(root, "timeframe");
      if (!w.ok()) return w.status();
      std::string spike_type = "both";
      if (YAML::Node st = Take(root, "spike_type"); st && st.IsScalar())
        spike_type = Lower(st.Scalar());
      if (spike_type != "up" && spike_type != "down" && spike_type != "both") {
        return Error(root["spike_type"], "spike_type must be up, down or both");
      }
      // ElastAlert: up when cur >= ref * spike_height, down when cur <= ref / spike_height,
      // comparing the last timeframe with the one before it.
      const std::string change = "frequency in " + *w + " ";
      const std::string ago = " of " + *w + " ago";
      if (spike_type != "down") {
        out.push_back(with(change + ">= " + NumberText(100 * *h) + "%" + ago, filter));
        out.back().name =
            spike_type == "both" ? writer_.UniqueName(rule_name_ + "-up") : rule_name_;
      }
      if (spike_type != "up") {
        out.push_back(with(change + "<= " + NumberText(100 / *h) + "%" + ago, filter));
        out.back().name =
            spike_type == "both" ? writer_.UniqueName(rule_name_ + "-down") : rule_name_;
      }
      for (const char* k : {"threshold_ref", "threshold_cur", "alert_on_new_data"}) {
        if (Take(root, k)) {
          writer_.Dropped(out.front().comments,
                          std::string(k) + " (a change rule compares counts without minimums)");
        }
      }
      if (spike_type == "both") {
        out.front().comments.push_back("spike_type: both is two rules, up and down");
      }
    } else if (type == "cardinality") {
      YAML::Node field = Take(root, "cardinality_field");
      if (!field || !field.IsScalar())
        return Error(root, "the cardinality rule type needs `cardinality_field`");
      Result<std::string> w = Window(root, "timeframe");
      if (!w.ok()) return w.status();
      Status s = bounds("max_cardinality", "min_cardinality",
                        "unique(" + KlaxonKey(field.Scalar()) + ") ", " in " + *w, filter);
      if (!s.ok()) return s;
    } else if (type == "percentage_match") {
      YAML::Node bucket = Take(root, "match_bucket_filter");
      if (!bucket) return Error(root, "the percentage_match rule type needs `match_bucket_filter`");
      Result<FilterExpr> numerator = Query(bucket, 0);
      if (!numerator.ok()) return numerator.status();
      std::string window = "45m";  // ElastAlert's buffer_time default
      if (root["buffer_time"]) {
        Result<std::string> w = Window(root, "buffer_time");
        if (!w.ok()) return w.status();
        window = *w;
      } else {
        rule.comments.push_back(
            "no buffer_time: ElastAlert's global default of 45 minutes is "
            "the window");
      }
      const std::string num = numerator->IsAll() ? "has:event_id" : RenderFilter(*numerator);
      const std::string den = filter.IsAll() ? "has:event_id" : RenderFilter(filter);
      Status s = bounds("max_percentage", "min_percentage", "ratio(" + num + ", " + den + ") ",
                        "% in " + window, FilterExpr::All());
      if (!s.ok()) return s;
      if (Take(root, "min_denominator")) {
        writer_.Dropped(out.front().comments,
                        "min_denominator (a ratio rule has no minimum "
                        "number of events)");
      }
    } else if (type == "new_term" || type == "change" || type == "blacklist" ||
               type == "whitelist") {
      const bool new_term = type == "new_term";
      YAML::Node keys_node = Take(root, new_term ? "fields" : "compare_key");
      if (!keys_node && new_term && !rule.group_by.empty()) {
        // new_term without `fields` watches query_key.
        for (const std::string& k : rule.group_by) {
          out.push_back(with("new(" + k + ")", filter));
        }
        rule.group_by.clear();
        for (ImportedRule& r : out) r.group_by.clear();
      } else {
        if (!keys_node)
          return Error(root, "the " + type + " rule type needs `" +
                                 std::string(new_term ? "fields" : "compare_key") + "`");
        if (new_term && keys_node.IsSequence()) {
          for (const auto& e : keys_node) {
            if (e.IsSequence()) {
              writer_.Dropped(rule.comments,
                              "a composite new_term field (a list of fields): "
                              "Klaxon's new() watches one field");
            }
          }
        }
        std::vector<std::string> keys;
        if (keys_node.IsSequence()) {
          for (const auto& e : keys_node) {
            if (e.IsScalar()) keys.push_back(KlaxonKey(e.Scalar()));
          }
        } else {
          Result<std::vector<std::string>> k = Keys(keys_node, "compare_key");
          if (!k.ok()) return k.status();
          keys = *k;
        }
        if (type == "blacklist" || type == "whitelist") {
          YAML::Node list = Take(root, type);
          if (!list || !list.IsSequence())
            return Error(root, "the " + type + " rule type needs a `" + type + "` list");
          std::vector<std::string> values;
          for (const auto& e : list) {
            if (e.IsScalar()) values.push_back(e.Scalar());
          }
          if (values.empty()) return Error(list, "`" + type + "` is empty");
          FilterExpr in = FilterExpr::Match(keys.front(), values);
          if (type == "whitelist") {
            bool ignore_null = false;
            if (YAML::Node n = Take(root, "ignore_null"); n && n.IsScalar())
              ignore_null = n.Scalar() == "true";
            in = ignore_null ? FilterExpr::And({FilterExpr::Has(keys.front()), FilterExpr::Not(in)})
                             : FilterExpr::Not(in);
          }
          out.push_back(with("", FilterExpr::And({filter, in})));
        } else if (new_term) {
          for (const std::string& k : keys) out.push_back(with("new(" + k + ")", filter));
          rule.comments.push_back(
              "new_term: Klaxon remembers values from when it starts, "
              "not from a terms_window_size look-back");
          for (ImportedRule& r : out) r.group_by.clear();
        } else {  // change
          if (keys.size() > 1) writer_.Dropped(rule.comments, "compare_key fields after the first");
          if (rule.group_by.empty()) return Error(root, "the change rule type needs `query_key`");
          out.push_back(with("new(" + keys.front() + ")", filter));
          writer_.Dropped(out.back().comments,
                          "change: Klaxon's new() per query_key fires on a value never seen for "
                          "that key, also the first one, and not when an earlier value comes back");
          for (const char* k : {"ignore_null", "timeframe"}) Take(root, k);
        }
        if (out.size() > 1) {
          for (size_t i = 0; i < out.size(); ++i) {
            out[i].name = writer_.UniqueName(rule_name_ + "-" + std::to_string(i + 1));
          }
        }
      }
      if (new_term) {
        for (const char* k : {"terms_window_size", "window_step_size", "alert_on_missing_field",
                              "use_keyword_postfix", "use_terms_query", "terms_size"}) {
          Take(root, k);
        }
      }
    } else {
      writer_.FileDropped("the rule `" + *name_text + "` of type `" + *type_text +
                          "` (no Klaxon equivalent; importable types: any, frequency, spike, "
                          "flatline, change, new_term, cardinality, percentage_match, "
                          "blacklist, whitelist)");
      return Status::Ok();
    }

    // Everything left in the file: runtime settings are noted, the rest is reported.
    std::vector<std::string> runtime;
    std::vector<std::string> unknown;
    for (const std::string& k : seen_) {
      (kRuntimeKeys.count(k) ? runtime : unknown).push_back(k);
    }
    if (out.empty()) {  // e.g. new_term over composite fields only
      for (const std::string& c : rule.comments) writer_.FileComment(c);
      writer_.FileDropped("the rule `" + *name_text + "`: nothing in it has a Klaxon equivalent");
      return Status::Ok();
    }
    ImportedRule& first = out.front();
    first.comments.insert(first.comments.begin(), rule.comments.begin(), rule.comments.end());
    if (!runtime.empty()) {
      std::string list;
      for (const std::string& k : runtime) list += (list.empty() ? "" : ", ") + k;
      first.comments.push_back("ElastAlert settings with no effect on when to alert: " + list);
    }
    for (const std::string& k : unknown) writer_.Dropped(first.comments, "`" + k + "`");
    for (ImportedRule& r : out) writer_.Add(std::move(r));
    return Status::Ok();
  }

  std::string_view file_;
  RuleWriter writer_;
  std::set<std::string> seen_;  // top-level keys not yet read
  std::string rule_name_;
};

}  // namespace

Result<ImportOutput> ImportElastAlert(std::string_view text, std::string_view file_name) {
  if (text.size() > kMaxImportBytes) {
    return Status::InvalidArgument(std::string(file_name) + ": larger than 4 MiB; not a rule file");
  }
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root || root.IsNull()) {
      return Status::InvalidArgument(std::string(file_name) + ": empty file");
    }
    return ElastAlertImporter(file_name).Run(root);
  } catch (const YAML::Exception& e) {
    std::string where = std::string(file_name);
    if (e.mark.line >= 0) {
      where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    }
    return Status::InvalidArgument(where + ": invalid YAML: " + e.msg);
  }
}

}  // namespace klaxon::importer
