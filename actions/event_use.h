// What of a rule's triggering event its notifications read when rendered and delivered: the
// whole event (templates' `event.*` placeholders, payloads that carry event fields by default,
// a one-shot rule's idempotency key), or at most its `event_id`.
//
// Scale-out's first stage sends the event JSON to a (rule, group)'s owner only when a rule
// reads more than the id (docs/scale_out.md, "The repartition record"). Kept next to the
// actions because it must change with their payloads: a payload that starts reading an event
// field must say so here, or scale-out would render it without the event.
#pragma once

#include <string_view>

#include "engine/rule.h"

namespace klaxon::actions {

// A template reads the event beyond its id: a placeholder `event` or `event.<path>` other than
// `event.event_id`. A template that does not compile reads nothing (klaxon check refuses it).
bool TemplateReadsEvent(std::string_view source);

// The action's payload reads the event beyond its id (by default, or through its templates).
// An action kind not listed here reads it.
bool ActionReadsEvent(const ActionDef& def);

// A rule's notifications read the event beyond its id through any of its actions, its summary
// or description, or because it notifies once per event (the event is in the idempotency key).
// An action named but not defined reads nothing (klaxon check refuses it).
bool RuleReadsEvent(const Rule& rule, const RuleSet& set);

}  // namespace klaxon::actions
