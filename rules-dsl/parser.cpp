// Text -> AST. PEGTL matches one top-level item at a time (so that a syntax error costs only
// the item it is in) into a flat syntax tree of the selected grammar rules, which this file
// then turns into the typed AST (rules-dsl/ast.h).
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "rules-dsl/ast.h"
#include "rules-dsl/grammar.h"
#include "rules-dsl/util.h"

namespace klaxon::rules_dsl::ast {
namespace {

namespace pegtl = tao::pegtl;
namespace g = grammar;

// Error messages, one per must<> point.
template <typename>
inline constexpr const char* kError = nullptr;
#define KLAXON_ERROR(rule, text) \
  template <>                    \
  inline constexpr const char* kError<g::rule> = text;
KLAXON_ERROR(escape_char, "unknown escape in string; use \\\" \\\\ \\n \\t or \\r")
KLAXON_ERROR(close_quote, "unterminated string: expected `\"` before the end of the line")
KLAXON_ERROR(filter_value, "expected a value")
KLAXON_ERROR(close_bracket, "expected `,` or `]`")
KLAXON_ERROR(compare_number, "expected a number after the comparison")
KLAXON_ERROR(key_colon, "expected `:` after the field name, as in service:orders-api")
KLAXON_ERROR(match_rhs, "expected a value after `:`")
KLAXON_ERROR(has_key, "expected a field name after `has:`")
KLAXON_ERROR(or_expr, "expected a filter such as service:orders-api")
KLAXON_ERROR(close_paren, "expected `)`")
KLAXON_ERROR(not_operand, "expected a filter term after NOT")
KLAXON_ERROR(and_operand, "expected a filter term after AND")
KLAXON_ERROR(or_operand, "expected a filter term after OR")
KLAXON_ERROR(unit, "expected a time unit after `/`, as in 5/min or 100/5m")
KLAXON_ERROR(duration, "expected a duration such as 10m")
KLAXON_ERROR(cmp_op, "expected a comparison: >, >=, < or <=")
KLAXON_ERROR(threshold, "expected a number")
KLAXON_ERROR(kw_of, "expected `of`, as in `frequency in 1h > 150% of 1d ago`")
KLAXON_ERROR(change_offset, "expected how long ago the earlier window is, such as 1d")
KLAXON_ERROR(kw_ago, "expected `ago`, as in `of 1d ago`")
KLAXON_ERROR(window, "expected a window such as `/min` or `in 10m`")
KLAXON_ERROR(open_paren, "expected `(`")
KLAXON_ERROR(unique_field, "expected a field name, as in unique(user.id)")
KLAXON_ERROR(ratio_filter,
             "expected a filter, as in ratio(exception.type:DatabaseError, service:orders-api)")
KLAXON_ERROR(ratio_comma, "expected `,` between the two filters of ratio()")
KLAXON_ERROR(for_filter, "expected a filter after `for`, such as service:orders-api")
KLAXON_ERROR(when_body,
             "expected a condition (frequency, unique(), ratio(), new()) or a filter after `when`")
KLAXON_ERROR(when_end,
             "unexpected text in the `when` clause; expected AND, OR or the end of the line")
KLAXON_ERROR(kw_by, "expected `by` after `group`")
KLAXON_ERROR(group_field, "expected a field name")
KLAXON_ERROR(clause_end, "unexpected text; expected the end of the line")
KLAXON_ERROR(severity_value, "expected a severity: critical, error, warning or info")
KLAXON_ERROR(clause_string, "expected a \"quoted string\"")
KLAXON_ERROR(kw_firing, "expected `firing`, as in `keep firing for 5m`")
KLAXON_ERROR(kw_for, "expected `for`, as in `keep firing for 5m`")
KLAXON_ERROR(kw_every, "expected `every`, as in `repeat every 30m`")
KLAXON_ERROR(open_brace, "expected `{`")
KLAXON_ERROR(label_colon, "expected `:` after the label name")
KLAXON_ERROR(label_value, "expected a \"quoted\" label value")
KLAXON_ERROR(label_pair, "expected a label such as team: \"payments\"")
KLAXON_ERROR(close_brace, "expected `,` or `}` in the labels")
KLAXON_ERROR(flag_value, "expected true or false")
KLAXON_ERROR(then_action, "expected an action name")
KLAXON_ERROR(rule_name, "expected a rule name after `rule`")
KLAXON_ERROR(rule_close,
             "expected a clause (when, group by, severity, summary, then, ...) or `}` to close "
             "the rule")
KLAXON_ERROR(action_name, "expected an action name after `action`")
KLAXON_ERROR(equals, "expected `=` after the action name")
KLAXON_ERROR(action_kind, "expected an action kind such as slack(...)")
KLAXON_ERROR(quoted, "expected a \"quoted string\"")
KLAXON_ERROR(scalar_value, "expected a value in the list")
KLAXON_ERROR(arg_value,
             "expected a value: \"string\", number, duration, true/false, [list], env(\"NAME\") "
             "or file(\"path\")")
KLAXON_ERROR(arg_colon, "expected `:` after the argument name")
KLAXON_ERROR(action_arg, "expected an argument such as channel: \"#alerts\"")
KLAXON_ERROR(close_args, "expected `,` or `)` after the argument")
KLAXON_ERROR(item, "expected `rule` or `action`")
#undef KLAXON_ERROR

struct Errors {
  template <typename Rule>
  static constexpr const char* message = kError<Rule>;
  template <typename Rule>
  static constexpr bool raise_on_failure = false;  // only must<> raises
};

template <typename... Rules>
struct GrammarRules {
  template <typename Rule>
  static constexpr bool kContains = (std::is_same_v<Rule, Rules> || ...);
};

// The grammar rules kept in the syntax tree; everything else only shapes the parse.
using Selected = GrammarRules<
    g::rule_item, g::action_item, g::rule_name, g::action_name, g::action_kind, g::arg_key,
    g::action_arg, g::string_value, g::env_call, g::file_call, g::bool_value, g::duration_value,
    g::number_value, g::list_value, g::quoted, g::bare, g::when_clause, g::group_clause,
    g::severity_clause, g::summary_clause, g::description_clause, g::pending_clause,
    g::keep_firing_clause, g::repeat_clause, g::labels_clause, g::enabled_clause, g::then_clause,
    g::unknown_clause, g::clause_word, g::frequency_cond, g::change_cond, g::count_cond,
    g::unique_cond, g::ratio_cond, g::new_cond, g::cmp_op, g::threshold, g::per_window,
    g::in_window, g::duration, g::change_offset, g::amount, g::unit, g::unique_field, g::new_field,
    g::ratio_filter, g::for_filter, g::filter_only, g::or_expr, g::or_operand, g::and_expr,
    g::kw_and, g::not_expr, g::not_kw, g::bang, g::paren_expr, g::has_term, g::has_key,
    g::match_term, g::key, g::compare_rhs, g::compare_op, g::compare_number, g::value_list,
    g::group_field, g::severity_value, g::clause_string, g::label_pair, g::label_key,
    g::label_value, g::flag_value, g::then_action>;

template <typename Rule>
inline constexpr bool kSelected = Selected::kContains<Rule>;

// Whether matching `Rule` can produce selected nodes (looking `Depth` levels down; recursive
// rules are cut off there and assumed to).
template <int Depth, typename Rule>
constexpr bool MayHoldSelected() {
  if constexpr (Depth == 0) {
    return true;
  } else {
    return []<typename... Subs>(pegtl::type_list<Subs...>) {
      return ((kSelected<Subs> || MayHoldSelected<Depth - 1, Subs>()) || ... || false);
    }(typename Rule::subs_t());
  }
}

// One distinct address per grammar rule: the type tag of a node.
template <typename Rule>
inline constexpr char kRuleTag = 0;

using Iterator = pegtl::internal::iterator;

// A syntax tree in two flat vectors, reused from item to item: PEGTL's parse_tree allocates
// every node (and a vector of children) on the heap, which was most of the time spent loading
// a large rule file. Nodes are built bottom-up as parse_tree builds them: a finished node's
// children are the nodes finished since it started, and a rule that fails drops the nodes
// finished since it started, so nodes of failed alternatives never appear.
class Tree {
 public:
  struct Node {
    const char* tag = nullptr;
    Iterator begin;
    Iterator end;
    uint32_t first = 0;  // children: arena_[first, first + count)
    uint32_t count = 0;

