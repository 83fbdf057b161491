// "Did you mean": the one edit distance and nearest-name look-up of Klaxon, shared by the rule
// checker, the action schema and the configuration loader so that every suggestion is made
// the same way. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace klaxon {

// Optimal string alignment distance (a swap of neighbours costs 1). Words over 64 characters
// are never typos of Klaxon's names: their distance is their length, without the work.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo, else "".
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace klaxon
