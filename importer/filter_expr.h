// A filter of the Klaxon rule language as the importers build it: a small tree that renders to
// the text `klaxon fmt` prints (keys spelt or bracketed as tags, values bare or quoted, the
// fewest parentheses). Plain data; pure functions.
#pragma once

#include <string>
#include <vector>

namespace klaxon::importer {

struct FilterExpr {
  enum class Kind { kAll, kMatch, kHas, kCompare, kAnd, kOr, kNot };
  Kind kind = Kind::kAll;  // kAll: no restriction (every event)
  std::string key;
  std::vector<std::string> values;  // kMatch: any of them; `*` is a wildcard
  std::string op;                   // kCompare: ">", ">=", "<", "<="
  std::string number;               // kCompare
  std::vector<FilterExpr> children;

  static FilterExpr All() { return {}; }
  static FilterExpr Match(std::string key, std::vector<std::string> values);
  static FilterExpr Has(std::string key);
  static FilterExpr Compare(std::string key, std::string op, std::string number);
  // And/Or drop kAll children (And of nothing is kAll; Or with a kAll child is kAll) and
  // flatten nested ones of the same kind.
  static FilterExpr And(std::vector<FilterExpr> children);
  static FilterExpr Or(std::vector<FilterExpr> children);
  static FilterExpr Not(FilterExpr child);  // Not(Not(x)) is x

  bool IsAll() const { return kind == Kind::kAll; }
};

// The filter as rule text, e.g. `service:orders-api AND NOT level:[debug, info]`. kAll renders
// as "" (callers leave out `for`).
std::string RenderFilter(const FilterExpr& f);

// A key as the rule language spells it: itself when it is a plain dotted key, else `tags[key]`.
std::string RenderKey(const std::string& key);

// A filter value: bare when the grammar allows it, else quoted with escapes.
std::string RenderValue(const std::string& value);

}  // namespace klaxon::importer
