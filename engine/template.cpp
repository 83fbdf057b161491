#include "engine/template.h"

#include <cctype>

namespace klaxon {
namespace {

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-' ||
         c == '[' || c == ']';
}

}  // namespace

Result<Template> CompileTemplate(std::string_view source) {
  Template t;
  size_t i = 0;
  std::string literal;
  size_t literal_start = 0;
  auto flush_literal = [&](size_t next_start) {
    if (!literal.empty()) t.parts.push_back({false, std::move(literal), literal_start});
    literal.clear();
    literal_start = next_start;
  };
  while (i < source.size()) {
    if (source.compare(i, 2, "{{") != 0) {
      literal.push_back(source[i++]);
      continue;
    }
    const size_t open = i;
    const size_t close = source.find("}}", i + 2);
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("unclosed '{{' at offset " + std::to_string(open));
    }
    std::string_view inner = source.substr(open + 2, close - open - 2);
    while (!inner.empty() && inner.front() == ' ') inner.remove_prefix(1);
    while (!inner.empty() && inner.back() == ' ') inner.remove_suffix(1);
    if (inner.empty()) {
      return Status::InvalidArgument("empty placeholder at offset " + std::to_string(open));
    }
    for (char c : inner) {
      if (!IsNameChar(c)) {
        return Status::InvalidArgument("invalid placeholder name '" + std::string(inner) +
                                       "' at offset " + std::to_string(open));
      }
    }
    flush_literal(close + 2);
    t.parts.push_back({true, std::string(inner), open});
    i = close + 2;
  }
  flush_literal(i);
  return t;
}

std::string RenderTemplate(const Template& t, const TemplateLookup& lookup) {
  std::string out;
  for (const TemplatePart& part : t.parts) {
    if (!part.placeholder) {
      out += part.text;
    } else if (auto value = lookup(part.text)) {
      out += *value;
    }
  }
  return out;
}

}  // namespace klaxon
