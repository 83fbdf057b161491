// The status page of `klaxon run` (served at `/` by the admin server): rules with a sparkline of
// their measured value against the threshold, active alerts, recent notifications with their
// delivery per action, silences with forms to add and expire them, and health. Server-rendered
// HTML with no script and no external asset (it must work without internet access), refreshing
// itself. Everything an event can set is escaped.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "report/series.h"

namespace klaxon::report {

struct StatusRule {
  std::string name;
  std::string condition;  // "frequency > 5/min", the rule kind and threshold in words
  std::string severity;
  uint64_t firing = 0;
  uint64_t pending = 0;
  uint64_t matches = 0;
  uint64_t notifications = 0;
  int64_t last_notification_ms = 0;  // 0: none yet
  std::vector<Point> history;        // the measured value, highest over groups
  double threshold = 0;
  bool has_threshold = true;
};

struct StatusAlert {
  std::string rule;
  std::string group;   // "service=orders-api"
  bool firing = true;  // false: pending
  double value = 0;
  double threshold = 0;
  int64_t since_ms = 0;
  std::string trigger;  // the triggering event's summary (exception type: value, or message)
};

struct StatusDelivery {
  std::string action;
  std::string state;   // delivered, queued, retrying, given up, silenced, coalesced
  std::string detail;  // next attempt, or the reason given up
};

struct StatusNotification {
  int64_t at_ms = 0;
  std::string rule;
  std::string group;
  std::string state;  // firing, repeat, resolved
  std::vector<StatusDelivery> deliveries;
};

struct StatusSilence {
  std::string id;
  std::string matchers;  // `alertname="x" service=~"a|b"`
  int64_t starts_ms = 0;
  int64_t ends_ms = 0;
  std::string state;  // active, pending, expired
  std::string created_by;
  std::string comment;
};

struct StatusPageData {
  std::string title = "Klaxon";
  int64_t now_ms = 0;
  // Alert and notification times are event times: "ago" counts from the engine's event time,
  // which a backlog or a replayed log puts far from the wall clock.
  int64_t event_now_ms = 0;
  int64_t history_from_ms = 0;  // sparklines span [history_from_ms, event_now_ms]
  int refresh_seconds = 10;
  std::vector<StatusRule> rules;
  std::vector<StatusAlert> alerts;
  std::vector<StatusNotification> notifications;  // newest first
  std::vector<StatusSilence> silences;
  std::vector<std::pair<std::string, std::string>> health;  // label, value
  // Silence forms are shown when set; every form carries the token back (CSRF protection).
  bool silence_forms = false;
  std::string csrf_token;
  bool token_field = false;  // the forms ask for the admin token (admin.token_file is set)
  std::string message;       // the result of the last form post, shown once
};

std::string RenderStatusPage(const StatusPageData& data);

}  // namespace klaxon::report
