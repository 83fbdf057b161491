// Inline SVG charts of a rule's measured value against its threshold.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "report/series.h"

namespace klaxon::report {

struct Band {
  int64_t from_ms = 0;
  int64_t to_ms = 0;  // the end of the chart for an episode still firing
};

struct Mark {
  enum class Kind { kFiring, kRepeat, kResolved };
  int64_t at_ms = 0;
  Kind kind = Kind::kFiring;
  std::string title;  // tooltip (escaped here)
};

struct ChartSpec {
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  std::vector<Point> points;  // sorted by time; drawn as a step line
  double threshold = 0;
  bool has_threshold = true;
  std::vector<Band> firing;  // shaded
  std::vector<Mark> marks;   // notifications
  int width = 900;
  int height = 220;
  std::string label;  // the y axis ("count in 1m"), escaped here
};

// A chart with axes and time ticks. Elements carry classes for tests and styles: `firing`
// (one rect per band), `threshold`, `value`, `mark firing|repeat|resolved`.
std::string RenderChartSvg(const ChartSpec& spec);
// A small chart without axes, for tables: the value line and the threshold.
std::string RenderSparklineSvg(const std::vector<Point>& points, int64_t from_ms, int64_t to_ms,
                               double threshold, bool has_threshold, int width = 120,
                               int height = 24);

}  // namespace klaxon::report
