// What the admin server may know about the run loop: an immutable copy of its state, published
// by the run loop (every 200 ms, after a reload, at shutdown) and read by any number of admin
// threads. The admin threads never touch the engine, the dispatcher, the loaded rules or the
// source: a reload replaces those under the run loop while scrapes go on.
#pragma once

#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actions/dispatcher.h"
#include "actions/silencer.h"
#include "connectors/kafka_source.h"
#include "engine/engine.h"
#include "ingest/metrics.h"
#include "report/series.h"
#include "service/partition_time.h"

namespace klaxon::service {

// Counters the run loop owns.
struct RunCounters {
  uint64_t dead_lettered = 0;
  uint64_t submitted = 0;
  uint64_t submit_failures = 0;
  uint64_t suppressed = 0;
  uint64_t oversized = 0;
  uint64_t checkpoints = 0;
  uint64_t checkpoint_failures = 0;
  uint64_t checkpoint_bytes = 0;
  double checkpoint_seconds = 0;
  int64_t checkpoint_time_ms = 0;
  uint64_t unstored = 0;  // notifications the outbox refused, waiting in memory for a retry
};

struct KafkaSnapshot {
  std::vector<connectors::KafkaSource::PartitionLag> lag;
  int assigned_partitions = 0;
  uint64_t partitions_paused = 0;
  uint64_t pauses = 0;
  uint64_t resumes = 0;
  double resume_wait_seconds = 0;
  std::vector<PartitionTime::Partition> partitions;
  std::vector<std::string> topic_names;  // PartitionTime::Key::topic indexes this
  // kafka.format sentry_ingest: messages passed over, by their `type`.
  std::map<std::string, uint64_t> skipped_by_type;
};

// scale_out (docs/scale_out.md): both stages' totals and stage 2's tasks.
struct ScaleOutSnapshot {
  struct Task {
    int32_t partition = -1;            // of the repartition topic
    bool restoring = false;            // assigned, its state not restored from the changelog yet
    int64_t watermark_ms = INT64_MIN;  // what its engines were moved to; INT64_MIN: not yet
    int64_t restore_lag = -1;          // restoring: changelog records to read; -1 not known
  };
  uint64_t input_records = 0, input_rejected = 0, routed = 0, marks_sent = 0;
  uint64_t route_transactions = 0, route_aborts = 0;  // stage 1's, with exactly_once
  uint64_t routed_bytes = 0, routed_events = 0;
  uint64_t evaluated = 0, duplicates = 0, marks = 0, invalid = 0, late = 0, rejected = 0;
  uint64_t restores = 0, restored_records = 0, checkpoints = 0, checkpoint_failures = 0;
  uint64_t changelog_records = 0, changelog_bytes = 0;
  double restore_seconds = 0;  // time spent restoring tasks, in all
  std::vector<Task> tasks;
  // Warm standbys: tasks assigned elsewhere whose changelog this instance follows.
  struct Standby {
    int32_t partition = -1;
    int64_t lag = 0;   // changelog records not followed yet
    size_t bytes = 0;  // state kept for a restore
  };
  std::vector<Standby> standbys;
  uint64_t standby_restores = 0, standby_records = 0;
  size_t restoring = 0;  // tasks restoring
};

struct RuntimeSnapshot {
  int64_t start_time_ms = 0;
  EngineStats stats;
  std::vector<ActiveAlert> alerts;
  int64_t watermark_ms = INT64_MIN;  // INT64_MIN: no event yet
  uint64_t held_events = 0;          // Engine::HeldEvents
  // The rules of the generation that produced `stats` and `alerts` (rule_index refers to it).
  std::shared_ptr<const RuleSet> rules;
  std::vector<std::string> rule_files;
  std::vector<std::string> rule_sha256;
  bool last_reload_successful = false;
  int64_t last_reload_success_ms = 0;
  RunCounters counters;
  bool has_dispatcher = false;
  actions::DispatcherStats dispatcher;
  bool has_kafka = false;
  KafkaSnapshot kafka;
  bool has_state_store = false;
  bool has_ingest = false;  // the Sentry ingestion endpoint runs
  ingest::IngestTotals ingest;
  bool has_silencer = false;
  actions::SilencerStats silences;
  // For the status page: the last notifications and their delivery, and each rule's value over
  // the last hours of event time (by rule id; replaced when sampled, shared between snapshots).
  std::vector<actions::NotificationRecord> recent;
  std::shared_ptr<const std::map<std::string, std::vector<report::Point>>> history;
  int64_t history_span_ms = 0;
  bool source_ready = false;  // not Kafka, or Kafka with partitions assigned
  bool has_scale_out = false;
  ScaleOutSnapshot scale_out;
};

// The one place a snapshot changes hands: the run loop swaps in a new one, readers take a
// reference that stays valid however many snapshots follow.
class SnapshotBoard {
 public:
  void Publish(std::shared_ptr<const RuntimeSnapshot> snapshot) {
    std::lock_guard<std::mutex> lock(mu_);
    latest_.swap(snapshot);
    // The previous snapshot is released outside the lock when its last reader lets go.
  }
  std::shared_ptr<const RuntimeSnapshot> Latest() const {
    std::lock_guard<std::mutex> lock(mu_);
    return latest_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const RuntimeSnapshot> latest_ = std::make_shared<const RuntimeSnapshot>();
};

}  // namespace klaxon::service
