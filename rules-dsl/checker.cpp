// AST -> RuleSet. Passes: (1) parse every file; (2) declare rule and action names across all
// files; (3) convert each action and rule, resolving fields, units and thresholds; (4) bind
// `then` names and check placeholders. Every pass appends diagnostics and carries on.
#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "engine/duration.h"
#include "engine/engine.h"
#include "engine/template.h"
#include "rules-dsl/ast.h"
#include "rules-dsl/fields.h"
#include "rules-dsl/rules_dsl.h"
#include "rules-dsl/util.h"

namespace klaxon::rules_dsl {
namespace {

// Where a name was first defined: the file is one of the caller's SourceFile names.
struct Definition {
  const std::string* file;
  ast::Pos pos;
};

std::string PosText(const Definition& d) {
  return *d.file + ":" + std::to_string(d.pos.line) + ":" + std::to_string(d.pos.column);
}

std::string DurationText(const ast::Duration& d) { return d.amount + d.unit; }

// Names already seen in one clause: a linear look-up among the usual few, without allocating,
// and a hash set beyond (a hostile clause with thousands of names stays linear).
class NameSet {
 public:
  // False when `name` was inserted before. Keeps the view: `name` must outlive the set.
  bool Insert(std::string_view name) {
    if (set_.empty()) {
      if (std::find(few_.begin(), few_.begin() + few_count_, name) != few_.begin() + few_count_) {
        return false;
      }
      if (few_count_ < few_.size()) {
        few_[few_count_++] = name;
        return true;
      }
      set_.insert(few_.begin(), few_.end());
    }
    return set_.insert(name).second;
  }

 private:
  std::array<std::string_view, 16> few_;
  size_t few_count_ = 0;
  std::unordered_set<std::string_view> set_;
};

// Lines starting with `rule `: about the number of rules in `text`, to size the result once (a
// Rule is about a kilobyte; growing a 10,000-rule set moved it many times over).
size_t RuleLines(std::string_view text) {
  size_t n = 0;
  size_t at = 0;
  while (at < text.size()) {
    if (text.substr(at, 5) == "rule ") ++n;
    at = text.find('\n', at);
    if (at == std::string_view::npos) break;
    ++at;
  }
  return n;
}

class Checker {
 public:
  explicit Checker(const CheckOptions& options) : options_(options) {}

  void Error(const SourcePos& p, std::string message, std::string hint = "") {
    if (diagnostics_.size() >= options_.max_diagnostics) return;
    diagnostics_.push_back(
        {p.file, p.line, p.column, "error", std::move(message), std::move(hint), ""});
  }
  void Warning(const SourcePos& p, std::string message, std::string hint = "") {
    if (diagnostics_.size() >= options_.max_diagnostics) return;
    diagnostics_.push_back(
        {p.file, p.line, p.column, "warning", std::move(message), std::move(hint), ""});
  }
  // AST positions are in the file being checked.
  void Error(const ast::Pos& p, std::string message, std::string hint = "") {
    Error(At(p), std::move(message), std::move(hint));
  }
  void Warning(const ast::Pos& p, std::string message, std::string hint = "") {
    Warning(At(p), std::move(message), std::move(hint));
  }
  SourcePos At(const ast::Pos& p) const { return {*file_, p.line, p.column}; }

  std::vector<Diagnostic>& diagnostics() { return diagnostics_; }

