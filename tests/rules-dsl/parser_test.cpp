// The rule language mapped into the engine's rule model: one test per construct.
#include <doctest/doctest.h>

#include <string>

#include "rules-dsl/rules_dsl.h"

namespace {

using klaxon::CompareOp;
using klaxon::Condition;
using klaxon::FieldRef;
using klaxon::Predicate;
using klaxon::Rule;
using klaxon::rules_dsl::LoadResult;
using klaxon::rules_dsl::ParseAndCheck;

constexpr const char* kActions = "action log = log()\n";

LoadResult Load(const std::string& text) { return ParseAndCheck({{"t.rules", text}}); }

std::string Errors(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += klaxon::rules_dsl::FormatDiagnostic(d);
  return out;
}

// The one rule of `when CONDITION` (plus `then log`), which must check cleanly.
Rule OneRule(const std::string& when, const std::string& extra = "") {
  const LoadResult r =
      Load(std::string(kActions) + "rule r {\n  when " + when + "\n" + extra + "  then log\n}\n");
  INFO(Errors(r));
  REQUIRE(r.ok());
  REQUIRE(r.diagnostics.empty());
  REQUIRE(r.rules.rules.size() == 1);
  return r.rules.rules[0];
}

Predicate Filter(const std::string& filter) { return OneRule(filter).filter; }

}  // namespace

TEST_CASE("the issue's orders example maps to the rule model") {
  const std::string text = R"RULES(# Sentry-style error alerting for the orders service
action prod-slack = slack(webhook: env("SLACK_WEBHOOK_URL"), channel: "#alerts-prod")
action incidents  = webhook(url: "https://incidents.example.com/hook", secret: env("INCIDENT_HOOK_SECRET"))
action oncall     = pagerduty(routing_key: env("PD_ROUTING_KEY"))
action ops-jira   = jira(url: "https://acme.atlassian.net", project: "OPS", issue_type: "Bug",
                         user: env("JIRA_USER"), token: env("JIRA_TOKEN"))

rule orders-db-errors {
  when frequency > 5/min for service:orders-api AND exception.type:DatabaseError
  group by environment
  severity critical
  summary "{{count}} DatabaseErrors on orders-api in the last minute ({{group.environment}})"
  then prod-slack, incidents, oncall, ops-jira
}
)RULES";
  const LoadResult r = Load(text);
  INFO(Errors(r));
  REQUIRE(r.ok());
  REQUIRE(r.rules.actions.size() == 4);
  const auto& jira = r.rules.actions[3];
  CHECK(jira.name == "ops-jira");
  CHECK(jira.kind == "jira");
  REQUIRE(jira.args.size() == 5);
  CHECK(jira.args[3].key == "user");
  CHECK(jira.args[3].value.kind == klaxon::ActionValue::Kind::kEnv);
  CHECK(jira.args[3].value.text == "JIRA_USER");
  CHECK(jira.args[3].pos.line == 6);
  CHECK(jira.args[3].pos.column == 26);
  REQUIRE(r.rules.rules.size() == 1);
  const Rule& rule = r.rules.rules[0];
  CHECK(rule.name == "orders-db-errors");
  CHECK(rule.pos.line == 8);
  CHECK(rule.condition.kind == Condition::Kind::kCount);
  CHECK(rule.condition.op == CompareOp::kGt);
  CHECK(rule.condition.threshold == 5);
  CHECK(rule.condition.window_ms == 60000);
  REQUIRE(rule.filter.kind == Predicate::Kind::kAnd);
  REQUIRE(rule.filter.children.size() == 2);
  const Predicate& service = rule.filter.children[0];
  CHECK(service.kind == Predicate::Kind::kMatch);
  CHECK(service.field.kind == FieldRef::Kind::kPathThenTag);
  CHECK(service.field.tag == "service");
  CHECK(service.values == std::vector<std::string>{"orders-api"});
  const Predicate& type = rule.filter.children[1];
  CHECK(type.field.kind == FieldRef::Kind::kPath);
  CHECK(type.field.path == std::vector<std::string>{"exception", "values", "type"});
  CHECK(type.field.array_at == 2);
  CHECK(type.pos.line == 9);
  CHECK(type.pos.column == 53);
  REQUIRE(rule.group_by.size() == 1);
  CHECK(rule.group_by[0].path == std::vector<std::string>{"environment"});
  CHECK(rule.severity == klaxon::Severity::kCritical);
  CHECK(rule.summary ==
        "{{count}} DatabaseErrors on orders-api in the last minute ({{group.environment}})");
  CHECK(rule.actions == std::vector<std::string>{"prod-slack", "incidents", "oncall", "ops-jira"});
}

