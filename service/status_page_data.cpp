#include "service/status_page_data.h"

#include <algorithm>
#include <climits>

#include <fmt/format.h>

#include "engine/time_format.h"
#include "service/notification_fields.h"

namespace klaxon::service {

report::StatusPageData StatusPageDataFrom(const RuntimeSnapshot& s,
                                          const std::vector<actions::Silence>& silences,
                                          int64_t now_ms) {
  report::StatusPageData d;
  d.now_ms = now_ms;
  // Sparklines follow event time (the engine's), which a backlog or replayed log puts far from
  // the wall clock.
  const int64_t event_now = s.watermark_ms == INT64_MIN ? now_ms : s.watermark_ms;
  d.event_now_ms = event_now;
  d.history_from_ms = event_now - s.history_span_ms;
  if (s.rules) {
    const RuleSet& rules = *s.rules;
    for (size_t i = 0; i < rules.rules.size(); ++i) {
      const Rule& r = rules.rules[i];
      report::StatusRule sr;
      sr.name = r.name;
      sr.condition = ConditionText(r);
      sr.severity = SeverityName(r.severity);
      if (i < s.stats.rules.size()) {
        sr.firing = s.stats.rules[i].firing;
        sr.pending = s.stats.rules[i].pending;
        sr.matches = s.stats.rules[i].matches;
        sr.notifications = s.stats.rules[i].notifications;
      }
      sr.threshold = r.condition.threshold;
      sr.has_threshold = HasEpisodes(r.condition);
      if (s.history) {
        auto it = s.history->find(r.id);
        if (it != s.history->end()) sr.history = it->second;
      }
      for (const actions::NotificationRecord& n : s.recent) {
        if (n.rule == r.name) {
          sr.last_notification_ms = std::max(sr.last_notification_ms, n.at_ms);
        }
      }
      d.rules.push_back(std::move(sr));
    }
    for (const ActiveAlert& a : s.alerts) {
      if (a.rule_index >= rules.rules.size()) continue;
      const Rule& r = rules.rules[a.rule_index];
      report::StatusAlert sa;
      sa.rule = r.name;
      sa.group = GroupText(r, a.group);
      sa.firing = a.firing;
      sa.value = a.value;
      sa.threshold = r.condition.threshold;
      sa.since_ms = a.since_ms;
      sa.trigger = a.trigger;
      d.alerts.push_back(std::move(sa));
    }
    // Firing first, then the longest-standing.
    std::stable_sort(d.alerts.begin(), d.alerts.end(), [](const auto& a, const auto& b) {
      return a.firing != b.firing ? a.firing : a.since_ms < b.since_ms;
    });
  }
  for (const actions::NotificationRecord& n : s.recent) {
    report::StatusNotification sn;
    sn.at_ms = n.at_ms;
    sn.rule = n.rule;
    sn.group = n.group;
    sn.state = n.state;
    for (const actions::DeliveryRecord& del : n.deliveries) {
      sn.deliveries.push_back({del.action, del.state, del.detail});
    }
    d.notifications.push_back(std::move(sn));
  }
  for (const actions::Silence& si : silences) {
    report::StatusSilence ss;
    ss.id = si.id;
    for (const actions::SilenceMatcher& m : si.matchers) {
      ss.matchers += (ss.matchers.empty() ? "" : " ") + actions::FormatMatcher(m);
    }
    ss.starts_ms = si.starts_at_ms;
    ss.ends_ms = si.ends_at_ms;
    ss.state = actions::SilenceStateName(actions::StateAt(si, now_ms));
    ss.created_by = si.created_by;
    ss.comment = si.comment;
    d.silences.push_back(std::move(ss));
  }
  // Active first, newest start first.
  std::stable_sort(d.silences.begin(), d.silences.end(), [](const auto& a, const auto& b) {
    const bool ea = a.state == "expired";
    const bool eb = b.state == "expired";
    return ea != eb ? !ea : a.starts_ms > b.starts_ms;
  });

  auto add = [&d](std::string label, std::string value) {
    d.health.emplace_back(std::move(label), std::move(value));
  };
  uint64_t rejected = 0;
  std::string reasons;
  for (int r = 1; r < static_cast<int>(RejectReason::kCount_); ++r) {
    const uint64_t n = s.stats.rejected[r];
    if (n == 0) continue;
    rejected += n;
    reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ",
                           RejectReasonName(static_cast<RejectReason>(r)), n);
  }
  add("events", fmt::format("{} received, {} accepted, {} late, {} rejected{}", s.stats.received,
                            s.stats.accepted, s.stats.late, rejected,
                            reasons.empty() ? "" : " (" + reasons + ")"));
  add("event time", s.watermark_ms == INT64_MIN ? "no event yet" : FormatTimeMs(s.watermark_ms));
  if (s.has_kafka) {
    int64_t lag = 0;
    for (const auto& l : s.kafka.lag) lag += std::max<int64_t>(0, l.consumer_lag);
    add("consumer lag", fmt::format("{} messages over {} assigned partitions ({} paused)", lag,
                                    s.kafka.assigned_partitions, s.kafka.partitions_paused));
  }
  if (s.has_ingest) {
    std::string dropped;
    int64_t dropped_total = 0;
    for (const auto& [reason, n] : s.ingest.dropped_by_reason) {
      dropped += fmt::format("{}{} {}", dropped.empty() ? "" : ", ", reason, n);
      dropped_total += n;
    }
    add("sentry ingestion", fmt::format("{} requests, {} events accepted, {} items dropped{}",
                                        s.ingest.requests, s.ingest.events_accepted, dropped_total,
                                        dropped.empty() ? "" : " (" + dropped + ")"));
  }
  if (s.has_dispatcher) {
    add("delivery",
        fmt::format("{} sent, {} retried, {} awaiting, outbox {} rows", s.dispatcher.sent,
                    s.dispatcher.retried, s.dispatcher.queue_length, s.dispatcher.outbox_size));
  }
  if (s.has_silencer) {
    add("silences", fmt::format("{} active, {} notifications silenced, {} episodes held",
                                s.silences.active, s.silences.silenced, s.silences.held_episodes));
  }
  add("last reload", s.last_reload_successful
                         ? "ok, " + FormatTimeMs(s.last_reload_success_ms)
                         : "FAILED (the previous rules keep running; see the log)");
  if (s.has_state_store) {
    add("checkpoints", s.counters.checkpoint_time_ms == 0
                           ? "none yet"
                           : fmt::format("{} ({} failed), last {}", s.counters.checkpoints,
                                         s.counters.checkpoint_failures,
                                         FormatTimeMs(s.counters.checkpoint_time_ms)));
  }
  return d;
}

}  // namespace klaxon::service
