// The rule model: what the engine evaluates. Plain data, no syntax.
//
// rules-dsl produces these from rule files; engine tests build them in code. A RuleSet owns
// everything it references. Values are immutable once handed to Engine::Create.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace klaxon {

// Where something came from in a rule file; 1-based. line == 0 means "built in code".
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;
};

// A reference to one field of an event, resolved when rules load.
//
// kPath:        a JSON path from the event root, e.g. {"contexts","os","name"}.
// kTag:         a tag by name; tags are an object {"k":"v"} or Sentry's list [["k","v"],...].
// kPathThenTag: a key that is not a built-in: the JSON path if the event has it, else the tag
//               named `tag` (the key as written). `service` resolves to the tag `service`.
// kDerived:     a value the decoder computes from several parts of the event (`issue`,
//               `title`, `event.type`, `error.handled`, `error.unhandled`); `path` is the
//               key's dotted name split, which names the computation.
// When array_at >= 0, path[0..array_at) leads to an array and path[array_at..] is applied to
// each element; the field then has several values and a predicate holds when ANY value matches
// (exception.type is {"exception","values","type"} with array_at = 2). A path segment "[]"
// means the same at that point (each element of an array), so a path can cross several arrays
// (stack.function: exception.values[].stacktrace.frames[].function).
// `more_paths` are other shapes of the same field that the decoder reads too (Sentry's bare
// exception list beside {"values": [...]}, `logentry` beside `message`); their values add up.
struct FieldRef {
  enum class Kind { kPath, kTag, kPathThenTag, kDerived };
  std::string name;  // as the user wrote it (or the canonical alias); used in output
  Kind kind = Kind::kPath;
  std::vector<std::string> path;
  int array_at = -1;
  std::string tag;
  std::vector<std::vector<std::string>> more_paths;

  friend bool operator==(const FieldRef&, const FieldRef&) = default;
};

inline constexpr std::string_view kEachElement = "[]";

// Whether one event can give the field several values (then `f:a AND f:b` can hold).
inline bool MayHaveSeveralValues(const FieldRef& f) {
  if (f.array_at >= 0 || !f.more_paths.empty()) return true;
  for (const std::string& p : f.path) {
    if (p == kEachElement) return true;
  }
  return false;
}

enum class CompareOp { kGt, kGe, kLt, kLe, kEq };

// A boolean filter over one event.
struct Predicate {
  enum class Kind {
    kTrue,     // matches everything (a rule without a filter)
    kAnd,      // all children
    kOr,       // any child
    kNot,      // children[0] negated
    kMatch,    // field equals any of `values`; a value may hold '*' wildcards
    kHas,      // field present and not null
    kCompare,  // numeric: field (number, or a string holding a number) `op` number
  };
  Kind kind = Kind::kTrue;
  std::vector<Predicate> children;
  FieldRef field;
  std::vector<std::string> values;  // kMatch; case-sensitive
  CompareOp op = CompareOp::kGt;    // kCompare
  double number = 0;                // kCompare
  SourcePos pos;

  friend bool operator==(const Predicate& a, const Predicate& b) {
    return a.kind == b.kind && a.children == b.children && a.field == b.field &&
           a.values == b.values && a.op == b.op && a.number == b.number;
  }
};

// What a rule measures.
//
// kEvery:    `when FILTER`: a notification for each matching event (state firing).
// kCount:    `frequency OP N in W`; with kLt/kLe it is an absence (flatline) rule over groups
//            seen before.
// kUnique:   `unique(FIELD) OP N in W`: distinct values of `field` in the window.
// kChange:   `frequency in W OP P% of OFFSET ago`: 100 * count(t-W,t] / count(t-OFFSET-W,t-OFFSET].
// kRatio:    `ratio(A, B) OP P% in W`: 100 * |A and B| / |B| over the window; `numerator` is A,
//            `denominator` is B.
// kNewValue: `new(FIELD)`: the first time a value of `field` is seen.
struct Condition {
  enum class Kind { kEvery, kCount, kUnique, kChange, kRatio, kNewValue };
  Kind kind = Kind::kEvery;
  CompareOp op = CompareOp::kGt;
  double threshold = 0;   // a count, or a percentage for kChange and kRatio
  int64_t window_ms = 0;  // all but kEvery and kNewValue
  int64_t offset_ms = 0;  // kChange
  FieldRef field;         // kUnique, kNewValue
  Predicate numerator;    // kRatio
  Predicate denominator;  // kRatio

  friend bool operator==(const Condition&, const Condition&) = default;
};

// Whether the condition measures a value against a threshold and so has episodes (firing,
// repeats, a resolve). kEvery and kNewValue notify once per event and never resolve.
inline bool HasEpisodes(const Condition& c) {
  return c.kind != Condition::Kind::kEvery && c.kind != Condition::Kind::kNewValue;
}

enum class Severity { kCritical, kError, kWarning, kInfo };

struct Rule {
  std::string name;
  // Stable identity of the normalised definition (filter, condition, grouping, lifecycle
  // settings); equal ids mean "same rule" across reloads and restores. Filled by
  // ComputeRuleId() when left empty.
  std::string id;
  Predicate filter;  // the `for` part (or the whole filter of a kEvery rule)
  Condition condition;
  std::vector<FieldRef> group_by;
  Severity severity = Severity::kError;
  std::string summary;      // template source, `{{...}}` placeholders
  std::string description;  // template source
  int64_t pending_ms = 0;
  int64_t keep_firing_ms = 0;
  int64_t repeat_ms = 0;  // 0: notify once per firing episode
  std::vector<std::pair<std::string, std::string>> labels;
  bool enabled = true;
  std::vector<std::string> actions;  // names of ActionDefs
  SourcePos pos;
};

// A value in an action definition.
struct ActionValue {
  enum class Kind { kString, kNumber, kDuration, kBool, kList, kEnv, kFile };
  Kind kind = Kind::kString;
  std::string text;   // kString; the variable name for kEnv; the path for kFile
  double number = 0;  // kNumber
  int64_t duration_ms = 0;
  bool boolean = false;
  std::vector<ActionValue> list;
  SourcePos pos;
};

struct ActionArg {
  std::string key;
  ActionValue value;
  SourcePos pos;
};

struct ActionDef {
  std::string name;
  std::string kind;  // slack, jira, pagerduty, webhook, log
  std::vector<ActionArg> args;
  SourcePos pos;
};

// A problem in an action definition: actions/ finds them (ValidateActionDef), rules-dsl's
// checker reports them with the rule file's other errors.
struct ActionProblem {
  SourcePos pos;
  std::string message;
  std::string hint;  // may be empty
};

struct RuleSet {
  std::vector<Rule> rules;
  std::vector<ActionDef> actions;
};

const char* SeverityName(Severity s);
const char* CompareOpText(CompareOp op);
// `a op b`: the one comparison of filters (`field:>n`) and conditions (`percentage > n`).
// Inline: filters call it per event.
inline bool Compare(double a, CompareOp op, double b) {
  switch (op) {
    case CompareOp::kGt:
      return a > b;
    case CompareOp::kGe:
      return a >= b;
    case CompareOp::kLt:
      return a < b;
    case CompareOp::kLe:
      return a <= b;
    case CompareOp::kEq:
      return a == b;
  }
  return false;
}

// A hex digest of the rule's normalised definition (see Rule::id).
std::string ComputeRuleId(const Rule& rule);

}  // namespace klaxon
