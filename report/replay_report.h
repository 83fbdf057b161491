// The replay report: one self-contained HTML page (inline SVG and CSS, no scripts, no external
// assets) showing, per rule, its measured value over the log's time range against the
// threshold, firing periods shaded, each notification marked, its episodes, and a noise table
// over all rules. Readable when printed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "report/series.h"
#include "report/svg_chart.h"

namespace klaxon::report {

struct EpisodeRow {
  std::string group;  // "environment=production", "" for an ungrouped rule
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // resolved at; INT64_MAX: still firing at the end of the log
  uint32_t notifications = 0;
};

struct RuleReport {
  std::string name;
  std::string condition;  // as the rule file says it: "frequency > 5/min for ..."
  std::string severity;
  std::string value_label;  // the y axis: "count in 1m", "% of 1d ago", ...
  double threshold = 0;
  bool has_threshold = true;  // false for rules without one (`when FILTER`, new(...))
  std::vector<Point> points;  // the measured value (highest over groups), sorted by time
  std::vector<Band> firing;   // any group firing
  std::vector<Mark> marks;    // notifications
  std::vector<EpisodeRow> episodes;
  uint64_t matches = 0;
  uint64_t notifications = 0;
};

struct ReplayReportData {
  std::string title = "Klaxon replay report";
  std::vector<std::string> rule_files;
  std::string events;  // the log's name
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  uint64_t events_read = 0;
  uint64_t events_rejected = 0;
  uint64_t events_late = 0;
  std::vector<RuleReport> rules;
  size_t max_points = 800;    // per chart, after Downsample
  size_t max_episodes = 200;  // listed per rule; the rest are counted
};

std::string RenderReplayReport(const ReplayReportData& data);

}  // namespace klaxon::report
