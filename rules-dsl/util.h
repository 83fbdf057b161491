// Small helpers shared by the rules-dsl passes: edit distance and "did you mean".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace klaxon::rules_dsl {

size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo, else "".
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// ASCII lower case.
std::string Lower(std::string_view s);

// "a, b, c" (at most `limit` items, then ", ...").
std::string JoinNames(const std::vector<std::string>& names, size_t limit = 12);

}  // namespace klaxon::rules_dsl