  // A duration in ms within [min_ms, max_ms]; `what` names it in messages.
  std::optional<int64_t> Duration(const ast::Duration& d, std::string_view what, int64_t min_ms,
                                  int64_t max_ms, std::string_view range_hint) {
    if (!DurationUnitMs(d.unit)) {
      // Offer only units that can make a valid duration here: never `ms` for a window.
      const std::string best = ClosestDurationUnit(d.unit, min_ms >= kSecond ? kSecond : 1);
      Error(d.unit_pos, "unknown time unit `" + d.unit + "`",
            (best.empty() ? "" : "did you mean `" + best + "`? ") +
                "units: s, m, h, d, w (or sec, min, hour, day, week)");
      return std::nullopt;
    }
    const Result<int64_t> ms = DurationMs(d.amount.empty() ? "1" : d.amount, d.unit);
    if (!ms.ok() || *ms < min_ms || *ms > max_ms) {
      Error(d.pos, std::string(what) + " `" + DurationText(d) + "` is out of range",
            std::string(range_hint));
      return std::nullopt;
    }
    return *ms;
  }

  FieldRef Field(const ast::Word& key) {
    std::string typo;
    FieldRef f = ResolveField(key.text, &typo);
    if (!typo.empty()) {
      Error(key.pos, "unknown field `" + key.text + "`", "did you mean `" + typo + "`?");
    } else if (f.kind == FieldRef::Kind::kPathThenTag) {
      if (const auto sentry = UnsupportedSentryKey(key.text)) {
        Warning(key.pos,
                "`" + key.text +
                    "` is a Sentry search key that Klaxon does not support; it reads "
                    "the event field or tag `" +
                    key.text + "`",
                sentry->empty() ? "Sentry's keys that Klaxon supports are listed in docs/rules.md"
                                : "for Sentry's meaning write `" + *sentry + "`");
      } else if (const std::string builtin = BareKeyLikeBuiltin(key.text); !builtin.empty()) {
        Warning(key.pos,
                "`" + key.text + "` is not a built-in field; it reads the event field or tag `" +
                    key.text + "`",
                "did you mean `" + builtin + "`? for the tag write `tags[" + key.text + "]`");
      }
    }
    if (f.kind != FieldRef::Kind::kTag) {
      for (const std::string& part : f.path) {
        if (part.empty()) {
          Error(key.pos, "empty part in field name `" + key.text + "`",
                "write dotted paths as a.b.c; use tags[a.b] for a tag with dots");
          break;
        }
      }
    }
    return f;
  }

  Predicate Filter(const ast::Filter& f) {
    Predicate p;
    p.pos = At(f.pos);
    using K = ast::Filter::Kind;
    switch (f.kind) {
      case K::kParen:
        return Filter(f.children[0]);
      case K::kOr:
      case K::kAnd:
        p.kind = f.kind == K::kOr ? Predicate::Kind::kOr : Predicate::Kind::kAnd;
        p.children.reserve(f.children.size());
        for (const auto& c : f.children) p.children.push_back(Filter(c));
        break;
      case K::kNot:
        p.kind = Predicate::Kind::kNot;
        p.children.push_back(Filter(f.children[0]));
        break;
      case K::kHas:
        p.kind = Predicate::Kind::kHas;
        p.field = Field(f.key);
        break;
      case K::kMatch:
        p.kind = Predicate::Kind::kMatch;
        p.field = Field(f.key);
        p.values.reserve(f.values.size());
        for (const auto& v : f.values) {
          p.values.push_back(IsSentryBoolean(p.field) ? SentryBoolean(v) : v.text);
        }
        break;
      case K::kCompare: {
        p.kind = Predicate::Kind::kCompare;
        p.field = Field(f.key);
        p.op = f.op;
        p.number = std::strtod(f.number.c_str(), nullptr);
        if (!std::isfinite(p.number)) Error(f.pos, "number `" + f.number + "` is out of range");
        break;
      }
    }
    return p;
  }

  // error.handled / error.unhandled hold "true" or "false"; Sentry's search also takes 1/0 and
  // yes/no in any case (src/sentry/search/events/filter.py, parse_boolean), and so does Klaxon.
  static bool IsSentryBoolean(const FieldRef& f) {
    return f.kind == FieldRef::Kind::kDerived &&
           (f.name == "error.handled" || f.name == "error.unhandled");
  }