TEST_CASE("count conditions: per-unit and `in` windows, all units") {
  Rule r = OneRule("frequency >= 100/5m");
  CHECK(r.condition.kind == Condition::Kind::kCount);
  CHECK(r.condition.op == CompareOp::kGe);
  CHECK(r.condition.threshold == 100);
  CHECK(r.condition.window_ms == 5 * 60000);
  CHECK(r.filter.kind == Predicate::Kind::kTrue);
  r = OneRule("frequency > 1000 in 1h");
  CHECK(r.condition.window_ms == 3600000);
  CHECK(OneRule("frequency > 1/sec").condition.window_ms == 1000);
  CHECK(OneRule("frequency > 1 in 30s").condition.window_ms == 30000);
  CHECK(OneRule("frequency > 1/hour").condition.window_ms == 3600000);
  CHECK(OneRule("frequency > 1/day").condition.window_ms == 86400000);
  CHECK(OneRule("frequency > 1 in 2days").condition.window_ms == 2 * 86400000LL);
  CHECK(OneRule("frequency > 1/week").condition.window_ms == 7 * 86400000LL);
  CHECK(OneRule("frequency > 1 in 3weeks").condition.window_ms == 21 * 86400000LL);
  CHECK(OneRule("frequency > 1 in 30d").condition.window_ms == 30 * 86400000LL);
  CHECK(OneRule("frequency > 2.5/min").condition.threshold == 2.5);
  CHECK(OneRule("FREQUENCY > 5/MIN").condition.window_ms == 60000);
}

TEST_CASE("absence, unique, change, ratio, new value and filter-only conditions") {
  Rule r = OneRule("frequency < 1 in 10m for service:checkout");
  CHECK(r.condition.kind == Condition::Kind::kCount);
  CHECK(r.condition.op == CompareOp::kLt);
  CHECK(r.condition.threshold == 1);
  CHECK(r.condition.window_ms == 600000);
  CHECK(r.filter.kind == Predicate::Kind::kMatch);

  r = OneRule("unique(user.id) > 50 in 1h");
  CHECK(r.condition.kind == Condition::Kind::kUnique);
  CHECK(r.condition.field.path == std::vector<std::string>{"user", "id"});
  CHECK(r.condition.threshold == 50);
  CHECK(r.condition.window_ms == 3600000);

  r = OneRule("frequency in 1h > 150% of 1d ago");
  CHECK(r.condition.kind == Condition::Kind::kChange);
  CHECK(r.condition.threshold == 150);
  CHECK(r.condition.window_ms == 3600000);
  CHECK(r.condition.offset_ms == 86400000);

  r = OneRule("ratio(exception.type:DatabaseError, service:orders-api) > 5% in 15m");
  CHECK(r.condition.kind == Condition::Kind::kRatio);
  CHECK(r.condition.threshold == 5);
  CHECK(r.condition.window_ms == 900000);
  CHECK(r.condition.numerator.field.name == "exception.type");
  CHECK(r.condition.denominator.field.tag == "service");
  CHECK(r.condition.denominator.values == std::vector<std::string>{"orders-api"});

  r = OneRule("new(release) for level:fatal");
  CHECK(r.condition.kind == Condition::Kind::kNewValue);
  CHECK(r.condition.field.path == std::vector<std::string>{"release"});
  CHECK(r.filter.kind == Predicate::Kind::kMatch);
  CHECK(r.filter.values == std::vector<std::string>{"fatal"});

  r = OneRule("level:fatal");
  CHECK(r.condition.kind == Condition::Kind::kEvery);
  CHECK(r.filter.field.name == "level");
}

TEST_CASE("filters: values, lists, negation, has, comparisons, precedence") {
  Predicate p = Filter("transaction:/api/0/orders/");
  CHECK(p.values == std::vector<std::string>{"/api/0/orders/"});
  p = Filter(R"(message:"connection \"db-1\" lost")");
  CHECK(p.values == std::vector<std::string>{"connection \"db-1\" lost"});
  p = Filter("service:orders-*");
  CHECK(p.values == std::vector<std::string>{"orders-*"});
  p = Filter("level:[error, fatal, \"warning\"]");
  CHECK(p.values == std::vector<std::string>{"error", "fatal", "warning"});
  p = Filter("!level:info");
  REQUIRE(p.kind == Predicate::Kind::kNot);
  CHECK(p.children[0].field.name == "level");
  p = Filter("not level:info");
  CHECK(p.kind == Predicate::Kind::kNot);
  p = Filter("has:user.id");
  CHECK(p.kind == Predicate::Kind::kHas);
  CHECK(p.field.path == std::vector<std::string>{"user", "id"});
  p = Filter("extra.latency_ms:>=250.5");
  CHECK(p.kind == Predicate::Kind::kCompare);
  CHECK(p.op == CompareOp::kGe);
  CHECK(p.number == 250.5);
  CHECK(Filter("x:>5").op == CompareOp::kGt);
  CHECK(Filter("x:<5").op == CompareOp::kLt);
  CHECK(Filter("x:<=-5").number == -5);

  // NOT binds tighter than AND, AND tighter than OR; side by side means AND.
  p = Filter("a:1 OR b:2 AND NOT c:3");
  REQUIRE(p.kind == Predicate::Kind::kOr);
  CHECK(p.children[0].kind == Predicate::Kind::kMatch);
  REQUIRE(p.children[1].kind == Predicate::Kind::kAnd);
  CHECK(p.children[1].children[1].kind == Predicate::Kind::kNot);
  p = Filter("a:1 b:2 or c:3");
  REQUIRE(p.kind == Predicate::Kind::kOr);
  CHECK(p.children[0].kind == Predicate::Kind::kAnd);
  p = Filter("(a:1 OR b:2) c:3");
  REQUIRE(p.kind == Predicate::Kind::kAnd);
  CHECK(p.children[0].kind == Predicate::Kind::kOr);
  // Values are case-sensitive, keywords are not.
  p = Filter("level:Error and tags[Level]:error");
  CHECK(p.kind == Predicate::Kind::kAnd);
  CHECK(p.children[0].values == std::vector<std::string>{"Error"});
}

