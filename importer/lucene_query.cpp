#include "importer/lucene_query.h"

#include <cctype>

namespace klaxon::importer {
namespace {

constexpr int kMaxDepth = 64;

bool IsNumber(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

class Parser {
 public:
  Parser(std::string_view q, bool default_and) : q_(q), default_and_(default_and) {}

  Result<FilterExpr> Parse() {
    FilterExpr f = Or(0);
    SkipSpace();
    if (error_.empty() && pos_ < q_.size()) Fail("unexpected `" + std::string(1, q_[pos_]) + "`");
    if (!error_.empty()) return Status::InvalidArgument(error_);
    return f;
  }

 private:
  void Fail(const std::string& message) {
    if (error_.empty()) error_ = "query_string at offset " + std::to_string(pos_) + ": " + message;
  }
  void SkipSpace() {
    while (pos_ < q_.size() && std::isspace(static_cast<unsigned char>(q_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= q_.size() || q_[pos_] == ')';
  }
  // An operator word followed by a blank or `(`.
  bool Keyword(std::string_view word) {
    SkipSpace();
    if (q_.substr(pos_, word.size()) != word) return false;
    const size_t after = pos_ + word.size();
    if (after < q_.size() && !std::isspace(static_cast<unsigned char>(q_[after])) &&
        q_[after] != '(') {
      return false;
    }
    pos_ = after;
    return true;
  }
  bool Symbol(std::string_view s) {
    SkipSpace();
    if (q_.substr(pos_, s.size()) != s) return false;
    pos_ += s.size();
    return true;
  }

  FilterExpr Or(int depth) {
    std::vector<FilterExpr> parts{And(depth)};
    while (error_.empty() && !AtEnd()) {
      if (Keyword("OR") || Symbol("||")) {
        parts.push_back(And(depth));
      } else if (!default_and_) {
        parts.push_back(And(depth));
      } else {
        break;
      }
    }
    return parts.size() == 1 ? std::move(parts.front()) : FilterExpr::Or(std::move(parts));
  }

  FilterExpr And(int depth) {
    std::vector<FilterExpr> parts{Unary(depth)};
    while (error_.empty() && !AtEnd()) {
      if (Keyword("AND") || Symbol("&&")) {
        parts.push_back(Unary(depth));
      } else if (default_and_ && !StartsOr()) {
        parts.push_back(Unary(depth));
      } else if (StartsRequired()) {
        parts.push_back(Unary(depth));
      } else {
        break;
      }
    }
    return parts.size() == 1 ? std::move(parts.front()) : FilterExpr::And(std::move(parts));
  }

  bool StartsOr() {
    SkipSpace();
    return q_.substr(pos_, 3) == "OR " || q_.substr(pos_, 2) == "||";
  }
  bool StartsRequired() {
    SkipSpace();
    // `+a`, `-a`, `!a` and `NOT a` side by side are required (or excluded) whatever the
    // default operator is.
    return pos_ < q_.size() && (q_[pos_] == '+' || q_[pos_] == '-' || q_[pos_] == '!' ||
                                q_.substr(pos_, 4) == "NOT " || q_.substr(pos_, 4) == "NOT(");
  }

  FilterExpr Unary(int depth) {
    if (depth > kMaxDepth) {
      Fail("nested more than 64 deep");
      return {};
    }
    if (Keyword("NOT") || Symbol("!") || Symbol("-")) return FilterExpr::Not(Unary(depth + 1));
    if (Symbol("+")) return Unary(depth + 1);
    return Primary(depth);
  }

  FilterExpr Primary(int depth) {
    SkipSpace();
    if (pos_ >= q_.size()) {
      Fail("a term was expected");
      return {};
    }
    if (Symbol("(")) {
      FilterExpr f = Or(depth + 1);
      if (!Symbol(")")) Fail("`)` was expected");
      return f;
    }
    const size_t start = pos_;
    std::string field = Word(true);
    if (!Symbol(":")) {
      pos_ = start;
      Fail("a term without a field (`" + field +
           "`) searches Elasticsearch's default field, "
           "which has no equivalent: write field:value");
      return {};
    }
    if (field == "_exists_") return FilterExpr::Has(KlaxonKey(Word(false)));
    return FieldValue(KlaxonKey(field), depth);
  }

  // The value side of `field:...`.
  FilterExpr FieldValue(const std::string& key, int depth) {
    SkipSpace();
    if (Symbol("(")) {  // field:(a OR b c)
      std::vector<FilterExpr> parts;
      while (error_.empty() && !Symbol(")")) {
        if (pos_ >= q_.size()) {
          Fail("`)` was expected");
          break;
        }
        if (Keyword("OR") || Symbol("||")) continue;
        if (Keyword("AND") || Symbol("&&")) {
          Fail("AND inside field:(...) is not supported");
          break;
        }
        parts.push_back(ValueTerm(key, depth));
      }
      return FilterExpr::Or(std::move(parts));
    }
    if (pos_ < q_.size() && (q_[pos_] == '[' || q_[pos_] == '{')) return Range(key);
    for (std::string_view op : {">=", "<=", ">", "<"}) {
      if (Symbol(op)) {
        std::string n = Word(false);
        if (!IsNumber(n)) Fail("`" + std::string(op) + "` needs a number, not `" + n + "`");
        return FilterExpr::Compare(key, std::string(op), n);
      }
    }
    return ValueTerm(key, depth);
  }

  FilterExpr ValueTerm(const std::string& key, int /*depth*/) {
    SkipSpace();
    if (pos_ < q_.size() && q_[pos_] == '"') return FilterExpr::Match(key, {Phrase()});
    if (pos_ < q_.size() && q_[pos_] == '/') {
      Fail("regular expressions have no equivalent");
      return {};
    }
    std::string v = Word(false);
    if (v.empty()) Fail("a value was expected");
    return FilterExpr::Match(key, {v});
  }

  std::string Phrase() {
    ++pos_;  // the opening quote
    std::string out;
    while (pos_ < q_.size() && q_[pos_] != '"') {
      if (q_[pos_] == '\\' && pos_ + 1 < q_.size()) ++pos_;
      out += q_[pos_++];
    }
    if (pos_ >= q_.size()) {
      Fail("unterminated quoted phrase");
    } else {
      ++pos_;
    }
    if (pos_ < q_.size() && q_[pos_] == '~') Fail("proximity search (`~`) has no equivalent");
    return out;
  }

  // `[a TO b]` inclusive, `{a TO b}` exclusive, `*` for an open end; numbers only.
  FilterExpr Range(const std::string& key) {
    const bool low_inclusive = q_[pos_++] == '[';
    std::string low = Word(false);
    if (!Keyword("TO")) {
      Fail("`TO` was expected in a range");
      return {};
    }
    std::string high = Word(false);
    SkipSpace();
    if (pos_ >= q_.size() || (q_[pos_] != ']' && q_[pos_] != '}')) {
      Fail("`]` or `}` was expected");
      return {};
    }
    const bool high_inclusive = q_[pos_++] == ']';
    std::vector<FilterExpr> parts;
    for (const auto& [bound, op] : {std::pair{low, low_inclusive ? ">=" : ">"},
                                    std::pair{high, high_inclusive ? "<=" : "<"}}) {
      if (bound == "*") continue;
      if (!IsNumber(bound)) {
        Fail("ranges are supported on numbers only, not `" + bound + "`");
        return {};
      }
      parts.push_back(FilterExpr::Compare(key, op, bound));
    }
    return parts.empty() ? FilterExpr::Has(key) : FilterExpr::And(std::move(parts));
  }

  // A bare word up to a blank, a parenthesis, or (for a field name) the colon; `\` escapes.
  std::string Word(bool field) {
    SkipSpace();
    std::string out;
    while (pos_ < q_.size()) {
      const char c = q_[pos_];
      if (std::isspace(static_cast<unsigned char>(c)) || c == '(' || c == ')' ||
          (field && c == ':') || (!field && (c == ']' || c == '}'))) {
        break;
      }
      if (c == '\\' && pos_ + 1 < q_.size()) {
        out += q_[pos_ + 1];
        pos_ += 2;
        continue;
      }
      if (!field && (c == '?' || c == '~' || c == '^')) {
        if (c == '^') {  // a boost changes scores, not which documents match
          while (pos_ < q_.size() && !std::isspace(static_cast<unsigned char>(q_[pos_])) &&
                 q_[pos_] != ')') {
            ++pos_;
          }
          break;
        }
        Fail(c == '?' ? "the `?` wildcard has no equivalent (`*` has)"
                      : "fuzzy search (`~`) has no equivalent");
        break;
      }
      out += c;
      ++pos_;
    }
    return out;
  }

  std::string_view q_;
  bool default_and_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

std::string KlaxonKey(std::string_view es_field) {
  for (std::string_view suffix : {".keyword", ".raw"}) {
    if (es_field.size() > suffix.size() && es_field.ends_with(suffix)) {
      es_field.remove_suffix(suffix.size());
    }
  }
  return std::string(es_field);
}

Result<FilterExpr> ParseLuceneQuery(std::string_view query, bool default_and) {
  return Parser(query, default_and).Parse();
}

}  // namespace klaxon::importer
