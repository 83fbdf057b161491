// AST + comments -> canonical text. Layout (docs/rules.md "Formatting"): keywords lower case,
// filter operators AND/OR/NOT upper case, one clause per line indented by two spaces, one blank
// line around rules, blank lines elsewhere kept but collapsed, `=` of adjacent actions aligned,
// action arguments keep the user's line breaks with continuation lines aligned after `kind(`.
// Comments stay where they were; a comment inside a construct that is printed on one line
// moves to the line above it.
#include <algorithm>

#include "rules-dsl/ast.h"
#include "rules-dsl/rules_dsl.h"
#include "rules-dsl/util.h"

namespace klaxon::rules_dsl {
namespace {

std::string ValueText(const ast::Value& v) { return v.quoted ? "\"" + v.raw + "\"" : v.raw; }

std::string FilterText(const ast::Filter& f) {
  using K = ast::Filter::Kind;
  std::string out;
  switch (f.kind) {
    case K::kOr:
    case K::kAnd:
      for (size_t i = 0; i < f.children.size(); ++i) {
        if (i > 0) {
          out += f.kind == K::kOr ? " OR " : f.children[i].juxtaposed ? " " : " AND ";
        }
        out += FilterText(f.children[i]);
      }
      return out;
    case K::kNot:
      return (f.bang ? "!" : "NOT ") + FilterText(f.children[0]);
    case K::kParen:
      return "(" + FilterText(f.children[0]) + ")";
    case K::kHas:
      return "has:" + f.key.text;
    case K::kCompare:
      return f.key.text + ":" + CompareOpText(f.op) + f.number;
    case K::kMatch:
      out = f.key.text + ":";
      if (!f.list) return out + ValueText(f.values[0]);
      out += "[";
      for (size_t i = 0; i < f.values.size(); ++i) {
        out += (i > 0 ? ", " : "") + ValueText(f.values[i]);
      }
      return out + "]";
  }
  return out;
}

std::string DurationText(const ast::Duration& d) { return d.amount + Lower(d.unit); }

std::string ConditionText(const ast::Condition& c) {
  using K = ast::Condition::Kind;
  const std::string threshold = c.threshold.number + (c.threshold.percent ? "%" : "");
  const std::string cmp = std::string(" ") + CompareOpText(c.op) + " ";
  const std::string window =
      c.per_form ? "/" + DurationText(c.window) : " in " + DurationText(c.window);
  std::string out;
  switch (c.kind) {
    case K::kFilter:
      return FilterText(c.filter);
    case K::kFrequency:
      out = "frequency" + cmp + threshold + window;
      break;
    case K::kChange:
      out = "frequency in " + DurationText(c.window) + cmp + threshold + " of " +
            DurationText(c.offset) + " ago";
      break;
    case K::kUnique:
      out = "unique(" + c.field.text + ")" + cmp + threshold + window;
      break;
    case K::kRatio:
      out = "ratio(" + FilterText(c.ratio[0]) + ", " + FilterText(c.ratio[1]) + ")" + cmp +
            threshold + window;
      break;
    case K::kNew:
      out = "new(" + c.field.text + ")";
      break;
  }
  if (c.has_filter) out += " for " + FilterText(c.filter);
  return out;
}

std::string JoinWords(const std::vector<ast::Word>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w.text;
  return out;
}

std::string ClauseText(const ast::Clause& c) {
  using K = ast::Clause::Kind;
  switch (c.kind) {
    case K::kWhen:
      return "when " + ConditionText(*c.condition);
    case K::kGroupBy:
      return "group by " + JoinWords(c.words);
    case K::kSeverity:
      return "severity " + Lower(c.words[0].text);
    case K::kSummary:
      return "summary \"" + c.text.raw + "\"";
    case K::kDescription:
      return "description \"" + c.text.raw + "\"";
    case K::kPending:
      return "pending " + DurationText(c.duration);
    case K::kKeepFiring:
      return "keep firing for " + DurationText(c.duration);
    case K::kRepeat:
      return "repeat every " + DurationText(c.duration);
    case K::kLabels: {
      if (c.labels.empty()) return "labels {}";
      std::string out = "labels { ";
      for (size_t i = 0; i < c.labels.size(); ++i) {
        out += (i > 0 ? ", " : "") + c.labels[i].key.text + ": \"" + c.labels[i].value.raw + "\"";
      }
      return out + " }";
    }
    case K::kEnabled:
      return "enabled " + Lower(c.words[0].text);
    case K::kThen:
      return "then " + JoinWords(c.words);
  }
  return "";
}

std::string ActionValueText(const ast::ActionValue& v) {
  using K = ast::ActionValue::Kind;
  switch (v.kind) {
    case K::kString:
      return "\"" + v.string.raw + "\"";
    case K::kEnv:
      return "env(\"" + v.string.raw + "\")";
    case K::kFile:
      return "file(\"" + v.string.raw + "\")";
    case K::kNumber:
      return v.text;
    case K::kBool:
      return Lower(v.text);
    case K::kDuration:
      return DurationText(v.duration);
    case K::kList: {
      std::string out = "[";
      for (size_t i = 0; i < v.list.size(); ++i) {
        out += (i > 0 ? ", " : "") + ActionValueText(v.list[i]);
      }
      return out + "]";
    }
  }
  return "";
}

class Printer {
 public:
  explicit Printer(const ast::File& file) : file_(file) {}