TEST_CASE("field keys: a bare key one edit from a built-in warns, and still reads the tag") {
  auto warnings = [](const std::string& when, const std::string& extra = "") {
    const LoadResult r =
        Load(std::string(kActions) + "rule r {\n  when " + when + "\n" + extra + "  then log\n}\n");
    INFO(Errors(r));
    REQUIRE(r.ok());
    REQUIRE(r.rules.rules.size() == 1);
    return r.warning_count();
  };
  CHECK(warnings("levle:error") == 1);
  CHECK(warnings("Level:error") == 1);  // keys are case-sensitive: `Level` is a tag
  CHECK(warnings("new(relase)") == 1);
  CHECK(warnings("unique(enviornment) > 2 in 5m") == 1);
  CHECK(warnings("frequency > 2/min", "  group by enviroment\n") == 1);
  const Rule r = OneRule("frequency > 2/min", "  group by tags[enviroment]\n");
  CHECK(r.group_by[0].kind == FieldRef::Kind::kTag);
  // Two edits, a dotted key or a plain tag name: quiet.
  CHECK(warnings("frequency > 2/min", "  group by host, site, product, username, envirment\n") ==
        0);
  CHECK(warnings("contexts.levle:error AND service:api") == 0);
}

TEST_CASE("field keys: built-ins, aliases, paths and tags") {
  FieldRef f = Filter("http.url:x").field;
  CHECK(f.kind == FieldRef::Kind::kPath);
  CHECK(f.path == std::vector<std::string>{"request", "url"});
  f = Filter("os.name:iOS").field;
  CHECK(f.path == std::vector<std::string>{"contexts", "os", "name"});
  f = Filter("exception.value:timeout").field;
  CHECK(f.array_at == 2);
  f = Filter("tags[app.build]:1").field;
  CHECK(f.kind == FieldRef::Kind::kTag);
  CHECK(f.tag == "app.build");
  f = Filter("contexts.gpu.vendor:nvidia").field;
  CHECK(f.kind == FieldRef::Kind::kPathThenTag);
  CHECK(f.path == std::vector<std::string>{"contexts", "gpu", "vendor"});
  CHECK(f.tag == "contexts.gpu.vendor");
  f = Filter("service:x").field;
  CHECK(f.kind == FieldRef::Kind::kPathThenTag);
  CHECK(f.tag == "service");
  CHECK(f.name == "service");
}

TEST_CASE("lifecycle clauses, labels, description, enabled") {
  const Rule r = OneRule("frequency > 5/min",
                         "  description \"runbook: {{labels.runbook}} {{event.message}}\"\n"
                         "  pending 2m\n  keep firing for 5m\n  repeat every 30m\n"
                         "  labels { team: \"payments\", runbook: \"https://r/x\" }\n"
                         "  enabled false\n  severity info\n  group by environment, tags[a.b]\n");
  CHECK(r.pending_ms == 120000);
  CHECK(r.keep_firing_ms == 300000);
  CHECK(r.repeat_ms == 1800000);
  REQUIRE(r.labels.size() == 2);
  CHECK(r.labels[0] == std::pair<std::string, std::string>{"team", "payments"});
  CHECK_FALSE(r.enabled);
  CHECK(r.severity == klaxon::Severity::kInfo);
  REQUIRE(r.group_by.size() == 2);
  CHECK(r.group_by[1].kind == FieldRef::Kind::kTag);
  CHECK(r.description == "runbook: {{labels.runbook}} {{event.message}}");
}

