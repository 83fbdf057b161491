// What of the triggering event a rule's notifications read: scale-out sends the event to a
// group's owner only when they read more than its id.
#include <doctest/doctest.h>

#include "actions/event_use.h"

namespace klaxon::actions {
namespace {

ActionDef Def(std::string kind, std::vector<std::pair<std::string, std::string>> args = {}) {
  ActionDef def;
  def.name = kind + "-action";
  def.kind = std::move(kind);
  for (auto& [key, text] : args) {
    ActionArg arg;
    arg.key = key;
    arg.value.kind = ActionValue::Kind::kString;
    arg.value.text = text;
    def.args.push_back(std::move(arg));
  }
  return def;
}

Rule CountRule(std::vector<std::string> actions) {
  Rule rule;
  rule.name = "r";
  rule.condition.kind = Condition::Kind::kCount;
  rule.condition.window_ms = 60000;
  rule.actions = std::move(actions);
  return rule;
}

TEST_CASE("A template reads the event through event placeholders other than the id") {
  CHECK_FALSE(TemplateReadsEvent(""));
  CHECK_FALSE(TemplateReadsEvent("{{ rule.name }} in {{group.service}}: {{value}}"));
  CHECK_FALSE(TemplateReadsEvent("see {{ event.event_id }}"));
  CHECK(TemplateReadsEvent("{{event.exception.type}}"));
  CHECK(TemplateReadsEvent("x {{ event.title }} y"));
  CHECK(TemplateReadsEvent("{{event}}"));
  CHECK_FALSE(TemplateReadsEvent("{{eventual}}"));
  CHECK_FALSE(TemplateReadsEvent("{{ event.message"));  // does not compile: check refuses it
}

TEST_CASE("Each action kind's payload reads what it shows of the event") {
  CHECK_FALSE(ActionReadsEvent(Def("log")));
  CHECK_FALSE(ActionReadsEvent(Def("pagerduty", {{"source", "{{group.service}}"}})));
  CHECK(ActionReadsEvent(Def("pagerduty", {{"component", "{{event.tags.service}}"}})));
  CHECK_FALSE(ActionReadsEvent(Def("jira", {{"summary", "{{rule.name}}"}})));
  CHECK(ActionReadsEvent(Def("jira", {{"description", "{{event.message}}"}})));
  CHECK(ActionReadsEvent(Def("slack")));    // the exception type, by default
  CHECK(ActionReadsEvent(Def("webhook")));  // the default body: message, culprit, tags
  CHECK_FALSE(ActionReadsEvent(Def("webhook", {{"body", "{\"id\":\"{{event.event_id}}\"}"}})));
  CHECK(ActionReadsEvent(Def("webhook", {{"body", "{\"m\":\"{{event.message}}\"}"}})));
  CHECK(ActionReadsEvent(Def("carrier-pigeon")));  // not known: assumed to read it
}

TEST_CASE("A rule reads the event through its actions, its templates, or one-shot keys") {
  RuleSet set;
  set.actions = {Def("log"), Def("slack")};
  CHECK_FALSE(RuleReadsEvent(CountRule({}), set));
  CHECK_FALSE(RuleReadsEvent(CountRule({"log-action"}), set));
  CHECK(RuleReadsEvent(CountRule({"log-action", "slack-action"}), set));
  CHECK_FALSE(RuleReadsEvent(CountRule({"undefined"}), set));
  Rule summary = CountRule({"log-action"});
  summary.summary = "{{event.exception.value}}";
  CHECK(RuleReadsEvent(summary, set));
  Rule description = CountRule({});
  description.description = "first seen in {{event.release}}";
  CHECK(RuleReadsEvent(description, set));
  Rule every = CountRule({});
  every.condition.kind = Condition::Kind::kEvery;
  CHECK(RuleReadsEvent(every, set));  // its idempotency key includes the event
  Rule fresh = CountRule({});
  fresh.condition.kind = Condition::Kind::kNewValue;
  CHECK(RuleReadsEvent(fresh, set));
}

}  // namespace
}  // namespace klaxon::actions
