// report/: escaping of untrusted text, downsampling that keeps spikes, and the replay report's
// structure (one chart per rule, one band per firing period, marks, no script anywhere).
#include <climits>
#include <string>

#include <doctest/doctest.h>

#include "report/html.h"
#include "report/replay_report.h"
#include "report/series.h"
#include "report/svg_chart.h"

namespace klaxon::report {
namespace {

constexpr int64_t kT0 = 1795773600000;  // 2026-11-27T10:00:00Z
constexpr int64_t kMin = 60000;

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos;
       p = haystack.find(needle, p + needle.size())) {
    ++n;
  }
  return n;
}

TEST_CASE("EscapeHtml: markup, quotes, control characters and invalid UTF-8") {
  CHECK(EscapeHtml("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;");
  CHECK(EscapeHtml("\"><img src=x onerror='a()'>") ==
        "&quot;&gt;&lt;img src=x onerror=&#39;a()&#39;&gt;");
  CHECK(EscapeHtml("a&b") == "a&amp;b");
  CHECK(EscapeHtml("caf\xC3\xA9 \xE2\x9C\x93") == "caf\xC3\xA9 \xE2\x9C\x93");
  CHECK(EscapeHtml("bad\xC3(\xFF\x01") == "bad\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(EscapeHtml("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  CHECK(EscapeHtml("tab\tnl\n") == "tab\tnl\n");
}

TEST_CASE("Downsample keeps each bucket's extremes, so a spike survives a week") {
  std::vector<Point> points;
  const int64_t week = 7 * 24 * 60 * kMin;
  for (int64_t t = 0; t < week; t += 10000) points.push_back({kT0 + t, 1});
  points[30000].value = 500;  // one sample
  const std::vector<Point> d = Downsample(points, kT0, kT0 + week, 800);
  CHECK(d.size() <= 800);
  CHECK(d.size() >= 400);
  double peak = 0;
  for (const Point& p : d) peak = std::max(peak, p.value);
  CHECK(peak == 500);
  for (size_t i = 1; i < d.size(); ++i) CHECK(d[i - 1].at_ms <= d[i].at_ms);
  const std::vector<Point> few = {{kT0, 1}, {kT0 + 1, 2}};
  CHECK(Downsample(few, kT0, kT0 + 10, 800).size() == 2);
}

TEST_CASE("TimeTicks: round times, about as many as asked") {
  const std::vector<Tick> ticks = TimeTicks(kT0 + 123, kT0 + 60 * kMin, 8);
  REQUIRE(!ticks.empty());
  CHECK(ticks.size() <= 8);
  CHECK(ticks.front().label == "10:15");
  for (const Tick& t : ticks) CHECK(t.at_ms % (15 * kMin) == 0);
  CHECK(TimeTicks(kT0, kT0 + 3 * 24 * 60 * kMin, 4).front().label == "Nov 28");
}

ReplayReportData Sample() {
  ReplayReportData data;
  data.rule_files = {"rules/<outage>.rules"};
  data.events = "outage.jsonl";
  data.from_ms = kT0;
  data.to_ms = kT0 + 120 * kMin;
  data.events_read = 12733;
  data.events_rejected = 2;
  data.events_late = 1;
  RuleReport a;
  a.name = "orders-db-errors";
  a.condition = "frequency > 5/min for service:orders-api";
  a.severity = "critical";
  a.value_label = "count in 1m";
  a.threshold = 5;
  for (int i = 0; i < 120; ++i) a.points.push_back({kT0 + i * kMin, (i / 20) % 2 == 1 ? 9.0 : 1.0});
  a.firing = {{kT0 + 20 * kMin, kT0 + 40 * kMin},
              {kT0 + 60 * kMin, kT0 + 80 * kMin},
              {kT0 + 100 * kMin, kT0 + 120 * kMin}};
  a.marks = {{kT0 + 20 * kMin, Mark::Kind::kFiring, "firing"},
             {kT0 + 40 * kMin, Mark::Kind::kResolved, "resolved"}};
  a.episodes = {{"environment=<b>prod</b>", kT0 + 20 * kMin, kT0 + 40 * kMin, 2},
                {"environment=prod", kT0 + 60 * kMin, kT0 + 80 * kMin, 2},
                {"environment=prod", kT0 + 100 * kMin, INT64_MAX, 1}};
  a.matches = 300;
  a.notifications = 5;
  RuleReport b;
  b.name = "new-release \"><img src=x onerror=alert(1)>";
  b.condition = "new(release)";
  b.severity = "warning";
  b.has_threshold = false;
  data.rules = {a, b};
  return data;
}

TEST_CASE("the replay report: one chart per rule, one band per firing period, nothing runs") {
  const std::string html = RenderReplayReport(Sample());
  CHECK(html.starts_with("<!DOCTYPE html>"));
  CHECK(Count(html, "<svg class=\"chart\"") == 2);
  CHECK(Count(html, "<svg class=\"sparkline\"") == 2);
  CHECK(Count(html, "<rect class=\"firing\"") == 3);
  CHECK(Count(html, "class=\"mark firing\"") == 1);
  CHECK(Count(html, "class=\"mark resolved\"") == 1);
  CHECK(Count(html, "<line class=\"threshold\"") == 2);  // the chart and the sparkline of a
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
  CHECK(html.find("environment=&lt;b&gt;prod&lt;/b&gt;") != std::string::npos);
  CHECK(html.find("rules/&lt;outage&gt;.rules") != std::string::npos);
  CHECK(html.find("12733 events read, 2026-11-27T10:00:00.000Z to 2026-11-27T12:00:00.000Z; 2 "
                  "rejected, 1 late") != std::string::npos);
  CHECK(html.find("still firing") != std::string::npos);
  CHECK(html.find("no episode: the rule never fired over this log") != std::string::npos);
  CHECK(html.find("@media print") != std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));  // no external asset
}

TEST_CASE("a week of per-minute values stays a small file") {
  ReplayReportData data = Sample();
  data.to_ms = kT0 + 7 * 24 * 60 * kMin;
  data.rules[0].points.clear();
  for (int64_t t = kT0; t < data.to_ms; t += 10000) {
    data.rules[0].points.push_back({t, static_cast<double>((t / kMin) % 13)});
  }
  const std::string html = RenderReplayReport(data);
  CHECK(html.size() < 200 * 1024);
}

}  // namespace
}  // namespace klaxon::report
