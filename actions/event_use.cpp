#include "actions/event_use.h"

#include "engine/template.h"

namespace klaxon::actions {

bool TemplateReadsEvent(std::string_view source) {
  Result<Template> compiled = CompileTemplate(source);
  if (!compiled.ok()) return false;
  for (const TemplatePart& part : compiled->parts) {
    if (!part.placeholder) continue;
    const std::string_view name = part.text;
    if ((name == "event" || name.starts_with("event.")) && name != "event.event_id") return true;
  }
  return false;
}

bool ActionReadsEvent(const ActionDef& def) {
  // Besides their templates: the log line, PagerDuty's details and Jira's facts read only the
  // event id; Slack shows the exception type; the webhook's default body carries the message,
  // culprit and tags (actions/*_action.cpp).
  bool has_body = false;
  for (const ActionArg& arg : def.args) {
    if (arg.key == "body") has_body = true;
    if (arg.value.kind == ActionValue::Kind::kString && TemplateReadsEvent(arg.value.text)) {
      return true;
    }
  }
  if (def.kind == "log" || def.kind == "pagerduty" || def.kind == "jira") return false;
  if (def.kind == "webhook") return !has_body;
  return true;
}

bool RuleReadsEvent(const Rule& rule, const RuleSet& set) {
  if (!HasEpisodes(rule.condition)) return true;
  if (TemplateReadsEvent(rule.summary) || TemplateReadsEvent(rule.description)) return true;
  for (const std::string& name : rule.actions) {
    for (const ActionDef& def : set.actions) {
      if (def.name == name && ActionReadsEvent(def)) return true;
    }
  }
  return false;
}

}  // namespace klaxon::actions
