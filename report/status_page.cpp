#include "report/status_page.h"

#include <fmt/format.h>

#include "engine/time_format.h"
#include "report/html.h"
#include "report/svg_chart.h"

namespace klaxon::report {

namespace {

constexpr std::string_view kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px 24px;color:#1d2430}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 6px}
.meta{color:#5a6472;font-size:13px}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #dde2e8;padding:3px 12px 3px 0;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.firing{color:#c0392b;font-weight:600}.pending{color:#e67e22}.resolved{color:#27ae60}
.sparkline .value{fill:none;stroke:#2463c7;stroke-width:1.2}
.sparkline .threshold{stroke:#c0392b;stroke-dasharray:3 2}
.message{background:#eef6ee;border:1px solid #b7dbb7;padding:6px 10px;font-size:13px}
form.inline{display:inline}input,textarea{font:inherit;font-size:13px}
)";

std::string Time(int64_t ms) { return ms == 0 ? "-" : EscapeHtml(FormatTimeMs(ms)); }

std::string Ago(int64_t now_ms, int64_t ms) {
  if (ms == 0) return "never";
  if (now_ms <= ms) return "just now";
  return FormatDurationMs((now_ms - ms) - (now_ms - ms) % 1000) + " ago";
}

}  // namespace

std::string RenderStatusPage(const StatusPageData& d) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; form-action 'self'\">";
  // Always back to `/`: the answer to a form's POST must not refresh into a GET of the form's URL.
  out += fmt::format("<meta http-equiv=\"refresh\" content=\"{};url=/\">", d.refresh_seconds);
  out += "<title>" + EscapeHtml(d.title) + "</title><style>";
  out += kStyle;
  out += "</style></head><body>\n<h1>" + EscapeHtml(d.title) + "</h1>\n";
  out += fmt::format("<p class=\"meta\">{} &middot; refreshes every {} s</p>\n", Time(d.now_ms),
                     d.refresh_seconds);
  if (!d.message.empty()) out += "<p class=\"message\">" + EscapeHtml(d.message) + "</p>\n";

  out += fmt::format("<h2 id=\"alerts\">Active alerts ({})</h2>\n", d.alerts.size());
  if (d.alerts.empty()) {
    out += "<p class=\"meta\">nothing is firing or pending</p>\n";
  } else {
    out +=
        "<table class=\"alerts\"><tr><th>rule</th><th>group</th><th>state</th><th>value</th>"
        "<th>threshold</th><th>since</th><th>triggered by</th></tr>\n";
    for (const StatusAlert& a : d.alerts) {
      out += fmt::format(
          "<tr class=\"alert\"><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"n\">{}"
          "</td><td class=\"n\">{}</td><td>{} ({})</td><td>{}</td></tr>\n",
          EscapeHtml(a.rule), EscapeHtml(a.group), a.firing ? "firing" : "pending",
          a.firing ? "firing" : "pending", EscapeHtml(ShortNumber(a.value)),
          EscapeHtml(ShortNumber(a.threshold)), Time(a.since_ms), Ago(d.event_now_ms, a.since_ms),
          EscapeHtml(a.trigger));
    }
    out += "</table>\n";
  }

  out +=
      "<h2 id=\"rules\">Rules</h2>\n<table class=\"rules\"><tr><th>rule</th><th>condition</th>"
      "<th>severity</th><th>firing</th><th>pending</th><th>matches</th>"
      "<th>notifications</th><th>last notification</th><th>value</th></tr>\n";
  for (const StatusRule& r : d.rules) {
    out += fmt::format(
        "<tr class=\"rule\"><td>{}</td><td>{}</td><td>{}</td><td class=\"n{}\">{}</td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td>"
        "<td>{}</td></tr>\n",
        EscapeHtml(r.name), EscapeHtml(r.condition), EscapeHtml(r.severity),
        r.firing > 0 ? " firing" : "", r.firing, r.pending, r.matches, r.notifications,
        Ago(d.event_now_ms, r.last_notification_ms),
        RenderSparklineSvg(Downsample(r.history, d.history_from_ms, d.event_now_ms, 120),
                           d.history_from_ms, d.event_now_ms, r.threshold, r.has_threshold));
  }
  out += "</table>\n";

  out += "<h2 id=\"notifications\">Recent notifications</h2>\n";
  if (d.notifications.empty()) {
    out += "<p class=\"meta\">none since the start</p>\n";
  } else {
    out +=
        "<table class=\"notifications\"><tr><th>at</th><th>rule</th><th>group</th>"
        "<th>state</th><th>delivery</th></tr>\n";
    for (const StatusNotification& n : d.notifications) {
      std::string deliveries;
      for (const StatusDelivery& del : n.deliveries) {
        deliveries += "<div class=\"delivery\">" + EscapeHtml(del.action) + ": " +
                      EscapeHtml(del.state) +
                      (del.detail.empty() ? "" : " (" + EscapeHtml(del.detail) + ")") + "</div>";
      }
      out += fmt::format(
          "<tr class=\"notification\"><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td>"
          "<td>{}</td></tr>\n",
          Time(n.at_ms), EscapeHtml(n.rule), EscapeHtml(n.group), EscapeHtml(n.state),
          EscapeHtml(n.state), deliveries);
    }
    out += "</table>\n";
  }

  out += "<h2 id=\"silences\">Silences</h2>\n";
  const std::string token_input = d.token_field
                                      ? "<input type=\"password\" name=\"token\" size=\"10\" "
                                        "placeholder=\"admin token\"> "
                                      : "";
  if (d.silences.empty()) out += "<p class=\"meta\">no silence</p>\n";
  if (!d.silences.empty()) {
    out +=
        "<table class=\"silences\"><tr><th>matchers</th><th>state</th><th>starts</th>"
        "<th>ends</th><th>by</th><th>comment</th><th></th></tr>\n";
    for (const StatusSilence& s : d.silences) {
      std::string expire;
      if (d.silence_forms && s.state != "expired") {
        expire =
            "<form class=\"inline\" method=\"post\" action=\"/silences/expire\">"
            "<input type=\"hidden\" name=\"csrf\" value=\"" +
            EscapeHtml(d.csrf_token) + "\"><input type=\"hidden\" name=\"id\" value=\"" +
            EscapeHtml(s.id) + "\">" + token_input +
            "<button type=\"submit\">expire</button></form>";
      }
      out += fmt::format(
          "<tr class=\"silence\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>"
          "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
          EscapeHtml(s.matchers), EscapeHtml(s.state), Time(s.starts_ms), Time(s.ends_ms),
          EscapeHtml(s.created_by), EscapeHtml(s.comment), expire);
    }
    out += "</table>\n";
  }
  if (d.silence_forms) {
    out +=
        "<form method=\"post\" action=\"/silences/new\" class=\"new-silence\">"
        "<input type=\"hidden\" name=\"csrf\" value=\"" +
        EscapeHtml(d.csrf_token) +
        "\"><p><label>matchers, one per line (<code>alertname=orders-db-errors</code>, "
        "<code>environment=~\"staging|dev\"</code>)<br><textarea name=\"matchers\" rows=\"3\" "
        "cols=\"60\"></textarea></label></p><p><label>for <input name=\"duration\" "
        "value=\"1h\" size=\"6\"></label> <label>by <input name=\"created_by\" size=\"14\">"
        "</label> <label>because <input name=\"comment\" size=\"40\"></label> " +
        token_input + "<button type=\"submit\">add silence</button></p></form>\n";
  }

  out += "<h2 id=\"health\">Health</h2>\n<table class=\"health\">";
  for (const auto& [label, value] : d.health) {
    out += "<tr><th>" + EscapeHtml(label) + "</th><td>" + EscapeHtml(value) + "</td></tr>";
  }
  out += "</table>\n</body></html>\n";
  return out;
}

}  // namespace klaxon::report