  std::string SentryBoolean(const ast::Value& v) {
    const std::string lower = Lower(v.text);
    if (lower == "true" || lower == "1" || lower == "yes") return "true";
    if (lower == "false" || lower == "0" || lower == "no") return "false";
    Error(v.pos, "`" + v.text + "` is not a boolean", "write true or false (or 1/0, yes/no)");
    return v.text;
  }

  static bool HasWildcard(const std::vector<std::string>& values) {
    return std::any_of(values.begin(), values.end(),
                       [](const std::string& v) { return v.find('*') != std::string::npos; });
  }

  static std::string ValuesText(const std::vector<std::string>& values) {
    std::string out;
    for (const auto& v : values) out += (out.empty() ? "`" : " or `") + v + "`";
    return out;
  }

  // Terms of an AND (nested ANDs flattened) that can never hold together.
  void CheckSatisfiable(const Predicate& p) {
    for (const Predicate& c : p.children) CheckSatisfiable(c);
    if (p.kind != Predicate::Kind::kAnd) return;
    // Member scratch vectors, so that each AND does not allocate (the recursion above is done
    // with them).
    std::vector<const Predicate*>& terms = terms_;
    std::vector<const Predicate*>& stack = stack_;
    terms.clear();
    stack.assign(1, &p);
    while (!stack.empty()) {
      const Predicate* q = stack.back();
      stack.pop_back();
      if (q->kind == Predicate::Kind::kAnd) {
        for (auto it = q->children.rbegin(); it != q->children.rend(); ++it) stack.push_back(&*it);
      } else {
        terms.push_back(q);
      }
    }
    for (size_t j = 1; j < terms.size() && j < 256; ++j) {
      const Predicate& b = *terms[j];
      for (size_t i = 0; i < j; ++i) {
        const Predicate& a = *terms[i];
        if (a.kind == Predicate::Kind::kMatch && b.kind == Predicate::Kind::kMatch &&
            a.field == b.field && !MayHaveSeveralValues(a.field) && !HasWildcard(a.values) &&
            !HasWildcard(b.values)) {
          bool overlap = false;
          for (const auto& v : a.values) {
            if (std::find(b.values.begin(), b.values.end(), v) != b.values.end()) overlap = true;
          }
          if (!overlap) {
            std::vector<std::string> all = a.values;
            all.insert(all.end(), b.values.begin(), b.values.end());
            Error(b.pos,
                  "this filter can never match: `" + a.field.name + "` cannot be " +
                      ValuesText(a.values) + " and " + ValuesText(b.values) + " at once",
                  "to match any of them, write `" + a.field.name + ":[" + JoinNames(all, 64) +
                      "]` or use OR");
            return;
          }
        }
        auto has = [](const Predicate& x) { return x.kind == Predicate::Kind::kHas; };
        auto not_has = [&](const Predicate& x) {
          return x.kind == Predicate::Kind::kNot && has(x.children[0]);
        };
        const Predicate* positive = nullptr;
        const Predicate* negative = nullptr;
        if ((has(a) || a.kind == Predicate::Kind::kMatch) && not_has(b)) {
          positive = &a;
          negative = &b;
        } else if ((has(b) || b.kind == Predicate::Kind::kMatch) && not_has(a)) {
          positive = &b;
          negative = &a;
        }
        if (positive != nullptr && positive->field == negative->children[0].field) {
          Error(b.pos,
                "this filter can never match: `" + positive->field.name +
                    "` must be present and absent at once",
                "remove `!has:" + positive->field.name + "` or the other term");
          return;
        }
      }
    }
  }

