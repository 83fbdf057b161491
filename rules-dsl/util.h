// Small helpers shared by the rules-dsl passes. Edit distance and "did you mean" live in
// engine/closest_match.h, shared with actions/ and cli/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/closest_match.h"

namespace klaxon::rules_dsl {

// ASCII lower case.
std::string Lower(std::string_view s);

// "a, b, c" (at most `limit` items, then ", ...").
std::string JoinNames(const std::vector<std::string>& names, size_t limit = 12);

}  // namespace klaxon::rules_dsl