    template <typename Rule>
    bool is_type() const {
      return tag == &kRuleTag<Rule>;
    }
    std::string_view view() const {
      return {begin.data, static_cast<size_t>(end.data - begin.data)};
    }
    std::string string() const { return std::string(view()); }
  };
  struct Mark {
    size_t done;
    size_t arena;
  };

  void Clear() {
    arena_.clear();
    done_.clear();
  }

  // The item matched last (valid until the next Clear).
  const Node* Root() const { return done_.empty() ? nullptr : &done_.back(); }
  std::span<const Node> Children(const Node& n) const { return {arena_.data() + n.first, n.count}; }
  const Node& Child(const Node& n, size_t i) const { return arena_[n.first + i]; }

  Mark Here() const { return {done_.size(), arena_.size()}; }
  template <typename Rule>
  void Finish(const Mark& m, const Iterator& begin, const Iterator& end) {
    const Node n{&kRuleTag<Rule>, begin, end, static_cast<uint32_t>(arena_.size()),
                 static_cast<uint32_t>(done_.size() - m.done)};
    arena_.insert(arena_.end(), done_.begin() + static_cast<ptrdiff_t>(m.done), done_.end());
    Truncate(done_, m.done);
    done_.push_back(n);
  }
  void Drop(const Mark& m) {
    Truncate(done_, m.done);
    Truncate(arena_, m.arena);
  }

