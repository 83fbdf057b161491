// Template: a compiled `{{placeholder}}` string (rule summaries, descriptions, action bodies).
//
// Compiled once when rules load; rendering walks the parts and asks a lookup for each
// placeholder. Which names exist is checked by rules-dsl (klaxon check), not here.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace klaxon {

struct TemplatePart {
  bool placeholder = false;
  std::string text;   // literal text, or the placeholder's dotted name without spaces
  size_t offset = 0;  // byte offset of the part in the template source
};

struct Template {
  std::vector<TemplatePart> parts;
  bool empty() const { return parts.empty(); }
};

// Errors name the byte offset: "unclosed '{{' at offset 12", "empty placeholder at offset 3",
// "invalid placeholder name 'a b' at offset 5". `{{{{` is not special; a lone `}}` is literal.
Result<Template> CompileTemplate(std::string_view source);

using TemplateLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Renders; a placeholder the lookup does not know renders as the empty string.
std::string RenderTemplate(const Template& t, const TemplateLookup& lookup);

}  // namespace klaxon