  // Threshold as a number; percent says whether this condition kind wants a percentage.
  double Threshold(const ast::Condition& c, bool wants_percent, std::string_view what) {
    double value = std::strtod(c.threshold.number.c_str(), nullptr);
    if (!std::isfinite(value)) {
      Error(c.threshold.pos, "threshold `" + c.threshold.number + "` is out of range");
      return 0;
    }
    if (value < 0) {
      Error(c.threshold.pos, "threshold must not be negative",
            "a count or a percentage is 0 or more");
    }
    if (wants_percent && !c.threshold.percent) {
      Error(c.threshold.pos, std::string(what) + " thresholds are percentages",
            "write `" + c.threshold.number + "%`");
    } else if (!wants_percent && c.threshold.percent) {
      Error(c.threshold.pos, std::string(what) + " thresholds are counts, not percentages",
            "remove the `%`; for a share of events use ratio(A, B) > 5% in 15m");
    }
    return value;
  }

  int64_t Window(const ast::Duration& d) {
    return Duration(d, "window", kSecond, kMaxWindow, "windows go from 1s to 30d").value_or(0);
  }

  void ConvertCondition(const ast::Condition& c, Rule& rule) {
    Condition& out = rule.condition;
    out.op = c.op;
    using K = ast::Condition::Kind;
    switch (c.kind) {
      case K::kFilter:
        out.kind = Condition::Kind::kEvery;
        break;
      case K::kFrequency:
        out.kind = Condition::Kind::kCount;
        out.threshold = Threshold(c, false, "frequency");
        out.window_ms = Window(c.window);
        if ((c.op == CompareOp::kLt && out.threshold <= 0) ||
            (c.op == CompareOp::kLe && out.threshold < 0)) {
          Error(c.threshold.pos,
                "`frequency " + c.op_text + " " + c.threshold.number + "` can never hold",
                "for an absence (flatline) rule write `frequency < 1 in 10m`");
        }
        break;
      case K::kChange:
        out.kind = Condition::Kind::kChange;
        out.threshold = Threshold(c, true, "change");
        out.window_ms = Window(c.window);
        out.offset_ms =
            Duration(c.offset, "offset", kSecond, kMaxWindow, "offsets go from 1s to 30d")
                .value_or(0);
        break;
      case K::kUnique:
        out.kind = Condition::Kind::kUnique;
        out.field = Field(c.field);
        out.threshold = Threshold(c, false, "unique()");
        out.window_ms = Window(c.window);
        break;
      case K::kRatio:
        out.kind = Condition::Kind::kRatio;
        out.numerator = Filter(c.ratio[0]);
        out.denominator = Filter(c.ratio[1]);
        CheckSatisfiable(out.numerator);
        CheckSatisfiable(out.denominator);
        out.threshold = Threshold(c, true, "ratio()");
        out.window_ms = Window(c.window);
        break;
      case K::kNew:
        out.kind = Condition::Kind::kNewValue;
        if (c.field.text.empty()) {
          Error(c.field.pos, "new() needs a field", "write new(release), new(exception.type), ...");
        } else {
          out.field = Field(c.field);
        }
        break;
    }
    if (c.has_filter) {
      rule.filter = Filter(c.filter);
      CheckSatisfiable(rule.filter);
    }
  }

  void CheckTemplate(const ast::String& s, std::string_view clause, const Rule& rule) {
    auto compiled = CompileTemplate(s.value);
    if (!compiled.ok()) {
      Error(s.pos, std::string(clause) + ": " + compiled.status().message());
      return;
    }
    std::vector<std::string> known = {"count",  "value",     "threshold",
                                      "window", "rule.name", "rule.severity"};
    for (const auto& g : rule.group_by) known.push_back("group." + g.name);
    for (const auto& l : rule.labels) known.push_back("labels." + l.first);
    for (const TemplatePart& part : compiled->parts) {
      if (!part.placeholder) continue;
      const std::string& name = part.text;
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      if (name.starts_with("event.") && name.size() > 6) continue;
      ast::Pos p = s.pos;
      if (part.offset < s.raw_offsets.size()) p.column += 1 + s.raw_offsets[part.offset];
      std::string hint;
      const std::string best = ClosestMatch(name, known);
      if (!best.empty()) hint = "did you mean `{{" + best + "}}`? ";
      if (name.starts_with("group.")) {
        hint += "`{{" + name + "}}` needs `" + name.substr(6) + "` in `group by`";
      } else if (name.starts_with("labels.")) {
        hint += "`{{" + name + "}}` needs a label `" + name.substr(7) + "` in `labels { }`";
      } else {
        known.push_back("event.FIELD");
        hint += "placeholders: " + JoinNames(known, 20);
        known.pop_back();
      }
      Error(p, "unknown placeholder `{{" + name + "}}`", hint);
    }
  }