 private:
  // Most failing rules made no node: keep that case to one comparison.
  static void Truncate(std::vector<Node>& nodes, size_t size) {
    if (nodes.size() > size) nodes.erase(nodes.begin() + static_cast<ptrdiff_t>(size), nodes.end());
  }

  std::vector<Node> arena_;  // finished nodes that have a parent
  std::vector<Node> done_;   // finished nodes waiting for their parent
};
using Node = Tree::Node;

// Builds the Tree around each match (a local mark rather than PEGTL's start/success/failure
// hooks, so that rules without nodes below them cost nothing).
template <typename Rule>
struct TreeControl : pegtl::must_if<Errors>::control<Rule> {
  using Base = pegtl::must_if<Errors>::control<Rule>;
  static constexpr bool kNode = kSelected<Rule>;
  static constexpr bool kBranch = !kNode && MayHoldSelected<8, Rule>();

  template <pegtl::apply_mode A, pegtl::rewind_mode M, template <typename...> class Action,
            template <typename...> class Control, typename ParseInput>
  [[nodiscard]] static bool match(ParseInput& in, Tree& tree) {
    if constexpr (kNode || kBranch) {
      const Tree::Mark mark = tree.Here();
      [[maybe_unused]] const Iterator begin = in.iterator();
      if (Base::template match<A, M, Action, Control>(in, tree)) {
        if constexpr (kNode) tree.Finish<Rule>(mark, begin, in.iterator());
        return true;
      }
      tree.Drop(mark);
      return false;
    } else {
      return Base::template match<A, M, Action, Control>(in, tree);
    }
  }
};

class Converter {
 public:
  Converter(const std::string& file, std::vector<Diagnostic>& diagnostics)
      : file_(file), diagnostics_(diagnostics) {}

  // The tree of the item to convert next.
  void SetTree(const Tree& tree) { tree_ = &tree; }

