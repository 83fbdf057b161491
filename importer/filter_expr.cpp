#include "importer/filter_expr.h"

#include <algorithm>

namespace klaxon::importer {
namespace {

bool IsPlainKey(const std::string& key) {
  if (key.empty() || !(std::isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_')) {
    return false;
  }
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// Binding strength, to know where parentheses are needed: OR < AND < NOT < term.
int Strength(const FilterExpr& f) {
  switch (f.kind) {
    case FilterExpr::Kind::kOr:
      return 0;
    case FilterExpr::Kind::kAnd:
      return 1;
    case FilterExpr::Kind::kNot:
      return 2;
    default:
      return 3;
  }
}

std::string Child(const FilterExpr& child, int min_strength) {
  std::string text = RenderFilter(child);
  return Strength(child) < min_strength ? "(" + text + ")" : text;
}

FilterExpr Combine(FilterExpr::Kind kind, std::vector<FilterExpr> children) {
  FilterExpr out;
  out.kind = kind;
  for (FilterExpr& c : children) {
    if (c.IsAll()) {
      if (kind == FilterExpr::Kind::kOr) return FilterExpr::All();
      continue;
    }
    if (c.kind == kind) {
      for (FilterExpr& g : c.children) out.children.push_back(std::move(g));
    } else {
      out.children.push_back(std::move(c));
    }
  }
  if (kind == FilterExpr::Kind::kOr) {
    // `a:x OR a:y` reads better as `a:[x, y]`, which means the same.
    std::vector<FilterExpr> merged;
    for (FilterExpr& c : out.children) {
      auto same = std::find_if(merged.begin(), merged.end(), [&](const FilterExpr& m) {
        return m.kind == FilterExpr::Kind::kMatch && c.kind == FilterExpr::Kind::kMatch &&
               m.key == c.key;
      });
      if (same == merged.end()) {
        merged.push_back(std::move(c));
      } else {
        for (std::string& v : c.values) same->values.push_back(std::move(v));
      }
    }
    out.children = std::move(merged);
  }
  if (out.children.empty()) return FilterExpr::All();
  if (out.children.size() == 1) return std::move(out.children.front());
  return out;
}

}  // namespace

FilterExpr FilterExpr::Match(std::string key, std::vector<std::string> values) {
  FilterExpr f;
  f.kind = Kind::kMatch;
  f.key = std::move(key);
  f.values = std::move(values);
  return f;
}

FilterExpr FilterExpr::Has(std::string key) {
  FilterExpr f;
  f.kind = Kind::kHas;
  f.key = std::move(key);
  return f;
}

FilterExpr FilterExpr::Compare(std::string key, std::string op, std::string number) {
  FilterExpr f;
  f.kind = Kind::kCompare;
  f.key = std::move(key);
  f.op = std::move(op);
  f.number = std::move(number);
  return f;
}

FilterExpr FilterExpr::And(std::vector<FilterExpr> children) {
  return Combine(Kind::kAnd, std::move(children));
}

FilterExpr FilterExpr::Or(std::vector<FilterExpr> children) {
  return Combine(Kind::kOr, std::move(children));
}

FilterExpr FilterExpr::Not(FilterExpr child) {
  if (child.kind == Kind::kNot) return std::move(child.children.front());
  FilterExpr f;
  f.kind = Kind::kNot;
  f.children.push_back(std::move(child));
  return f;
}

std::string RenderKey(const std::string& key) {
  return IsPlainKey(key) ? key : "tags[" + key + "]";
}

std::string RenderValue(const std::string& value) {
  const bool bare = !value.empty() && value.front() != '>' && value.front() != '<' &&
                    value.find_first_of(" \t\r\n,)](#[\"") == std::string::npos;
  if (bare) return value;
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

std::string RenderFilter(const FilterExpr& f) {
  switch (f.kind) {
    case FilterExpr::Kind::kAll:
      return "";
    case FilterExpr::Kind::kMatch: {
      std::string out = RenderKey(f.key) + ":";
      if (f.values.size() == 1) return out + RenderValue(f.values.front());
      out += "[";
      for (size_t i = 0; i < f.values.size(); ++i) {
        out += (i ? ", " : "") + RenderValue(f.values[i]);
      }
      return out + "]";
    }
    case FilterExpr::Kind::kHas:
      return "has:" + RenderKey(f.key);
    case FilterExpr::Kind::kCompare:
      return RenderKey(f.key) + ":" + f.op + f.number;
    case FilterExpr::Kind::kNot:
      return "NOT " + Child(f.children.front(), 3);
    case FilterExpr::Kind::kAnd:
    case FilterExpr::Kind::kOr: {
      const bool is_and = f.kind == FilterExpr::Kind::kAnd;
      std::string out;
      for (size_t i = 0; i < f.children.size(); ++i) {
        if (i) out += is_and ? " AND " : " OR ";
        out += Child(f.children[i], is_and ? 2 : 1);
      }
      return out;
    }
  }
  return "";
}

}  // namespace klaxon::importer
