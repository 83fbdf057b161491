#include "report/series.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

namespace klaxon::report {

std::vector<Point> Downsample(const std::vector<Point>& points, int64_t from_ms, int64_t to_ms,
                              size_t max_points) {
  const size_t buckets = std::max<size_t>(1, (max_points + 1) / 2);
  if (points.size() <= buckets * 2 || to_ms <= from_ms) return points;
  const double width = static_cast<double>(to_ms - from_ms) / static_cast<double>(buckets);
  std::vector<Point> out;
  out.reserve(buckets * 2);
  size_t i = 0;
  for (size_t b = 0; b < buckets && i < points.size(); ++b) {
    const int64_t end =
        b + 1 == buckets ? INT64_MAX : from_ms + static_cast<int64_t>(width * (b + 1));
    size_t lo = SIZE_MAX;
    size_t hi = SIZE_MAX;
    for (; i < points.size() && points[i].at_ms < end; ++i) {
      if (lo == SIZE_MAX || points[i].value < points[lo].value) lo = i;
      if (hi == SIZE_MAX || points[i].value > points[hi].value) hi = i;
    }
    if (lo == SIZE_MAX) continue;
    out.push_back(points[std::min(lo, hi)]);
    if (lo != hi) out.push_back(points[std::max(lo, hi)]);
  }
  return out;
}

std::vector<Tick> TimeTicks(int64_t from_ms, int64_t to_ms, int count) {
  std::vector<Tick> ticks;
  if (to_ms <= from_ms || count <= 0) return ticks;
  static constexpr int64_t kSteps[] = {1000,     5000,     15000,     60000,     300000,
                                       900000,   1800000,  3600000,   10800000,  21600000,
                                       43200000, 86400000, 172800000, 604800000, 2592000000};
  const int64_t span = to_ms - from_ms;
  int64_t step = kSteps[std::size(kSteps) - 1];
  for (int64_t s : kSteps) {
    if (span / s <= count) {
      step = s;
      break;
    }
  }
  const bool days = step >= 86400000;
  const bool seconds = step < 60000;
  for (int64_t t = (from_ms / step + (from_ms % step > 0 ? 1 : 0)) * step; t <= to_ms; t += step) {
    const time_t secs = static_cast<time_t>(t / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, days ? "%b %d" : (seconds ? "%H:%M:%S" : "%H:%M"), &tm);
    ticks.push_back({t, buf});
  }
  return ticks;
}

std::string ShortNumber(double v) {
  const double a = std::fabs(v);
  if (a >= 1e6) return fmt::format("{:.3g}M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:.3g}k", v / 1e3);
  if (a == std::floor(a)) return fmt::format("{:.0f}", v);
  return fmt::format("{:.3g}", v);
}

}  // namespace klaxon::report