  std::span<const Node> Kids(const Node& n) const { return tree_->Children(n); }
  const Node& Kid(const Node& n, size_t i) const { return tree_->Child(n, i); }

  static ast::Pos Pos(const Node& n) {
    return {static_cast<int>(n.begin.line), static_cast<int>(n.begin.column)};
  }
  Word MakeWord(const Node& n) const { return {n.string(), Pos(n)}; }

  String MakeString(const Node& n) const {
    String s;
    s.pos = Pos(n);
    const std::string_view all = n.view();
    s.raw = std::string(all.substr(1, all.size() >= 2 ? all.size() - 2 : 0));
    s.value.reserve(s.raw.size());
    s.raw_offsets.reserve(s.raw.size());
    for (size_t i = 0; i < s.raw.size(); ++i) {
      char c = s.raw[i];
      const int at = static_cast<int>(i);
      if (c == '\\' && i + 1 < s.raw.size()) {
        const char e = s.raw[++i];
        c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
      }
      s.value.push_back(c);
      s.raw_offsets.push_back(at);
    }
    return s;
  }

  Duration MakeDuration(const Node& n) const {
    Duration d;
    d.pos = Pos(n);
    for (const Node& c : Kids(n)) {
      if (c.is_type<g::amount>()) d.amount = c.string();
      if (c.is_type<g::unit>()) {
        d.unit = c.string();
        d.unit_pos = Pos(c);
      }
    }
    return d;
  }

  Filter MakeFilter(const Node& n) const {
    Filter f;
    f.pos = Pos(n);
    if (n.is_type<g::or_expr>() || n.is_type<g::for_filter>() || n.is_type<g::filter_only>() ||
        n.is_type<g::ratio_filter>()) {
      if (n.count == 1) return MakeFilter(Kid(n, 0));
      f.kind = Filter::Kind::kOr;
      f.children.reserve(n.count);
      for (const Node& c : Kids(n)) f.children.push_back(MakeFilter(c));
    } else if (n.is_type<g::and_expr>() || n.is_type<g::or_operand>()) {
      f.kind = Filter::Kind::kAnd;
      f.children.reserve(n.count);
      bool explicit_and = false;
      for (const Node& c : Kids(n)) {
        if (c.is_type<g::kw_and>()) {
          explicit_and = true;
          continue;
        }
        f.children.push_back(MakeFilter(c));
        f.children.back().juxtaposed = f.children.size() > 1 && !explicit_and;
        explicit_and = false;
      }
      if (f.children.size() == 1) return std::move(f.children[0]);
    } else if (n.is_type<g::not_expr>()) {
      f.kind = Filter::Kind::kNot;
      f.bang = Kid(n, 0).is_type<g::bang>();
      f.children.push_back(MakeFilter(Kid(n, 1)));
    } else if (n.is_type<g::paren_expr>()) {
      f.kind = Filter::Kind::kParen;
      f.children.push_back(MakeFilter(Kid(n, 0)));
    } else if (n.is_type<g::has_term>()) {
      f.kind = Filter::Kind::kHas;
      f.key = MakeWord(Kid(n, 0));
    } else if (n.is_type<g::match_term>()) {
      f.key = MakeWord(Kid(n, 0));
      const Node& rhs = Kid(n, 1);
      if (rhs.is_type<g::compare_rhs>()) {
        f.kind = Filter::Kind::kCompare;
        f.op = Op(Kid(rhs, 0).view());
        f.number = Kid(rhs, 1).string();
      } else if (rhs.is_type<g::value_list>()) {
        f.kind = Filter::Kind::kMatch;
        f.list = true;
        f.values.reserve(rhs.count);
        for (const Node& v : Kids(rhs)) f.values.push_back(MakeValue(v));
      } else {
        f.kind = Filter::Kind::kMatch;
        f.values.push_back(MakeValue(rhs));
      }
    }
    return f;
  }

