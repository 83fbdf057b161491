// The status page as rendered HTML: every section, forms with the CSRF token, no script, and
// event content escaped wherever it appears.
#include <string>

#include <doctest/doctest.h>

#include "report/status_page.h"

namespace klaxon::report {
namespace {

constexpr int64_t kNow = 1795773600000;  // 2026-11-27T10:00:00Z
constexpr const char* kHostile = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

StatusPageData Sample() {
  StatusPageData d;
  d.now_ms = kNow;
  d.event_now_ms = kNow;
  d.history_from_ms = kNow - 3 * 3600000;
  StatusRule r;
  r.name = "orders-db-errors";
  r.condition = "frequency > 5 in 1m";
  r.severity = "critical";
  r.firing = 1;
  r.matches = 40;
  r.notifications = 2;
  r.last_notification_ms = kNow - 90000;
  r.threshold = 5;
  r.history = {{kNow - 3600000, 1}, {kNow - 60000, 9}};
  d.rules.push_back(r);
  d.alerts.push_back({"orders-db-errors", std::string("service=") + kHostile, true, 9, 5,
                      kNow - 120000, std::string("DatabaseError: ") + kHostile});
  d.notifications.push_back({kNow - 90000,
                             "orders-db-errors",
                             "service=orders-api",
                             "firing",
                             {{"slack", "delivered", ""},
                              {"pagerduty", "retrying", "next attempt 10:00:05"},
                              {"hook", "silenced", ""}}});
  d.silences.push_back({"1b4e28ba-2fa1-11d2-883f-0016d3cca427", "alertname=\"x\"", kNow - 60000,
                        kNow + 3600000, "active", "alice", kHostile});
  d.health = {{"consumer lag", "0"}, {"last reload", "ok"}};
  d.silence_forms = true;
  d.csrf_token = "tok123";
  return d;
}

TEST_CASE("status page: sections, escaping, forms") {
  const std::string html = RenderStatusPage(Sample());
  CHECK(html.find("<meta http-equiv=\"refresh\" content=\"10;url=/\">") != std::string::npos);
  CHECK(html.find("Active alerts (1)") != std::string::npos);
  CHECK(html.find("<tr class=\"alert\">") != std::string::npos);
  CHECK(html.find("<svg class=\"sparkline\"") != std::string::npos);
  CHECK(html.find("pagerduty: retrying (next attempt 10:00:05)") != std::string::npos);
  CHECK(html.find("hook: silenced") != std::string::npos);
  CHECK(html.find("1m30s ago") != std::string::npos);
  // Untrusted content never becomes markup.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x "
                  "onerror=alert(2)&gt;") != std::string::npos);
  // Both forms carry the token; the expire form names the silence.
  CHECK(html.find("action=\"/silences/new\"") != std::string::npos);
  CHECK(html.find("name=\"id\" value=\"1b4e28ba-2fa1-11d2-883f-0016d3cca427\"") !=
        std::string::npos);
  size_t tokens = 0;
  for (size_t p = html.find("name=\"csrf\" value=\"tok123\""); p != std::string::npos;
       p = html.find("name=\"csrf\" value=\"tok123\"", p + 1)) {
    ++tokens;
  }
  CHECK(tokens == 2);

  StatusPageData read_only = Sample();
  read_only.silence_forms = false;
  const std::string plain = RenderStatusPage(read_only);
  CHECK(plain.find("<form") == std::string::npos);
}

TEST_CASE("status page: sparklines span event time, not the wall clock") {
  // A backlog: the engine's event time is a year behind the wall clock. The line must still
  // spread over the whole chart (before the fix every point sat at its left edge).
  StatusPageData d = Sample();
  const int64_t event_now = kNow - 365LL * 86400000;
  d.event_now_ms = event_now;
  d.history_from_ms = event_now - 3 * 3600000;
  d.rules[0].history = {
      {event_now - 3 * 3600000 + 60000, 1}, {event_now - 3600000, 9}, {event_now - 60000, 2}};
  const std::string html = RenderStatusPage(d);
  const size_t path = html.find("class=\"value\" d=\"");
  REQUIRE(path != std::string::npos);
  const std::string line = html.substr(path, html.find('"', path + 17) - path);
  // x of the first point near the left, of the middle one about two thirds across.
  CHECK(line.find("M1.") != std::string::npos);
  CHECK(line.find("H79.") != std::string::npos);
}

TEST_CASE("status page: empty service") {
  StatusPageData d;
  d.now_ms = kNow;
  const std::string html = RenderStatusPage(d);
  CHECK(html.find("nothing is firing or pending") != std::string::npos);
  CHECK(html.find("none since the start") != std::string::npos);
  CHECK(html.find("no silence") != std::string::npos);
}

}  // namespace
}  // namespace klaxon::report
