#include "service/metrics_text.h"

#include "build_revision.h"

#include <iterator>

#include "service/process_metrics.h"
#include "service/service_metrics.h"

namespace klaxon::service {

namespace {

// scale_out (docs/scale_out.md): stage 1's routing, stage 2's tasks, their checkpoints and
// restores from the changelog.
void WriteScaleOut(PromText& p, const ScaleOutSnapshot& so) {
  p.Family("klaxon_scale_out_input_records_total", "counter",
           "Stage 1: input records read (rejected ones included).");
  p.Sample("klaxon_scale_out_input_records_total", {}, static_cast<double>(so.input_records));
  p.Family("klaxon_scale_out_routed_records_total", "counter",
           "Stage 1: repartition records produced, one per (rule, group) an event falls in.");
  p.Sample("klaxon_scale_out_routed_records_total", {}, static_cast<double>(so.routed));
  p.Family("klaxon_scale_out_route_transactions_total", "counter",
           "Stage 1 with scale_out.exactly_once: transactions committed, and aborted (their "
           "input read again).");
  p.Sample("klaxon_scale_out_route_transactions_total", {{"result", "committed"}},
           static_cast<double>(so.route_transactions));
  p.Sample("klaxon_scale_out_route_transactions_total", {{"result", "aborted"}},
           static_cast<double>(so.route_aborts));
  p.Family("klaxon_scale_out_routed_bytes_total", "counter",
           "Stage 1: bytes of the repartition records produced (marks left out).");
  p.Sample("klaxon_scale_out_routed_bytes_total", {}, static_cast<double>(so.routed_bytes));
  p.Family("klaxon_scale_out_routed_events_total", "counter",
           "Stage 1: repartition records produced with the event JSON (their rule's "
           "notifications read the event beyond its id).");
  p.Sample("klaxon_scale_out_routed_events_total", {}, static_cast<double>(so.routed_events));
  p.Family("klaxon_scale_out_records_total", "counter",
           "Stage 2: repartition records by what became of them.");
  p.Sample("klaxon_scale_out_records_total", {{"result", "evaluated"}},
           static_cast<double>(so.evaluated));
  p.Sample("klaxon_scale_out_records_total", {{"result", "duplicate"}},
           static_cast<double>(so.duplicates));
  p.Sample("klaxon_scale_out_records_total", {{"result", "invalid"}},
           static_cast<double>(so.invalid));
  p.Sample("klaxon_scale_out_records_total", {{"result", "late"}}, static_cast<double>(so.late));
  // Past engine.future_limit by the owner's clock: one per (rule, group) record of the event.
  p.Sample("klaxon_scale_out_records_total", {{"result", "future_timestamp"}},
           static_cast<double>(so.rejected));
  p.Family("klaxon_scale_out_tasks", "gauge",
           "Stage 2: repartition partitions assigned here (restoring from the changelog or "
           "active) and warm standbys of those assigned elsewhere.");
  p.Sample("klaxon_scale_out_tasks", {{"state", "restoring"}}, static_cast<double>(so.restoring));
  p.Sample("klaxon_scale_out_tasks", {{"state", "active"}},
           static_cast<double>(so.tasks.size() - so.restoring));
  p.Sample("klaxon_scale_out_tasks", {{"state", "standby"}},
           static_cast<double>(so.standbys.size()));
  p.Family("klaxon_scale_out_restore_lag_records", "gauge",
           "Tasks waiting for their restore: changelog records each will read first (about).");
  for (const ScaleOutSnapshot::Task& t : so.tasks) {
    if (!t.restoring || t.restore_lag < 0) continue;
    p.Sample("klaxon_scale_out_restore_lag_records", {{"partition", std::to_string(t.partition)}},
             static_cast<double>(t.restore_lag));
  }
  p.Family("klaxon_scale_out_standby_lag_records", "gauge",
           "Warm standbys: changelog records of the task not followed yet (what taking it over "
           "would read first).");
  for (const ScaleOutSnapshot::Standby& s : so.standbys) {
    p.Sample("klaxon_scale_out_standby_lag_records", {{"partition", std::to_string(s.partition)}},
             static_cast<double>(s.lag));
  }
  p.Family("klaxon_scale_out_standby_bytes", "gauge",
           "Warm standbys: the state kept for taking their tasks over.");
  size_t standby_bytes = 0;
  for (const ScaleOutSnapshot::Standby& s : so.standbys) standby_bytes += s.bytes;
  p.Sample("klaxon_scale_out_standby_bytes", {}, static_cast<double>(standby_bytes));
  p.Family("klaxon_scale_out_task_watermark_seconds", "gauge",
           "Stage 2: the event time a task's windows were evaluated to.");
  for (const ScaleOutSnapshot::Task& t : so.tasks) {
    if (t.watermark_ms == INT64_MIN) continue;
    p.Sample("klaxon_scale_out_task_watermark_seconds",
             {{"partition", std::to_string(t.partition)}},
             static_cast<double>(t.watermark_ms) / 1000.0);
  }
  p.Family("klaxon_scale_out_restores_total", "counter",
           "Tasks restored from the changelog (with state in it).");
  p.Sample("klaxon_scale_out_restores_total", {}, static_cast<double>(so.restores));
  p.Family("klaxon_scale_out_standby_restores_total", "counter",
           "Restores that started from a warm standby (read only what followed it).");
  p.Sample("klaxon_scale_out_standby_restores_total", {}, static_cast<double>(so.standby_restores));
  p.Family("klaxon_scale_out_restored_records_total", "counter",
           "Changelog records read by restores.");
  p.Sample("klaxon_scale_out_restored_records_total", {}, static_cast<double>(so.restored_records));
  p.Family("klaxon_scale_out_restore_seconds_total", "counter",
           "Time spent restoring tasks (the run loop waits for it).");
  p.Sample("klaxon_scale_out_restore_seconds_total", {}, so.restore_seconds);
  p.Family("klaxon_scale_out_checkpoints_total", "counter",
           "Checkpoints committed: the tasks' state and offsets in one transaction.");
  p.Sample("klaxon_scale_out_checkpoints_total", {}, static_cast<double>(so.checkpoints));
  p.Family("klaxon_scale_out_checkpoint_failures_total", "counter",
           "Checkpoints aborted (retried at the next interval).");
  p.Sample("klaxon_scale_out_checkpoint_failures_total", {},
           static_cast<double>(so.checkpoint_failures));
  p.Family("klaxon_scale_out_changelog_bytes_total", "counter",
           "Bytes written to the changelog (keys and values).");
  p.Sample("klaxon_scale_out_changelog_bytes_total", {}, static_cast<double>(so.changelog_bytes));
}

}  // namespace

std::string MetricsText(const RuntimeSnapshot& s, const RunHistograms& histograms) {
  const EngineStats& stats = s.stats;
  const RunCounters& counters = s.counters;
  const actions::DispatcherStats& d = s.dispatcher;
  PromText p;
  p.Family("klaxon_build_info", "gauge", "Klaxon build information.");
  p.Sample("klaxon_build_info", {{"version", KLAXON_VERSION_STRING}, {"revision", KLAXON_REVISION}},
           1);
  p.Family("klaxon_events_received_total", "counter", "Events read from the source.");
  p.Sample("klaxon_events_received_total", {}, static_cast<double>(stats.received));
  WriteEventsRejected(p, stats.rejected, counters.oversized);
  p.Family("klaxon_events_late_total", "counter",
           "Events older than the watermark (beyond the allowed lateness).");
  p.Sample("klaxon_events_late_total", {}, static_cast<double>(stats.late));
  p.Family("klaxon_events_dead_lettered_total", "counter",
           "Rejected events produced to the dead-letter topic.");
  p.Sample("klaxon_events_dead_lettered_total", {}, static_cast<double>(counters.dead_lettered));
  p.Family("klaxon_events_held", "gauge",
           "Accepted events waiting for event time to pass them (lateness, slower partitions).");
  p.Sample("klaxon_events_held", {}, static_cast<double>(s.held_events));
  p.Family("klaxon_event_time_watermark_seconds", "gauge", "The engine's event-time watermark.");
  // No sample before the first event: there is no event time yet.
  if (s.watermark_ms != INT64_MIN) {
    p.Sample("klaxon_event_time_watermark_seconds", {},
             static_cast<double>(s.watermark_ms) / 1000.0);
  }
  if (s.rules) {
    const RuleSet& rules = *s.rules;
    const char* families[][3] = {
        {"klaxon_rule_matches_total", "counter",
         "Events that matched the rule's filter (for a ratio: its denominator)."},
        {"klaxon_rule_notifications_total", "counter", "Notifications the rule produced."},
        {"klaxon_rule_firing_alerts", "gauge", "Groups of the rule currently firing."},
        {"klaxon_rule_pending_alerts", "gauge", "Groups of the rule currently pending."},
        {"klaxon_rule_groups", "gauge", "Groups (window states) the rule holds."},
        {"klaxon_rule_groups_dropped_total", "counter",
         "New groups refused or evicted at the per-rule cap."},
    };
    for (size_t f = 0; f < std::size(families); ++f) {
      p.Family(families[f][0], families[f][1], families[f][2]);
      for (size_t i = 0; i < rules.rules.size(); ++i) {
        const RuleStats rs = i < stats.rules.size() ? stats.rules[i] : RuleStats{};
        const uint64_t values[] = {rs.matches, rs.notifications, rs.firing,
                                   rs.pending, rs.groups,        rs.groups_dropped};
        p.Sample(families[f][0], {{"rule", rules.rules[i].name}}, static_cast<double>(values[f]));
      }
    }
  }
  if (s.has_dispatcher) {
    p.Family("klaxon_notifications_submitted_total", "counter",
             "Notifications stored in the outbox.");
    p.Sample("klaxon_notifications_submitted_total", {}, static_cast<double>(counters.submitted));
    p.Family("klaxon_notifications_suppressed_total", "counter",
             "Notifications re-computed after a restart that a previous run had handed over.");
    p.Sample("klaxon_notifications_suppressed_total", {}, static_cast<double>(counters.suppressed));
    p.Family("klaxon_notifications_sent_total", "counter", "Notifications a receiver accepted.");
    p.Sample("klaxon_notifications_sent_total", {}, static_cast<double>(d.sent));
    WriteNotificationsFailed(p, d.failed, counters.submit_failures);
    p.Family("klaxon_notifications_retried_total", "counter", "Delivery attempts retried.");
    p.Sample("klaxon_notifications_retried_total", {}, static_cast<double>(d.retried));
    p.Family("klaxon_notifications_coalesced_total", "counter",
             "Notifications folded into a digest by a rate limit.");
    p.Sample("klaxon_notifications_coalesced_total", {}, static_cast<double>(d.coalesced));
    p.Family("klaxon_notification_queue_length", "gauge", "Notifications awaiting delivery.");
    p.Sample("klaxon_notification_queue_length", {}, static_cast<double>(d.queue_length));
    p.Family("klaxon_outbox_size", "gauge", "Rows in the durable outbox.");
    p.Sample("klaxon_outbox_size", {}, static_cast<double>(d.outbox_size));
    p.Family("klaxon_notifications_unstored", "gauge",
             "Notifications the outbox refused, kept in memory and retried; no checkpoint "
             "is taken while any wait.");
    p.Sample("klaxon_notifications_unstored", {}, static_cast<double>(counters.unstored));
  }
  if (s.has_silencer) {
    const actions::SilencerStats& si = s.silences;
    p.Family("klaxon_notifications_silenced_total", "counter",
             "Notifications computed but not delivered because a silence matched.");
    p.Sample("klaxon_notifications_silenced_total", {}, static_cast<double>(si.silenced));
    p.Family("klaxon_silences", "gauge", "Silences by state.");
    p.Sample("klaxon_silences", {{"state", "active"}}, static_cast<double>(si.active));
    p.Sample("klaxon_silences", {{"state", "pending"}}, static_cast<double>(si.pending));
    p.Sample("klaxon_silences", {{"state", "expired"}}, static_cast<double>(si.expired));
    p.Family("klaxon_silenced_episodes", "gauge",
             "Firing episodes held back by silences, notified if they outlive them.");
    p.Sample("klaxon_silenced_episodes", {}, static_cast<double>(si.held_episodes));
  }
  if (s.has_kafka) {
    p.Family("klaxon_kafka_consumer_lag", "gauge",
             "Messages between the partition's high watermark and the consumer position.");
    for (const auto& lag : s.kafka.lag) {
      p.Sample("klaxon_kafka_consumer_lag",
               {{"topic", lag.topic}, {"partition", std::to_string(lag.partition)}},
               static_cast<double>(lag.consumer_lag));
    }
    p.Family("klaxon_kafka_assigned_partitions", "gauge", "Partitions assigned to Klaxon.");
    p.Sample("klaxon_kafka_assigned_partitions", {},
             static_cast<double>(s.kafka.assigned_partitions));
    p.Family("klaxon_kafka_partitions_paused", "gauge",
             "Partitions paused for event-time alignment (too many events held for them).");
    p.Sample("klaxon_kafka_partitions_paused", {}, static_cast<double>(s.kafka.partitions_paused));
    p.Family("klaxon_kafka_partition_pauses_total", "counter",
             "Times a partition was paused for event-time alignment.");
    p.Sample("klaxon_kafka_partition_pauses_total", {}, static_cast<double>(s.kafka.pauses));
    p.Family("klaxon_kafka_partition_resumes_total", "counter",
             "Times a paused partition was resumed.");
    p.Sample("klaxon_kafka_partition_resumes_total", {}, static_cast<double>(s.kafka.resumes));
    p.Family("klaxon_kafka_partition_resume_wait_seconds_total", "counter",
             "Time from each resume to the partition's next message or end (a fetch: librdkafka "
             "drops what it prefetched for a paused partition).");
    p.Sample("klaxon_kafka_partition_resume_wait_seconds_total", {}, s.kafka.resume_wait_seconds);
    p.Family("klaxon_kafka_messages_skipped_total", "counter",
             "kafka.format sentry_ingest: messages that are no error event, by their type.");
    for (const auto& [type, count] : s.kafka.skipped_by_type) {
      p.Sample("klaxon_kafka_messages_skipped_total", {{"type", type}}, static_cast<double>(count));
    }
    p.Family("klaxon_partition_event_time_seconds", "gauge",
             "Newest event time read from the partition (absent before its first event).");
    p.Family("klaxon_partition_idle", "gauge",
             "1 while the partition is caught up and so does not hold event time back.");
    for (const auto& part : s.kafka.partitions) {
      if (!part.assigned || part.key.topic >= s.kafka.topic_names.size()) continue;
      const Labels labels = {{"topic", s.kafka.topic_names[part.key.topic]},
                             {"partition", std::to_string(part.key.partition)}};
      if (part.time != PartitionTime::kNone) {
        p.Sample("klaxon_partition_event_time_seconds", labels,
                 static_cast<double>(part.time) / 1000.0);
      }
      p.Sample("klaxon_partition_idle", labels, part.idle ? 1 : 0);
    }
  }
  histograms.evaluation.Write(p, "klaxon_evaluation_duration_seconds",
                              "Time to evaluate one decoded event (measured on one event in 16).");
  histograms.outbox.Write(p, "klaxon_notification_outbox_latency_seconds",
                          "From the broker timestamp of the message that caused a notification to "
                          "the notification being stored in the outbox.");
  p.Family("klaxon_rule_file_info", "gauge", "Loaded rule files with their sha256.");
  for (size_t i = 0; i < s.rule_files.size(); ++i) {
    p.Sample("klaxon_rule_file_info", {{"file", s.rule_files[i]}, {"sha256", s.rule_sha256[i]}}, 1);
  }
  p.Family("klaxon_config_last_reload_successful", "gauge",
           "Whether the last rule reload succeeded.");
  p.Sample("klaxon_config_last_reload_successful", {}, s.last_reload_successful ? 1 : 0);
  p.Family("klaxon_config_last_reload_success_timestamp_seconds", "gauge",
           "When rules were last loaded successfully.");
  p.Sample("klaxon_config_last_reload_success_timestamp_seconds", {},
           static_cast<double>(s.last_reload_success_ms) / 1000.0);
  if (s.has_state_store) {
    p.Family("klaxon_state_checkpoints_total", "counter",
             "Checkpoints of the engine's state and the offsets it covers.");
    p.Sample("klaxon_state_checkpoints_total", {}, static_cast<double>(counters.checkpoints));
    p.Family("klaxon_state_checkpoint_failures_total", "counter", "Checkpoints not saved.");
    p.Sample("klaxon_state_checkpoint_failures_total", {},
             static_cast<double>(counters.checkpoint_failures));
    p.Family("klaxon_state_checkpoint_bytes", "gauge", "Size of the last checkpoint's state.");
    p.Sample("klaxon_state_checkpoint_bytes", {}, static_cast<double>(counters.checkpoint_bytes));
    p.Family("klaxon_state_checkpoint_duration_seconds", "gauge",
             "Time the last checkpoint took (the run loop waits for it).");
    p.Sample("klaxon_state_checkpoint_duration_seconds", {}, counters.checkpoint_seconds);
    p.Family("klaxon_state_last_checkpoint_timestamp_seconds", "gauge",
             "When the last checkpoint (or the one restored at start) was saved.");
    p.Sample("klaxon_state_last_checkpoint_timestamp_seconds", {},
             static_cast<double>(counters.checkpoint_time_ms) / 1000.0);
  }
  if (s.has_scale_out) WriteScaleOut(p, s.scale_out);
  WriteProcessMetrics(p, s.start_time_ms);
  return p.text();
}

}  // namespace klaxon::service