  Value MakeValue(const Node& n) const {
    Value v;
    v.pos = Pos(n);
    if (n.is_type<g::quoted>()) {
      String s = MakeString(n);
      v.quoted = true;
      v.text = std::move(s.value);
      v.raw = std::move(s.raw);
    } else {
      v.text = v.raw = n.string();
    }
    return v;
  }

  static CompareOp Op(std::string_view op) {
    return op == ">"    ? CompareOp::kGt
           : op == ">=" ? CompareOp::kGe
           : op == "<"  ? CompareOp::kLt
                        : CompareOp::kLe;
  }

  void ReadThresholdAndWindow(const Node& n, Condition& c) const {
    for (const Node& k : Kids(n)) {
      if (k.is_type<g::cmp_op>()) {
        c.op_text = k.string();
        c.op = Op(c.op_text);
      } else if (k.is_type<g::threshold>()) {
        std::string_view t = k.view();
        c.threshold.pos = Pos(k);
        if (!t.empty() && t.back() == '%') {
          c.threshold.percent = true;
          t.remove_suffix(1);
        }
        c.threshold.number = std::string(t);
      } else if (k.is_type<g::per_window>()) {
        c.per_form = true;
        c.window = MakeDuration(k);
      } else if (k.is_type<g::in_window>()) {
        c.window = MakeDuration(Kid(k, 0));
      } else if (k.is_type<g::duration>()) {
        c.window = MakeDuration(k);
      } else if (k.is_type<g::change_offset>()) {
        c.offset = MakeDuration(k);
      }
    }
  }

  Condition MakeCondition(const Node& when) const {
    Condition c;
    c.pos = Pos(when);
    for (const Node& n : Kids(when)) {
      if (n.is_type<g::filter_only>() || n.is_type<g::for_filter>()) {
        c.has_filter = true;
        c.filter = MakeFilter(n);
      } else if (n.is_type<g::frequency_cond>()) {
        c.pos = Pos(n);
        const Node& inner = Kid(n, 0);
        c.kind = inner.is_type<g::change_cond>() ? Condition::Kind::kChange
                                                 : Condition::Kind::kFrequency;
        ReadThresholdAndWindow(inner, c);
      } else if (n.is_type<g::unique_cond>() || n.is_type<g::new_cond>()) {
        c.pos = Pos(n);
        c.kind = n.is_type<g::unique_cond>() ? Condition::Kind::kUnique : Condition::Kind::kNew;
        for (const Node& f : Kids(n)) {
          if (f.is_type<g::unique_field>() || f.is_type<g::new_field>()) c.field = MakeWord(f);
        }
        if (c.field.pos.line == 0) c.field.pos = Pos(n);
        ReadThresholdAndWindow(n, c);
      } else if (n.is_type<g::ratio_cond>()) {
        c.pos = Pos(n);
        c.kind = Condition::Kind::kRatio;
        for (const Node& f : Kids(n)) {
          if (f.is_type<g::ratio_filter>()) c.ratio.push_back(MakeFilter(f));
        }
        ReadThresholdAndWindow(n, c);
      }
    }
    if (c.kind == Condition::Kind::kFilter) c.pos = c.filter.pos;
    return c;
  }

