#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report/html.h"

namespace klaxon::report {

namespace {

struct Scale {
  double x0, x1;  // pixels
  double y0, y1;  // pixels: y0 bottom, y1 top
  int64_t t0, t1;
  double v0, v1;
  double X(int64_t t) const {
    if (t1 <= t0) return x0;
    const double f = static_cast<double>(std::clamp(t, t0, t1) - t0) / static_cast<double>(t1 - t0);
    return x0 + f * (x1 - x0);
  }
  double Y(double v) const {
    if (v1 <= v0) return y0;
    const double f = (std::clamp(v, v0, v1) - v0) / (v1 - v0);
    return y0 - f * (y0 - y1);
  }
};

double NiceMax(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

// A step line: the value holds until the next point.
std::string StepPath(const std::vector<Point>& points, const Scale& s) {
  std::string d;
  for (size_t i = 0; i < points.size(); ++i) {
    const double x = s.X(points[i].at_ms);
    const double y = s.Y(points[i].value);
    if (i == 0) {
      d += fmt::format("M{:.1f},{:.1f}", x, y);
    } else {
      d += fmt::format("H{:.1f}V{:.1f}", x, y);
    }
  }
  if (!points.empty()) d += fmt::format("H{:.1f}", s.x1);
  return d;
}

const char* MarkClass(Mark::Kind k) {
  switch (k) {
    case Mark::Kind::kFiring:
      return "firing";
    case Mark::Kind::kRepeat:
      return "repeat";
    case Mark::Kind::kResolved:
      return "resolved";
  }
  return "firing";
}

}  // namespace

std::string RenderChartSvg(const ChartSpec& spec) {
  const double left = 48;
  const double right = 12;
  const double top = 10;
  const double bottom = 26;
  double vmax = spec.has_threshold ? spec.threshold : 0;
  for (const Point& p : spec.points) vmax = std::max(vmax, p.value);
  Scale s{left, spec.width - right, spec.height - bottom,
          top,  spec.from_ms,       std::max(spec.to_ms, spec.from_ms + 1),
          0,    NiceMax(vmax * 1.1)};
  std::string out = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" "
      "width=\"{}\" height=\"{}\" role=\"img\">",
      spec.width, spec.height, spec.width, spec.height);
  for (const Band& b : spec.firing) {
    const double x = s.X(b.from_ms);
    const double w = std::max(1.0, s.X(b.to_ms) - x);
    out += fmt::format(
        "<rect class=\"firing\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"/>", x,
        s.y1, w, s.y0 - s.y1);
  }
  // Axes, grid and labels.
  for (int i = 0; i <= 4; ++i) {
    const double v = s.v1 * i / 4;
    const double y = s.Y(v);
    out += fmt::format(
        "<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>"
        "<text class=\"axis\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>",
        s.x0, y, s.x1, y, s.x0 - 4, y + 4, EscapeHtml(ShortNumber(v)));
  }
  for (const Tick& t : TimeTicks(spec.from_ms, spec.to_ms, 8)) {
    const double x = s.X(t.at_ms);
    out += fmt::format(
        "<line class=\"tick\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>"
        "<text class=\"axis\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>",
        x, s.y0, x, s.y0 + 4, x, s.y0 + 16, EscapeHtml(t.label));
  }
  if (!spec.label.empty()) {
    out += fmt::format("<text class=\"axis label\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text>", s.x0 + 4,
                       s.y1 + 10, EscapeHtml(spec.label));
  }
  if (spec.has_threshold) {
    const double y = s.Y(spec.threshold);
    out += fmt::format(
        "<line class=\"threshold\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\">"
        "<title>threshold {}</title></line>",
        s.x0, y, s.x1, y, EscapeHtml(ShortNumber(spec.threshold)));
  }
  if (!spec.points.empty()) {
    out += "<path class=\"value\" d=\"" + StepPath(spec.points, s) + "\"/>";
  }
  for (const Mark& m : spec.marks) {
    const double x = s.X(m.at_ms);
    out += fmt::format(
        "<path class=\"mark {}\" d=\"M{:.1f},{:.1f}l-4,-7h8z\"><title>{}</title></path>",
        MarkClass(m.kind), x, s.y1 + 7, x, EscapeHtml(m.title));
  }
  out += "</svg>";
  return out;
}

std::string RenderSparklineSvg(const std::vector<Point>& points, int64_t from_ms, int64_t to_ms,
                               double threshold, bool has_threshold, int width, int height) {
  double vmax = has_threshold ? threshold : 0;
  for (const Point& p : points) vmax = std::max(vmax, p.value);
  Scale s{1, width - 1.0,        height - 2.0, 2, from_ms, std::max(to_ms, from_ms + 1),
          0, NiceMax(vmax * 1.1)};
  std::string out = fmt::format(
      "<svg class=\"sparkline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" "
      "width=\"{}\" height=\"{}\">",
      width, height, width, height);
  if (has_threshold) {
    const double y = s.Y(threshold);
    out += fmt::format(
        "<line class=\"threshold\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>", s.x0,
        y, s.x1, y);
  }
  if (!points.empty()) out += "<path class=\"value\" d=\"" + StepPath(points, s) + "\"/>";
  out += "</svg>";
  return out;
}

}  // namespace klaxon::report
