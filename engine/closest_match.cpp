#include "engine/closest_match.h"

#include <algorithm>

namespace klaxon {

size_t EditDistance(std::string_view a, std::string_view b) {
  // Bound the work on hostile input.
  if (a.size() > 64 || b.size() > 64) return std::max(a.size(), b.size());
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], prev2[j - 2] + 1);
      }
    }
    prev2.swap(prev);
    prev.swap(row);
  }
  return prev[b.size()];
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  const size_t limit = word.size() <= 3 ? 1 : word.size() <= 6 ? 2 : 3;
  std::string best;
  size_t best_distance = limit + 1;
  // Bounded work per lookup, whatever the number of names a hostile file defines.
  size_t budget = 4096;
  for (const std::string& c : candidates) {
    const size_t length_gap =
        c.size() > word.size() ? c.size() - word.size() : word.size() - c.size();
    if (length_gap > limit) continue;
    if (budget-- == 0) break;
    const size_t d = EditDistance(word, c);
    if (d < best_distance && d < c.size()) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace klaxon