  std::string Run() {
    const auto& items = file_.items;
    for (size_t i = 0; i < items.size(); ++i) {
      const ast::Item& item = items[i];
      force_blank_ = wrote_ && (item.is_rule || last_was_rule_);
      if (item.is_rule) {
        PrintRule(item.rule);
      } else {
        PrintAction(item.action, AlignWidth(i));
      }
      last_was_rule_ = item.is_rule;
    }
    force_blank_ = wrote_ && last_was_rule_;
    CommentsBefore(INT32_MAX, 0, true);
    return out_;
  }

 private:
  // True when printing source lines [start, end] as one unit moves a comment above it (see
  // Unit): every comment in the range except one trailing the last line.
  bool HoistsComments(int start, int end) const {
    const auto& comments = file_.comments;
    auto it = std::lower_bound(comments.begin(), comments.end(), start,
                               [](const ast::Comment& c, int line) { return c.line < line; });
    for (; it != comments.end() && it->line <= end; ++it) {
      if (it->line != end || it->full_line) return true;
    }
    return false;
  }

  // Width of the names of the run of adjacent actions that `i` belongs to. Adjacency is judged
  // on the output, so that formatting again yields the same alignment: a comment hoisted out
  // of an action ends up between it and the action above.
  size_t AlignWidth(size_t i) const {
    const auto& items = file_.items;
    auto adjacent = [&](size_t a, size_t b) {  // b directly follows a
      return !items[a].is_rule && !items[b].is_rule &&
             items[b].action.pos.line == items[a].action.end_line + 1 &&
             !HoistsComments(items[b].action.pos.line, items[b].action.end_line);
    };
    size_t first = i;
    while (first > 0 && adjacent(first - 1, first)) --first;
    size_t last = i;
    while (last + 1 < items.size() && adjacent(last, last + 1)) ++last;
    size_t width = 0;
    for (size_t k = first; k <= last; ++k)
      width = std::max(width, items[k].action.name.text.size());
    return width;
  }

  void Blank(int next_line, bool allow) {
    if (wrote_ && allow && (force_blank_ || next_line > last_line_ + 1)) out_ += "\n";
    force_blank_ = false;
  }

  // Full-line comments above `line`.
  void CommentsBefore(int line, int indent, bool allow_blank_first) {
    bool first = true;
    while (next_comment_ < file_.comments.size() && file_.comments[next_comment_].line < line) {
      const ast::Comment& c = file_.comments[next_comment_++];
      Blank(c.line, !first || allow_blank_first);
      first = false;
      out_ += std::string(indent, ' ') + c.text + "\n";
      last_line_ = c.line;
      wrote_ = true;
    }
  }

  // Prints a unit spanning source lines [start, end]: comments inside it move above it, a
  // comment after it on its last line stays there.
  void Unit(int start, int end, int indent, const std::string& text, bool allow_blank) {
    CommentsBefore(start, indent, allow_blank);
    std::string trailing;
    std::vector<std::string> hoisted;
    while (next_comment_ < file_.comments.size() && file_.comments[next_comment_].line <= end) {
      const ast::Comment& c = file_.comments[next_comment_++];
      if (c.line == end && !c.full_line && trailing.empty()) {
        trailing = c.text;
      } else {
        hoisted.push_back(c.text);
      }
    }
    Blank(start, allow_blank);
    for (const auto& h : hoisted) out_ += std::string(indent, ' ') + h + "\n";
    out_ += std::string(indent, ' ') + text;
    if (!trailing.empty()) out_ += "  " + trailing;
    out_ += "\n";
    last_line_ = end;
    wrote_ = true;
  }

  void PrintRule(const ast::RuleItem& r) {
    Unit(r.pos.line, r.pos.line, 0, "rule " + r.name.text + " {", true);
    bool first = true;
    for (const ast::Clause& c : r.clauses) {
      Unit(c.pos.line, std::max(c.pos.line, c.end_line), 2, ClauseText(c), !first);
      first = false;
    }
    // Comments between the last clause and the brace stay inside the rule.
    CommentsBefore(r.end_line, 2, !first);
    Unit(r.end_line, r.end_line, 0, "}", false);
  }

  void PrintAction(const ast::ActionItem& a, size_t width) {
    std::string head = "action " + a.name.text;
    head += std::string(width > a.name.text.size() ? width - a.name.text.size() : 0, ' ');
    head += " = " + a.kind.text + "(";
    const std::string indent(head.size(), ' ');
    std::string text = head;
    for (size_t i = 0; i < a.args.size(); ++i) {
      if (i > 0) {
        text += ",";
        text += a.args[i].line > a.args[i - 1].line ? "\n" + indent : " ";
      }
      text += a.args[i].key.text + ": " + ActionValueText(a.args[i].value);
    }
    text += ")";
    Unit(a.pos.line, std::max(a.pos.line, a.end_line), 0, text, true);
  }

  const ast::File& file_;
  std::string out_;
  size_t next_comment_ = 0;
  int last_line_ = 0;
  bool wrote_ = false;
  bool force_blank_ = false;
  bool last_was_rule_ = false;
};

}  // namespace

Result<std::string> FormatRules(std::string_view text, std::string_view file_name) {
  const SourceFile source{std::string(file_name), std::string(text)};
  std::vector<Diagnostic> diagnostics;
  const ast::File file = ast::ParseFile(source, CheckOptions{}, diagnostics);
  if (!diagnostics.empty()) {
    LoadResult shown = ParseAndCheck({source});  // same messages as `klaxon check`, with lines
    std::string message;
    for (const Diagnostic& d : shown.diagnostics) {
      for (const Diagnostic& p : diagnostics) {
        if (p.line == d.line && p.column == d.column && p.message == d.message) {
          message += FormatDiagnostic(d);
          break;
        }
      }
    }
    return Status::InvalidArgument(message);
  }
  return Printer(file).Run();
}

}  // namespace klaxon::rules_dsl
