#include "report/replay_report.h"

#include <algorithm>
#include <climits>

#include <fmt/format.h>

#include "engine/time_format.h"
#include "report/html.h"

namespace klaxon::report {

namespace {

constexpr std::string_view kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:960px;color:#1d2430}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 2px}
.meta,.cond{color:#5a6472;font-size:13px;margin:2px 0}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid #dde2e8;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.chart{max-width:100%;height:auto;display:block}
.chart .firing{fill:#f4c7c3;opacity:.7}.chart .grid{stroke:#eef1f4}.chart .tick{stroke:#9aa4b1}
.chart .axis{font-size:10px;fill:#5a6472}.chart .threshold{stroke:#c0392b;stroke-dasharray:5 3}
.chart .value,.sparkline .value{fill:none;stroke:#2463c7;stroke-width:1.4}
.sparkline .threshold{stroke:#c0392b;stroke-dasharray:3 2}
.mark.firing{fill:#c0392b}.mark.repeat{fill:#e67e22}.mark.resolved{fill:#27ae60}
.sev{font-size:11px;padding:1px 5px;border-radius:3px;background:#eef1f4}
section.rule{break-inside:avoid;page-break-inside:avoid}
@media print{body{margin:0;max-width:none}a{color:inherit}}
)";

std::string Duration(int64_t ms) { return FormatDurationMs(ms - ms % 1000); }

}  // namespace

std::string RenderReplayReport(const ReplayReportData& data) {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  // No script may run, whatever an event put into the page.
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; img-src data:\">";
  out += "<title>" + EscapeHtml(data.title) + "</title><style>";
  out += kStyle;
  out += "</style></head><body>\n<h1>" + EscapeHtml(data.title) + "</h1>\n";
  std::string files;
  for (const std::string& f : data.rule_files) files += (files.empty() ? "" : ", ") + f;
  out += "<p class=\"meta\">rules: " + EscapeHtml(files) + "; events: " + EscapeHtml(data.events) +
         "</p>\n";
  out +=
      fmt::format("<p class=\"meta summary\">{} events read, {} to {}; {} rejected, {} late</p>\n",
                  data.events_read, EscapeHtml(FormatTimeMs(data.from_ms)),
                  EscapeHtml(FormatTimeMs(data.to_ms)), data.events_rejected, data.events_late);

  // The noise table: which rules would speak, how often, and for how long.
  out +=
      "<h2>Noise</h2>\n<table class=\"noise\"><tr><th>rule</th><th>severity</th>"
      "<th>matches</th><th>notifications</th><th>episodes</th><th>time firing</th>"
      "<th>longest episode</th><th></th></tr>\n";
  for (size_t i = 0; i < data.rules.size(); ++i) {
    const RuleReport& r = data.rules[i];
    int64_t firing_ms = 0;
    for (const Band& b : r.firing) firing_ms += b.to_ms - b.from_ms;
    int64_t longest = 0;
    for (const EpisodeRow& e : r.episodes) {
      longest = std::max(longest, std::min(e.end_ms, data.to_ms) - e.start_ms);
    }
    const std::vector<Point> spark = Downsample(r.points, data.from_ms, data.to_ms, 120);
    out += fmt::format(
        "<tr><td><a href=\"#rule-{}\">{}</a></td><td><span class=\"sev\">{}</span></td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
        i, EscapeHtml(r.name), EscapeHtml(r.severity), r.matches, r.notifications,
        r.episodes.size(), Duration(firing_ms), Duration(longest),
        RenderSparklineSvg(spark, data.from_ms, data.to_ms, r.threshold, r.has_threshold));
  }
  out += "</table>\n";

  for (size_t i = 0; i < data.rules.size(); ++i) {
    const RuleReport& r = data.rules[i];
    out += fmt::format(
        "<section class=\"rule\" id=\"rule-{}\">\n<h2>{} <span class=\"sev\">{}"
        "</span></h2>\n<p class=\"cond\">{}</p>\n",
        i, EscapeHtml(r.name), EscapeHtml(r.severity), EscapeHtml(r.condition));
    ChartSpec spec;
    spec.from_ms = data.from_ms;
    spec.to_ms = data.to_ms;
    spec.points = Downsample(r.points, data.from_ms, data.to_ms, data.max_points);
    spec.threshold = r.threshold;
    spec.has_threshold = r.has_threshold;
    spec.firing = r.firing;
    spec.marks = r.marks;
    spec.label = r.value_label;
    out += RenderChartSvg(spec);
    out += "\n";
    if (r.episodes.empty()) {
      out += "<p class=\"meta\">no episode: the rule never fired over this log</p>\n";
    } else {
      out +=
          "<table class=\"episodes\"><tr><th>group</th><th>started</th><th>resolved</th>"
          "<th>lasted</th><th>notifications</th></tr>\n";
      const size_t shown = std::min(r.episodes.size(), data.max_episodes);
      for (size_t k = 0; k < shown; ++k) {
        const EpisodeRow& e = r.episodes[k];
        const bool open = e.end_ms == INT64_MAX;
        out += fmt::format(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
            "</tr>\n",
            EscapeHtml(e.group.empty() ? "(all events)" : e.group),
            EscapeHtml(FormatTimeMs(e.start_ms)),
            open ? "still firing" : EscapeHtml(FormatTimeMs(e.end_ms)),
            Duration((open ? data.to_ms : e.end_ms) - e.start_ms), e.notifications);
      }
      out += "</table>\n";
      if (shown < r.episodes.size()) {
        out +=
            fmt::format("<p class=\"meta\">and {} more episodes</p>\n", r.episodes.size() - shown);
      }
    }
    out += "</section>\n";
  }
  out += "</body></html>\n";
  return out;
}

}  // namespace klaxon::report
