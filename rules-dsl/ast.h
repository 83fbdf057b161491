// The typed syntax tree of a rule file: what the parser produces and the checker and formatter
// consume. Every node keeps its Pos; texts are kept as written so that the formatter can
// reproduce them. Plain data, no PEGTL.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/rule.h"
#include "rules-dsl/rules_dsl.h"

namespace klaxon::rules_dsl::ast {

// A 1-based line and byte column in the file being parsed. No file name: the nodes of a File
// share File::name, and a copy of the path in every node was a large part of loading big files.
struct Pos {
  int line = 0;
  int column = 0;
};

struct Word {
  std::string text;
  Pos pos;
};

// A string literal: `raw` is the text between the quotes as written, `value` is unescaped and
// `raw_offsets[i]` is the offset in `raw` of value[i] (to place diagnostics inside strings).
struct String {
  std::string raw;
  std::string value;
  std::vector<int> raw_offsets;
  Pos pos;  // of the opening quote
};

// `10m`, `1h`; in `5/min` the amount is implicit (empty) and means 1.
struct Duration {
  std::string amount;
  std::string unit;
  Pos pos;
  Pos unit_pos;
};

struct Value {  // a filter value: bare token or quoted string
  bool quoted = false;
  std::string text;  // unescaped
  std::string raw;   // as written (without quotes)
  Pos pos;
};

struct Filter {
  enum class Kind { kOr, kAnd, kNot, kParen, kHas, kMatch, kCompare };
  Kind kind = Kind::kMatch;
  std::vector<Filter> children;   // kOr, kAnd (2+), kNot and kParen (1)
  bool bang = false;              // kNot written as `!`
  bool juxtaposed = false;        // a child of kAnd written without `AND` before it
  Word key;                       // kHas, kMatch, kCompare
  std::vector<Value> values;      // kMatch
  bool list = false;              // kMatch written as `key:[a, b]`
  CompareOp op = CompareOp::kGt;  // kCompare
  std::string number;             // kCompare, as written
  Pos pos;
};

struct Threshold {
  std::string number;  // as written, may start with '-'
  bool percent = false;
  Pos pos;
};

struct Condition {
  enum class Kind { kFilter, kFrequency, kChange, kUnique, kRatio, kNew };
  Kind kind = Kind::kFilter;
  CompareOp op = CompareOp::kGt;
  std::string op_text;
  Threshold threshold;
  bool per_form = false;  // `5/min` rather than `in 1m`
  Duration window;
  Duration offset;            // kChange
  Word field;                 // kUnique, kNew; empty text in `new()`
  std::vector<Filter> ratio;  // kRatio: numerator, denominator
  bool has_filter = false;    // `for FILTER`, or the whole filter of kFilter
  Filter filter;
  Pos pos;
};

struct Label {
  Word key;
  String value;
};

struct Clause {
  enum class Kind {
    kWhen,
    kGroupBy,
    kSeverity,
    kSummary,
    kDescription,
    kPending,
    kKeepFiring,
    kRepeat,
    kLabels,
    kEnabled,
    kThen
  };
  Kind kind = Kind::kWhen;
  Pos pos;
  int end_line = 0;
  std::shared_ptr<const Condition> condition;  // kWhen (behind a pointer: Clause stays small)
  std::vector<Word> words;    // kGroupBy fields, kThen actions, kSeverity/kEnabled value
  String text;                // kSummary, kDescription
  Duration duration;          // kPending, kKeepFiring, kRepeat
  std::vector<Label> labels;  // kLabels
};

struct ActionValue {
  enum class Kind { kString, kNumber, kDuration, kBool, kList, kEnv, kFile };
  Kind kind = Kind::kString;
  String string;      // kString, kEnv, kFile
  std::string text;   // kNumber, kBool as written
  Duration duration;  // kDuration
  std::vector<ActionValue> list;
  Pos pos;
};

struct ActionArg {
  Word key;
  ActionValue value;
  int line = 0;  // where the argument starts; the formatter keeps the user's line breaks
};

struct RuleItem {
  Word name;
  Pos pos;
  std::vector<Clause> clauses;
  int end_line = 0;  // the closing brace
};

struct ActionItem {
  Word name;
  Word kind;
  std::vector<ActionArg> args;
  Pos pos;
  int end_line = 0;
};

struct Item {
  bool is_rule = false;
  RuleItem rule;
  ActionItem action;
  int line() const { return is_rule ? rule.pos.line : action.pos.line; }
};

struct Comment {
  int line = 0;
  int column = 0;
  std::string text;  // from '#' to the end of the line, trailing blanks removed
  bool full_line = false;
};

struct File {
  std::string name;
  std::vector<Item> items;
  std::vector<Comment> comments;
  // Names of actions whose definition did not parse: known, so that `then` does not cascade.
  std::vector<std::string> broken_actions;
};

// Parses one file; syntax errors go to `diagnostics` (one per failed top-level item, parsing
// resumes at the next line starting with `rule` or `action`).
// With `on_item`, each item is handed over as soon as it is parsed instead of being kept in
// File::items, so that checking a large file never holds more than one item's tree.
File ParseFile(const SourceFile& source, const CheckOptions& options,
               std::vector<Diagnostic>& diagnostics,
               const std::function<void(Item&&)>& on_item = nullptr);

}  // namespace klaxon::rules_dsl::ast