  // Fills a default-constructed `rule` (in place: a Rule is about a kilobyte).
  void ConvertRule(const ast::RuleItem& r, Rule& rule) {
    const size_t first_diagnostic = diagnostics_.size();
    rule.name = r.name.text;
    rule.pos = At(r.pos);
    using K = ast::Clause::Kind;
    static constexpr const char* kClauseNames[] = {
        "when",    "group by",        "severity",     "summary", "description",
        "pending", "keep firing for", "repeat every", "labels",  "enabled",
        "then"};
    std::vector<const ast::Clause*> first(std::size(kClauseNames), nullptr);
    for (const ast::Clause& c : r.clauses) {
      const auto index = static_cast<size_t>(c.kind);
      if (first[index] != nullptr) {
        Error(c.pos,
              std::string("duplicate clause `") + kClauseNames[index] + "` in rule `" + rule.name +
                  "`",
              "first given at line " + std::to_string(first[index]->pos.line));
        continue;
      }
      first[index] = &c;
    }
    // Labels and group-by first: the templates refer to them.
    if (const ast::Clause* c = first[static_cast<size_t>(K::kGroupBy)]) {
      NameSet seen;
      rule.group_by.reserve(c->words.size());
      for (const ast::Word& w : c->words) {
        if (!seen.Insert(w.text)) {
          Error(w.pos, "`" + w.text + "` appears twice in `group by`");
          continue;
        }
        rule.group_by.push_back(Field(w));
      }
    }
    if (const ast::Clause* c = first[static_cast<size_t>(K::kLabels)]) {
      NameSet seen;
      for (const ast::Label& l : c->labels) {
        if (!seen.Insert(l.key.text)) {
          Error(l.key.pos, "label `" + l.key.text + "` given twice");
          continue;
        }
        rule.labels.emplace_back(l.key.text, l.value.value);
      }
    }
    if (const ast::Clause* c = first[static_cast<size_t>(K::kWhen)]) {
      ConvertCondition(*c->condition, rule);
    } else {
      Error(r.name.pos, "rule `" + rule.name + "` has no `when` clause",
            "add a condition, e.g. `when frequency > 5/min for service:orders-api`");
    }
    if (const ast::Clause* c = first[static_cast<size_t>(K::kSeverity)]) {
      const ast::Word& w = c->words[0];
      static const std::vector<std::string> kSeverities = {"critical", "error", "warning", "info"};
      const auto it = std::find(kSeverities.begin(), kSeverities.end(), Lower(w.text));
      if (it == kSeverities.end()) {
        const std::string best = ClosestMatch(w.text, kSeverities);
        Error(w.pos, "unknown severity `" + w.text + "`",
              (best.empty() ? "" : "did you mean `" + best + "`? ") +
                  "severities: critical, error, warning, info");
      } else {
        rule.severity = static_cast<Severity>(it - kSeverities.begin());
      }
    }
    if (const ast::Clause* c = first[static_cast<size_t>(K::kEnabled)]) {
      const std::string v = Lower(c->words[0].text);
      if (v == "true" || v == "false") {
        rule.enabled = v == "true";
      } else {
        Error(c->words[0].pos, "`enabled` takes true or false, not `" + v + "`");
      }
    }
    const std::string lifecycle_hint = "durations go from 0s to 30d";
    if (const ast::Clause* c = first[static_cast<size_t>(K::kPending)]) {
      rule.pending_ms = Duration(c->duration, "pending", 0, kMaxWindow, lifecycle_hint).value_or(0);
    }
    if (const ast::Clause* c = first[static_cast<size_t>(K::kKeepFiring)]) {
      rule.keep_firing_ms =
          Duration(c->duration, "keep firing for", 0, kMaxWindow, lifecycle_hint).value_or(0);
    }
    if (const ast::Clause* c = first[static_cast<size_t>(K::kRepeat)]) {
      rule.repeat_ms =
          Duration(c->duration, "repeat every", 0, kMaxWindow, lifecycle_hint).value_or(0);
    }
    if (const ast::Clause* c = first[static_cast<size_t>(K::kSummary)]) {
      rule.summary = c->text.value;
      CheckTemplate(c->text, "summary", rule);
    }
    if (const ast::Clause* c = first[static_cast<size_t>(K::kDescription)]) {
      rule.description = c->text.value;
      CheckTemplate(c->text, "description", rule);
    }
    if (const ast::Clause* c = first[static_cast<size_t>(K::kThen)]) {
      NameSet seen;
      rule.actions.reserve(c->words.size());
      for (const ast::Word& w : c->words) {
        if (!seen.Insert(w.text)) {
          Error(w.pos, "action `" + w.text + "` listed twice in `then`");
          continue;
        }
        rule.actions.push_back(w.text);
        pending_then_.push_back({w.text, {file_, w.pos}});
      }
    } else {
      Warning(r.name.pos, "rule `" + rule.name + "` has no `then` clause; it notifies no one",
              "add `then ACTION` (rules without actions are fine for replay)");
    }
    CheckEngineLimits(r, first[static_cast<size_t>(K::kWhen)],
                      first[static_cast<size_t>(K::kGroupBy)], rule, first_diagnostic);
    // Here rather than in Engine::Create, which fills only its own copy: rule listings and
    // payloads built from the loaded set (admin API, notify) need the id too.
    rule.id = ComputeRuleId(rule);
  }