  bool MakeClause(const Node& n, Clause& c) {
    c.pos = Pos(n);
    c.end_line = static_cast<int>(n.end.line);
    if (n.view().ends_with('\n')) --c.end_line;
    using K = Clause::Kind;
    if (n.is_type<g::when_clause>()) {
      c.kind = K::kWhen;
      c.condition = std::make_shared<const Condition>(MakeCondition(n));
    } else if (n.is_type<g::group_clause>() || n.is_type<g::then_clause>()) {
      c.kind = n.is_type<g::group_clause>() ? K::kGroupBy : K::kThen;
      c.words.reserve(n.count);
      for (const Node& w : Kids(n)) c.words.push_back(MakeWord(w));
    } else if (n.is_type<g::severity_clause>() || n.is_type<g::enabled_clause>()) {
      c.kind = n.is_type<g::severity_clause>() ? K::kSeverity : K::kEnabled;
      c.words.push_back(MakeWord(Kid(n, 0)));
    } else if (n.is_type<g::summary_clause>() || n.is_type<g::description_clause>()) {
      c.kind = n.is_type<g::summary_clause>() ? K::kSummary : K::kDescription;
      c.text = MakeString(Kid(n, 0));
    } else if (n.is_type<g::pending_clause>() || n.is_type<g::keep_firing_clause>() ||
               n.is_type<g::repeat_clause>()) {
      c.kind = n.is_type<g::pending_clause>()       ? K::kPending
               : n.is_type<g::keep_firing_clause>() ? K::kKeepFiring
                                                    : K::kRepeat;
      c.duration = MakeDuration(Kid(n, 0));
    } else if (n.is_type<g::labels_clause>()) {
      c.kind = K::kLabels;
      for (const Node& p : Kids(n)) {
        c.labels.push_back({MakeWord(Kid(p, 0)), MakeString(Kid(p, 1))});
      }
    } else if (n.is_type<g::unknown_clause>()) {
      const Node& word = Kid(n, 0);
      std::string lower = word.string();
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      static constexpr std::string_view kClauses[] = {
          "when", "group",  "severity", "summary", "description", "pending",
          "keep", "repeat", "labels",   "enabled", "then"};
      static constexpr std::string_view kFull[] = {
          "when",    "group by",        "severity",     "summary", "description",
          "pending", "keep firing for", "repeat every", "labels",  "enabled",
          "then"};
      std::string best;
      size_t best_d = 3;
      for (size_t i = 0; i < std::size(kClauses); ++i) {
        const size_t d = EditDistance(lower, kClauses[i]);
        if (d < best_d && d < lower.size()) {
          best_d = d;
          best = kFull[i];
        }
      }
      Diagnostic d;
      d.file = file_;
      d.line = c.pos.line;
      d.column = c.pos.column;
      d.severity = "error";
      d.message = "unknown clause `" + word.string() + "`";
      d.hint = (best.empty() ? "" : "did you mean `" + best + "`? ") +
               "clauses: when, group by, severity, summary, description, pending, keep firing "
               "for, repeat every, labels, enabled, then";
      diagnostics_.push_back(std::move(d));
      return false;
    }
    return true;
  }

  Item MakeItem(const Node& n) {
    Item item;
    if (n.is_type<g::rule_item>()) {
      item.is_rule = true;
      RuleItem& r = item.rule;
      r.pos = Pos(n);
      r.end_line = static_cast<int>(n.end.line);
      r.clauses.reserve(n.count);
      for (const Node& c : Kids(n)) {
        if (c.is_type<g::rule_name>()) {
          r.name = MakeWord(c);
          continue;
        }
        Clause clause;
        if (MakeClause(c, clause)) r.clauses.push_back(std::move(clause));
      }
      // n.end is after the final line break; the brace is on the line before it.
      if (n.view().ends_with('\n')) --r.end_line;
    } else {
      ActionItem& a = item.action;
      a.pos = Pos(n);
      a.end_line = static_cast<int>(n.end.line);
      if (n.view().ends_with('\n')) --a.end_line;
      a.name = MakeWord(Kid(n, 0));
      a.kind = MakeWord(Kid(n, 1));
      for (size_t i = 2; i < n.count; ++i) {
        const Node& arg = Kid(n, i);
        ActionArg out;
        out.key = MakeWord(Kid(arg, 0));
        out.line = out.key.pos.line;
        out.value = MakeActionValue(Kid(arg, 1));
        a.args.push_back(std::move(out));
      }
    }
    return item;
  }