TEST_CASE("every checked rule carries its id, as the engine computes it") {
  // Listings and payloads are built from the loaded set, not from the engine's copy.
  const Rule r = OneRule("frequency > 5/min for service:orders-api");
  CHECK(r.id.size() == 16);
  CHECK(r.id == klaxon::ComputeRuleId(r));
  CHECK(OneRule("frequency > 6/min for service:orders-api").id != r.id);
}

TEST_CASE("action values of every type, spanning lines") {
  const LoadResult r = Load(
      "action a = webhook(url: \"https://x\", rate_limit: 500ms, send_resolved: false,\n"
      "    headers: [\"A: b\", \"C: d\",], secret: [env(\"S1\"), file(\"/run/s2\")], n: -2.5,)\n");
  INFO(Errors(r));
  REQUIRE(r.diagnostics.empty());  // no validator plugged in here
  const auto& args = r.rules.actions.at(0).args;
  REQUIRE(args.size() == 6);
  CHECK(args[1].value.kind == klaxon::ActionValue::Kind::kDuration);
  CHECK(args[1].value.duration_ms == 500);
  CHECK(args[2].value.kind == klaxon::ActionValue::Kind::kBool);
  CHECK_FALSE(args[2].value.boolean);
  CHECK(args[3].value.list.size() == 2);
  CHECK(args[4].value.list[1].kind == klaxon::ActionValue::Kind::kFile);
  CHECK(args[4].value.list[1].text == "/run/s2");
  CHECK(args[5].value.number == -2.5);
}

TEST_CASE("all files share one namespace; errors of every file are collected") {
  const LoadResult r = ParseAndCheck(
      {{"a.rules", "action log = log()\nrule x {\n  when level:error\n  then log\n}\n"},
       {"b.rules",
        "rule x {\n  when level:error\n  then log, lgo\n}\n"
        "rule y {\n  when frequency > 5\n}\n"}});
  CHECK_FALSE(r.ok());
  REQUIRE(r.diagnostics.size() == 3);
  CHECK(r.diagnostics[0].file == "b.rules");
  CHECK(r.diagnostics[0].message == "duplicate rule `x`");
  CHECK(r.diagnostics[0].hint == "first defined at a.rules:2:6");
  CHECK(r.diagnostics[1].message == "unknown action `lgo`");
  CHECK(r.diagnostics[1].hint == "did you mean `log`? defined actions: log");
  CHECK(r.diagnostics[2].line == 6);
  CHECK(r.diagnostics[2].source_line == "  when frequency > 5");
}

TEST_CASE("diagnostic display: caret under the column, hint last") {
  klaxon::rules_dsl::Diagnostic d{"f.rules", 2, 8, "error", "boom", "try this", "\twhen x"};
  CHECK(klaxon::rules_dsl::FormatDiagnostic(d) ==
        "f.rules:2:8: error: boom\n   when x\n         ^\n  hint: try this\n");
}

TEST_CASE("hostile input: deep nesting, huge files, binary junk") {
  std::string deep =
      std::string(kActions) + "rule r {\n  when " + std::string(100000, '(') + "\n}\n";
  LoadResult r = Load(deep);
  REQUIRE_FALSE(r.ok());
  CHECK(r.diagnostics[0].message == "parentheses nested too deeply");
  klaxon::rules_dsl::CheckOptions small;
  small.max_file_bytes = 10;
  r = ParseAndCheck({{"big.rules", std::string(11, '#')}}, small);
  CHECK(r.diagnostics.at(0).message == "file too large");
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>((i * 131) % 256));
  r = Load(junk);
  CHECK_FALSE(r.ok());
  // Many NOTs and ORs stay linear.
  std::string wide = "a:1";
  for (int i = 0; i < 20000; ++i) wide += " OR !a:" + std::to_string(i);
  const Rule rule = OneRule(wide);
  CHECK(rule.filter.children.size() == 20001);
}

TEST_CASE("hostile input: the number of diagnostics is bounded") {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "rule r" + std::to_string(i) + " {\n  when x\n}\n";
  const LoadResult r = Load(text);
  REQUIRE(r.diagnostics.size() == 1001);
  CHECK(r.diagnostics.back().message == "too many problems; stopped after 1000");
  CHECK(klaxon::rules_dsl::FormatDiagnostic(r.diagnostics.back()).starts_with("error: too many"));
}

TEST_CASE("a UTF-8 byte order mark and CRLF line ends are accepted") {
  const LoadResult r = Load(
      "\xEF\xBB\xBF# comment\r\naction log = log()\r\n\r\nrule r {\r\n"
      "  when level:error  # c\r\n  then log\r\n}\r\n");
  INFO(Errors(r));
  CHECK(r.ok());
  CHECK(r.diagnostics.empty());
  CHECK(r.rules.rules.size() == 1);
  CHECK(r.rules.rules[0].filter.values == std::vector<std::string>{"error"});
}
