// Count windows against a brute-force oracle: for random streams the engine's firing and
// resolve times must equal a direct recount of (t - W, t] at every instant that matters.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>

#include "tests/engine/engine_test_util.h"

namespace klaxon {
namespace {

using namespace klaxon::testing;

std::vector<std::string> Oracle(const std::vector<int64_t>& times, CompareOp op, int n, int64_t w,
                                int64_t end) {
  // Instants where the condition can change: events and events + W.
  std::set<int64_t> instants(times.begin(), times.end());
  for (int64_t t : times) instants.insert(t + w);
  auto count = [&](int64_t lo, int64_t hi, bool include_hi) {  // (lo, hi) or (lo, hi]
    int c = 0;
    for (int64_t t : times) c += t > lo && (include_hi ? t <= hi : t < hi);
    return c;
  };
  auto holds = [&](int c) { return op == CompareOp::kGt ? c > n : c >= n; };
  std::vector<std::string> out;
  bool firing = false;
  for (int64_t at : instants) {
    if (at > end) break;
    // Timers first: the window at `at` without the event stamped `at`.
    const int before = count(at - w, at, false);
    if (firing && !holds(before)) {
      firing = false;
      out.push_back(std::to_string(at) + " r resolved v=" + std::to_string(before) + " g=");
    }
    const bool has_event = std::binary_search(times.begin(), times.end(), at);
    const int after = count(at - w, at, true);
    if (has_event && !firing && holds(after)) {
      firing = true;
      out.push_back(std::to_string(at) + " r firing v=" + std::to_string(after) + " g=");
    }
  }
  return out;
}

TEST_CASE("count windows agree with a brute-force recount on random streams") {
  std::mt19937_64 rng(2024);
  int compared = 0;
  for (int round = 0; round < 300; ++round) {
    const CompareOp op = rng() % 2 ? CompareOp::kGt : CompareOp::kGe;
    // `>= 0` is always true (even on an empty window); the engine reads it as `>= 1`.
    const int n = static_cast<int>(rng() % 5) + (op == CompareOp::kGe ? 1 : 0);
    const int64_t w = 50 + static_cast<int64_t>(rng() % 500);
    std::vector<int64_t> times;
    int64_t t = kT0;
    for (int i = 0; i < 60; ++i) {
      t += 1 + static_cast<int64_t>(rng() % (rng() % 2 ? 40 : 300));
      times.push_back(t);
    }
    Harness h({CountRule("r", Predicate(), op, n, w)});
    for (int64_t x : times) h.At(x);
    h.Advance(t + 10 * w);
    const auto expect = Oracle(times, op, n, w, t + 10 * w);
    INFO("round " << round << " n " << n << " w " << w);
    REQUIRE(ShowAll(h.out) == expect);
    compared += static_cast<int>(expect.size());
  }
  CHECK(compared > 1000);
}

}  // namespace
}  // namespace klaxon