  // What Engine::Create would refuse (engine/engine.h ValidateRule), reported here so that a
  // file that checks also loads. A problem on a line that already has an error of this rule is
  // left out: a window with an unknown unit would also read as "not positive".
  void CheckEngineLimits(const ast::RuleItem& r, const ast::Clause* when,
                         const ast::Clause* group_by, const Rule& rule, size_t first_diagnostic) {
    const ast::Condition* c = when != nullptr ? when->condition.get() : nullptr;
    for (const RuleProblem& p : ValidateRule(rule)) {
      ast::Pos pos = r.name.pos;
      using Part = RuleProblem::Part;
      if (c != nullptr && p.part == Part::kThreshold) pos = c->threshold.pos;
      if (c != nullptr && p.part == Part::kWindow) pos = c->window.pos;
      if (c != nullptr && p.part == Part::kOffset) pos = c->offset.pos;
      if (c != nullptr && p.part == Part::kField) pos = c->field.pos;
      if (group_by != nullptr && p.part == Part::kGroupBy) {
        pos = p.index < group_by->words.size() ? group_by->words[p.index].pos : group_by->pos;
      }
      const bool reported = std::any_of(
          diagnostics_.begin() + static_cast<std::ptrdiff_t>(first_diagnostic), diagnostics_.end(),
          [&](const Diagnostic& d) { return d.severity == "error" && d.line == pos.line; });
      if (!reported) Error(pos, p.message, p.hint);
    }
  }