  ActionValue MakeActionValue(const Node& n) const {
    ActionValue v;
    v.pos = Pos(n);
    using K = ActionValue::Kind;
    if (n.is_type<g::string_value>()) {
      v.kind = K::kString;
      v.string = MakeString(n);
    } else if (n.is_type<g::env_call>() || n.is_type<g::file_call>()) {
      v.kind = n.is_type<g::env_call>() ? K::kEnv : K::kFile;
      v.string = MakeString(Kid(n, 0));
    } else if (n.is_type<g::bool_value>()) {
      v.kind = K::kBool;
      v.text = n.string();
    } else if (n.is_type<g::number_value>()) {
      v.kind = K::kNumber;
      v.text = n.string();
    } else if (n.is_type<g::duration_value>()) {
      v.kind = K::kDuration;
      v.duration = MakeDuration(n);
    } else if (n.is_type<g::list_value>()) {
      v.kind = K::kList;
      for (const Node& e : Kids(n)) v.list.push_back(MakeActionValue(e));
    }
    return v;
  }

 private:
  const std::string& file_;
  std::vector<Diagnostic>& diagnostics_;
  const Tree* tree_ = nullptr;
};

// Comments and parenthesis depth, outside strings. Strings never span lines and bare values
// never hold '#' or '"', so this agrees with the grammar.
// Bytes that ScanText can skip: inside a string, and in code after a line's first non-blank.
using ByteTable = std::array<bool, 256>;
constexpr ByteTable AllBut(std::string_view special) {
  ByteTable table{};
  table.fill(true);
  for (const char c : special) table[static_cast<unsigned char>(c)] = false;
  return table;
}
constexpr ByteTable kStringPlain = AllBut("\n\\\"");
constexpr ByteTable kCodePlain = AllBut("\n\"#()");

bool ScanText(const SourceFile& src, const CheckOptions& options, File& file,
              std::vector<Diagnostic>& diagnostics) {
  const std::string& t = src.text;
  int line = 1;
  size_t line_start = 0;
  bool in_string = false;
  bool only_blanks = true;
  int depth = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (!only_blanks || in_string) {  // skip runs of bytes that change nothing
      const ByteTable& plain = in_string ? kStringPlain : kCodePlain;
      while (i < t.size() && plain[static_cast<unsigned char>(t[i])]) ++i;
      if (i == t.size()) break;
    }
    const char c = t[i];
    if (c == '\n') {
      ++line;
      line_start = i + 1;
      in_string = false;
      only_blanks = true;
      continue;
    }
    if (in_string) {
      if (c == '\\') {
        if (i + 1 < t.size() && t[i + 1] != '\n') ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '#') {
      size_t end = t.find('\n', i);
      if (end == std::string::npos) end = t.size();
      size_t trimmed = end;
      while (trimmed > i &&
             (t[trimmed - 1] == ' ' || t[trimmed - 1] == '\t' || t[trimmed - 1] == '\r')) {
        --trimmed;
      }
      file.comments.push_back(
          {line, static_cast<int>(i - line_start) + 1, t.substr(i, trimmed - i), only_blanks});
      i = end - 1;
      continue;
    }
    if (c != ' ' && c != '\t' && c != '\r') only_blanks = false;
    if (c == '"') in_string = true;
    if (c == '(') {
      if (++depth > options.max_nesting) {
        diagnostics.push_back(
            {src.name, line, static_cast<int>(i - line_start) + 1, "error",
             "parentheses nested too deeply",
             "at most " + std::to_string(options.max_nesting) + " levels are allowed", ""});
        return false;
      }
    } else if (c == ')' && depth > 0) {
      --depth;
    }
  }
  return true;
}

// The byte offset of the first line after `line` whose first word is `rule` or `action`.
size_t NextItemStart(const std::string& t, size_t from, int& line) {
  size_t pos = from;
  while (true) {
    const size_t nl = t.find('\n', pos);
    if (nl == std::string::npos) return t.size();
    pos = nl + 1;
    ++line;
    size_t k = pos;
    while (k < t.size() && (t[k] == ' ' || t[k] == '\t')) ++k;
    for (std::string_view word : {std::string_view("rule"), std::string_view("action")}) {
      if (t.compare(k, word.size(), word) == 0 && k + word.size() < t.size() &&
          (t[k + word.size()] == ' ' || t[k + word.size()] == '\t')) {
        return pos;
      }
    }
  }
}

// `action NAME` at `offset`: remembers NAME.
void BrokenActionName(const std::string& t, size_t offset, std::vector<std::string>& names) {
  if (t.compare(offset, 7, "action ") != 0) return;
  size_t b = offset + 7;
  while (b < t.size() && (t[b] == ' ' || t[b] == '\t')) ++b;
  size_t e = b;
  while (e < t.size() &&
         (std::isalnum(static_cast<unsigned char>(t[e])) || t[e] == '_' || t[e] == '-')) {
    ++e;
  }
  if (e > b) names.push_back(t.substr(b, e - b));
}

}  // namespace

File ParseFile(const SourceFile& src, const CheckOptions& options,
               std::vector<Diagnostic>& diagnostics, const std::function<void(Item&&)>& on_item) {
  File file;
  file.name = src.name;
  if (src.text.size() > options.max_file_bytes) {
    diagnostics.push_back(
        {src.name, 1, 1, "error", "file too large",
         "rule files are limited to " + std::to_string(options.max_file_bytes / 1024) + " KiB",
         ""});
    return file;
  }
  if (!ScanText(src, options, file, diagnostics)) return file;
  Converter converter(src.name, diagnostics);
  Tree tree;
  converter.SetTree(tree);
  const char* const begin = src.text.data();
  const char* const end = begin + src.text.size();
  size_t offset = 0;
  size_t line = 1;
  size_t column = 1;                           // PEGTL iterators count columns from 1
  if (src.text.starts_with("\xEF\xBB\xBF")) {  // a UTF-8 byte order mark from some editors
    offset = 3;
    column = 4;
  }
  while (offset < src.text.size() && diagnostics.size() < options.max_diagnostics) {
    // Diagnostics take the file name from `src`; the input needs none.
    pegtl::memory_input<> in(pegtl::internal::iterator(begin + offset, offset, line, column), end,
                             "");
    size_t item_line = 0;
    size_t item_offset = 0;
    try {
      while (true) {
        pegtl::parse<g::ws>(in);
        if (in.empty()) {
          offset = src.text.size();
          break;
        }
        item_line = in.iterator().line;
        item_offset = in.iterator().byte;
        tree.Clear();
        if (pegtl::parse<g::top_item, pegtl::nothing, TreeControl>(in, tree) && tree.Root()) {
          Item item = converter.MakeItem(*tree.Root());
          if (on_item) {
            on_item(std::move(item));
          } else {
            file.items.push_back(std::move(item));
          }
        }
      }
    } catch (const pegtl::parse_error& e) {
      const auto& p = e.positions().front();
      Diagnostic d{src.name, static_cast<int>(p.line), static_cast<int>(p.column),
                   "error",  std::string(e.message()), "",
                   ""};
      const std::string_view rest = std::string_view(src.text).substr(p.byte);
      if (e.message() == kError<g::rule_close> &&
          (rest.starts_with("rule ") || rest.starts_with("action "))) {
        d.hint = "the rule above is missing its closing `}`";
      }
      if (e.message() == kError<g::close_args> &&
          (rest.starts_with("rule ") || rest.starts_with("action "))) {
        d.hint = "the action above is missing its closing `)`";
      }
      diagnostics.push_back(std::move(d));
      BrokenActionName(src.text, item_offset, file.broken_actions);
      int next_line = static_cast<int>(item_line);
      // Resume at the next `rule`/`action` line after the start of the failed item.
      offset = NextItemStart(src.text, item_offset, next_line);
      line = static_cast<size_t>(next_line);
      column = 1;
    }
  }
  return file;
}

}  // namespace klaxon::rules_dsl::ast
