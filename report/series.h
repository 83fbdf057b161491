// A measured value over time, reduced to what a chart can show.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace klaxon::report {

struct Point {
  int64_t at_ms = 0;
  double value = 0;
};

// At most `max_points` points (rounded up to even) over [from_ms, to_ms]: per equal-width
// bucket its lowest and highest point in time order, so a one-sample spike over a week is
// still drawn. Input sorted by time.
std::vector<Point> Downsample(const std::vector<Point>& points, int64_t from_ms, int64_t to_ms,
                              size_t max_points);

struct Tick {
  int64_t at_ms = 0;
  std::string label;  // "10:00", "Nov 27", ...
};
// Round times for an axis over [from_ms, to_ms] (UTC), about `count` of them.
std::vector<Tick> TimeTicks(int64_t from_ms, int64_t to_ms, int count);

// A short number for labels: 12, 1.5, 2.3k, 1.2M.
std::string ShortNumber(double v);

}  // namespace klaxon::report