  ActionValue ConvertValue(const ast::ActionValue& v) {
    ActionValue out;
    out.pos = At(v.pos);
    using K = ast::ActionValue::Kind;
    switch (v.kind) {
      case K::kString:
        out.kind = ActionValue::Kind::kString;
        out.text = v.string.value;
        break;
      case K::kEnv:
      case K::kFile:
        out.kind = v.kind == K::kEnv ? ActionValue::Kind::kEnv : ActionValue::Kind::kFile;
        out.text = v.string.value;
        if (out.text.empty()) {
          Error(v.string.pos,
                v.kind == K::kEnv ? "env() needs a variable name" : "file() needs a path");
        }
        break;
      case K::kNumber:
        out.kind = ActionValue::Kind::kNumber;
        out.number = std::strtod(v.text.c_str(), nullptr);
        if (!std::isfinite(out.number)) Error(v.pos, "number `" + v.text + "` is out of range");
        break;
      case K::kDuration:
        out.kind = ActionValue::Kind::kDuration;
        out.duration_ms =
            Duration(v.duration, "duration", 0, kMaxWindow, "durations go from 0s to 30d")
                .value_or(0);
        break;
      case K::kBool:
        out.kind = ActionValue::Kind::kBool;
        out.boolean = Lower(v.text) == "true";
        break;
      case K::kList:
        out.kind = ActionValue::Kind::kList;
        for (const auto& e : v.list) out.list.push_back(ConvertValue(e));
        break;
    }
    return out;
  }

  ActionDef ConvertAction(const ast::ActionItem& a) {
    ActionDef def;
    def.name = a.name.text;
    def.kind = a.kind.text;
    def.pos = At(a.pos);
    for (const ast::ActionArg& arg : a.args) {
      def.args.push_back({arg.key.text, ConvertValue(arg.value), At(arg.key.pos)});
    }
    if (options_.validate_action) {
      for (const ActionProblem& p : options_.validate_action(def)) {
        Error(p.pos, p.message, p.hint);
      }
    }
    return def;
  }

  LoadResult Run(const std::vector<SourceFile>& files) {
    LoadResult result;
    size_t expected_rules = 0;
    for (const SourceFile& f : files) expected_rules += RuleLines(f.text);
    // Bounded: an estimate from hostile text must not reserve without limit.
    result.rules.rules.reserve(std::min<size_t>(expected_rules, 100000));
    std::unordered_map<std::string, Definition> rule_names;
    std::unordered_map<std::string, Definition> action_names;
    std::unordered_map<std::string, SourcePos> broken_actions;
    std::vector<std::string> action_list;
    // Items are checked as they are parsed; names declared by earlier files are known to later
    // ones, and `then` is bound once every file is read.
    auto on_item = [&](ast::Item&& item) {
      const ast::Word& name = item.is_rule ? item.rule.name : item.action.name;
      auto& names = item.is_rule ? rule_names : action_names;
      const auto [it, inserted] = names.emplace(name.text, Definition{file_, name.pos});
      if (!inserted) {
        Error(
            name.pos,
            std::string("duplicate ") + (item.is_rule ? "rule" : "action") + " `" + name.text + "`",
            "first defined at " + PosText(it->second));
        // Still check it, so that its own mistakes show up now.
        if (item.is_rule) {
          Rule ignored;
          ConvertRule(item.rule, ignored);
        } else {
          ConvertAction(item.action);
        }
        return;
      }
      if (item.is_rule) {
        ConvertRule(item.rule, result.rules.rules.emplace_back());
      } else {
        result.rules.actions.push_back(ConvertAction(item.action));
        action_list.push_back(name.text);
      }
    };
    for (const SourceFile& f : files) {
      file_ = &f.name;
      const ast::File parsed = ast::ParseFile(f, options_, diagnostics_, on_item);
      for (const std::string& name : parsed.broken_actions) {
        broken_actions.emplace(name, SourcePos{});
      }
    }
    for (const PendingAction& w : pending_then_) {
      if (action_names.count(w.text) != 0 || broken_actions.count(w.text) != 0) continue;
      const SourcePos pos{*w.where.file, w.where.pos.line, w.where.pos.column};
      if (action_list.empty()) {
        Error(pos, "unknown action `" + w.text + "`",
              "no actions are defined; add one such as `action " + w.text + " = log()`");
        continue;
      }
      const std::string best = ClosestMatch(w.text, action_list);
      Error(pos, "unknown action `" + w.text + "`",
            (best.empty() ? "" : "did you mean `" + best + "`? ") +
                "defined actions: " + JoinNames(action_list));
    }
    Finish(files);
    if (diagnostics_.size() >= options_.max_diagnostics) {
      diagnostics_.push_back(
          {"", 0, 0, "error",
           "too many problems; stopped after " + std::to_string(options_.max_diagnostics),
           "fix these first and run klaxon check again", ""});
    }
    result.diagnostics = std::move(diagnostics_);
    return result;
  }

