// Silence: an Alertmanager-style mute. A set of label matchers and a time range; while it is
// active, notifications of alerts whose labels all match are computed and recorded, but not
// delivered (see Silencer for what happens to the episode around it).
//
// An alert's labels (AlertLabels) are, in this order, the first occurrence of a name winning:
//   alertname and rule  the rule's name
//   severity            critical, error, warning or info
//   <group field>       each `group by` field as written in the rule (environment, tags[service]),
//                       "" when the event lacked it
//   <label>             the rule's own `labels`
// Matchers follow Alertmanager: `=`, `!=`, `=~`, `!~`; a regular expression (RE2 syntax, as
// Alertmanager's Go regexps) must match the whole value; a label the alert lacks has the value
// "". A silence needs at least one matcher that does not match the empty string, so that it
// cannot mute everything by accident.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/notification.h"
#include "engine/rule.h"
#include "engine/status.h"

namespace re2 {
class RE2;
}

namespace klaxon::actions {

using AlertLabels = std::vector<std::pair<std::string, std::string>>;

AlertLabels LabelsOf(const Notification& n, const Rule& rule);

struct SilenceMatcher {
  enum class Op { kEqual, kNotEqual, kRegex, kNotRegex };
  std::string name;
  Op op = Op::kEqual;
  std::string value;
  std::shared_ptr<const re2::RE2> regex;  // kRegex, kNotRegex: compiled, anchored

  bool Matches(std::string_view label_value) const;
};

// `name="value"`, `name!=value`, `name=~"re.*"`, `name!~re` (quotes optional, `\"` and `\\`
// escaped inside them), as amtool takes them.
Result<SilenceMatcher> ParseMatcher(std::string_view text);
// Several matchers, as Prometheus writes a selector: separated by commas or newlines (outside
// quotes), optionally in braces: `{alertname="a", severity=critical}`. Every problem is named.
Result<std::vector<SilenceMatcher>> ParseMatchers(std::string_view text);
Result<SilenceMatcher> MakeMatcher(std::string name, SilenceMatcher::Op op, std::string value);
const char* MatcherOpText(SilenceMatcher::Op op);    // "=", "!=", "=~", "!~"
std::string FormatMatcher(const SilenceMatcher& m);  // name="value", quoted and escaped

struct Silence {
  std::string id;  // assigned when stored
  std::vector<SilenceMatcher> matchers;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::string created_by;
  std::string comment;
  int64_t updated_at_ms = 0;
};

enum class SilenceState { kPending, kActive, kExpired };
SilenceState StateAt(const Silence& s, int64_t now_ms);
const char* SilenceStateName(SilenceState s);  // "pending", "active", "expired"

// Every problem at once, "; "-separated: no matcher, a matcher matching everything, end not
// after start, missing author or comment, sizes past their limits.
Status ValidateSilence(const Silence& s);

bool Matches(const Silence& s, const AlertLabels& labels);

}  // namespace klaxon::actions