  // Sorts by file (argument order), line, column and attaches source lines.
  void Finish(const std::vector<SourceFile>& files) {
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < files.size(); ++i) index.emplace(files[i].name, i);
    std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                     [&](const Diagnostic& a, const Diagnostic& b) {
                       const size_t fa = index[a.file];
                       const size_t fb = index[b.file];
                       if (fa != fb) return fa < fb;
                       if (a.line != b.line) return a.line < b.line;
                       return a.column < b.column;
                     });
    size_t current = SIZE_MAX;
    std::vector<size_t> starts;
    for (Diagnostic& d : diagnostics_) {
      const size_t fi = index[d.file];
      if (fi != current) {
        current = fi;
        starts.assign(1, 0);
        const std::string& t = files[fi].text;
        for (size_t i = 0; i < t.size(); ++i) {
          if (t[i] == '\n') starts.push_back(i + 1);
        }
      }
      if (d.line >= 1 && static_cast<size_t>(d.line) <= starts.size()) {
        const std::string& t = files[fi].text;
        const size_t b = starts[d.line - 1];
        size_t e = t.find('\n', b);
        if (e == std::string::npos) e = t.size();
        if (e > b && t[e - 1] == '\r') --e;
        d.source_line = t.substr(b, std::min<size_t>(e - b, 400));
      }
    }
  }

 private:
  // A `then` name, bound once every file is read.
  struct PendingAction {
    std::string text;
    Definition where;
  };

  const CheckOptions& options_;
  std::vector<Diagnostic> diagnostics_;
  std::vector<PendingAction> pending_then_;
  const std::string* file_ = nullptr;    // the file being parsed and checked
  std::vector<const Predicate*> terms_;  // CheckSatisfiable's
  std::vector<const Predicate*> stack_;
};

}  // namespace

size_t LoadResult::error_count() const {
  return static_cast<size_t>(
      std::count_if(diagnostics.begin(), diagnostics.end(),
                    [](const Diagnostic& d) { return d.severity == "error"; }));
}

size_t LoadResult::warning_count() const { return diagnostics.size() - error_count(); }

LoadResult ParseAndCheck(const std::vector<SourceFile>& files, const CheckOptions& options) {
  return Checker(options).Run(files);
}

std::string FormatDiagnostic(const Diagnostic& d) {
  std::string out = d.file.empty()
                        ? d.severity + ": " + d.message + "\n"
                        : d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) +
                              ": " + d.severity + ": " + d.message + "\n";
  if (!d.source_line.empty()) {
    std::string shown;
    std::string caret;
    for (size_t i = 0; i < d.source_line.size(); ++i) {
      const char c = d.source_line[i];
      shown.push_back(c == '\t' ? ' ' : c);
      const bool continuation = (static_cast<unsigned char>(c) & 0xC0) == 0x80;
      if (static_cast<int>(i) + 1 < d.column && !continuation) caret.push_back(' ');
    }
    out += "  " + shown + "\n  " + caret + "^\n";
  }
  if (!d.hint.empty()) out += "  hint: " + d.hint + "\n";
  return out;
}

}  // namespace klaxon::rules_dsl
