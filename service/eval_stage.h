// EvalStage: scale-out's second stage in `klaxon run` (docs/scale_out.md). Reads the
// repartition topic in consumer group <application_id>-eval; each repartition partition
// assigned here is a task with its own event time (ShuffleTime: the minimum over every input
// partition as stage 1 reports them, re-sent records dropped by input offset) and its own
// engines, one per rule it has records of, fed the event of each record. The notifications are
// the single-stage path's (same rule, group and episode, so the same idempotency keys); the
// caller stores them in the outbox, then calls Stored so the records behind them are committed.
//
// A task's state (its engines and ShuffleTime) is checkpointed to the compacted changelog topic
// in one Kafka transaction with its repartition offsets, and restored from it when the task is
// assigned here (service/task_changelog.h). With warm standbys, this instance also follows the
// changelog partitions of the tasks assigned elsewhere, so that taking one over reads only what
// was written since (Kafka Streams' standby replicas).
//
// Not thread-safe: the run loop's thread drives it. Reads no clock: time is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/kafka_partition_reader.h"
#include "connectors/kafka_source.h"
#include "connectors/kafka_transaction.h"
#include "engine/engine.h"
#include "engine/notification.h"
#include "service/log_sink.h"
#include "service/shuffle_record.h"
#include "service/shuffle_time.h"
#include "service/task_changelog.h"

namespace klaxon::service {

struct EvalStageOptions {
  connectors::KafkaSourceOptions repartition;   // the repartition topic, group <id>-eval
  std::vector<ShuffleTime::InputTopic> inputs;  // every partition of the input topics
  int64_t future_limit_ms = kDefaultFutureLimitMs;
  std::string changelog_topic;                            // <application_id>-changelog
  connectors::TransactionalProducerOptions transactions;  // its producer (transactional.id)
  // How often the tasks' state and offsets are committed (Kafka Streams' commit.interval.ms):
  // what a new owner evaluates again after a failover.
  int64_t commit_interval_ms = 1000;
  // The interval grows past commit_interval_ms so that checkpoints write about this many bytes a
  // second on average: a task's held events are rewritten at each (docs/operations.md).
  uint64_t changelog_bytes_per_second = 4 << 20;
  std::chrono::milliseconds restore_timeout{std::chrono::minutes(2)};
  // Follow the changelog of every task not assigned here (`scale_out.warm_standby`); needs
  // task_count, the partitions of the repartition topic.
  bool warm_standby = false;
  int32_t task_count = 0;
};

class EvalStage {
 public:
  struct Counters {
    uint64_t records = 0;     // repartition records evaluated
    uint64_t duplicates = 0;  // re-sent after a stage-1 failover, dropped
    uint64_t marks = 0;
    uint64_t invalid = 0;   // undecodable, of an unknown rule, or without the event
    uint64_t late = 0;      // evaluated older than the task's watermark allowed
    uint64_t rejected = 0;  // refused by the engine (a timestamp past engine.future_limit)
    uint64_t tasks = 0;     // assigned now
    uint64_t restores = 0;  // tasks restored from the changelog (with state in it)
    uint64_t restored_records = 0;
    uint64_t commits = 0;          // checkpoints committed
    uint64_t commit_failures = 0;  // aborted; retried at the next interval
    uint64_t changelog_records = 0;
    uint64_t changelog_bytes = 0;
    double restore_seconds = 0;
    uint64_t standby_restores = 0;  // restores that started from a warm standby
    uint64_t standby_records = 0;   // changelog records followed by standbys
  };
  struct TaskInfo {
    int32_t partition = -1;
    bool restoring = false;
    int64_t watermark_ms = ShuffleTime::kNone;
    int64_t restore_lag = -1;  // restoring: changelog records to read (about); -1 not known
  };
  struct StandbyInfo {
    int32_t partition = -1;
    int64_t lag = 0;   // changelog records not followed yet (as the broker last reported)
    size_t bytes = 0;  // the latest value of each key, kept for a restore
  };

  // `rules`: the rule set every instance routes by (records name rules by Rule::id).
  static Result<std::unique_ptr<EvalStage>> Open(EvalStageOptions options, RuleSet rules,
                                                 const EngineOptions& engine, LogSink& log);

  // Reads what the repartition topic has (waiting up to `wait` when nothing is there),
  // evaluates it and moves each task's engines to its watermark (while every input partition
  // is idle, on from the newest event time with the wall clock `now_ms`, as the single-stage
  // run loop does). Notifications are appended to `out`.
  Status Pass(int64_t now_ms, std::chrono::milliseconds wait, std::vector<Notification>& out);
  // The notifications of the passes so far are in the outbox: the tasks' state may be
  // checkpointed (every commit interval from `now_ms`, or now with `force`). A failed commit is
  // retried at the next one; an error only when this instance was fenced (another took over its
  // transactional id or its partitions) and must stop.
  Status Stored(int64_t now_ms, bool force = false);
  Status Close();

  bool assigned() const { return repartition_->assigned(); }
  // Partitions assigned whose state is not restored yet: the next Pass restores them before it
  // reads anything else (so a snapshot published in between shows them, and readiness is false).
  bool restoring() const { return !to_restore_.empty(); }
  Counters counters() const;
  std::vector<TaskInfo> Tasks() const;
  std::vector<StandbyInfo> Standbys() const;
  // The rules' statistics over every task of this instance (klaxon_rule_* metrics: counters
  // stay monotonic as tasks come and go) and their active alerts, by rule index of the whole set.
  void CollectRules(std::vector<RuleStats>& rules, std::vector<ActiveAlert>& alerts);
  // The lowest watermark of the tasks here (ShuffleTime::kNone before any) and the events their
  // engines hold for lateness.
  int64_t Watermark() const;
  uint64_t HeldEvents() const;

 private:
  // An engine's changelog bookkeeping (service/task_changelog.h).
  struct EngineLog {
    uint64_t generation = 0;
    std::vector<uint64_t> rank_by_slot;  // the rank last written for each slot
  };
  struct Task {
    ShuffleTime time;
    std::vector<std::unique_ptr<Engine>> engines;  // by rule index; null until a record comes
    std::vector<EngineLog> logs;                   // by rule index
    int64_t next_offset = -1;  // after the last repartition message read; -1: none read
    bool dirty = false;        // read or moved since the last checkpoint
    bool restoring = false;    // in to_restore_
    int64_t restore_lag = -1;  // restoring: changelog records it has to read, -1 not known
    int64_t advanced_to = ShuffleTime::kNone;  // what the engines were last moved to
    int64_t newest = ShuffleTime::kNone;       // the highest watermark ShuffleTime gave
    int64_t newest_wall_ms = 0;                // the wall clock when it came
    std::vector<RuleStats> counted;            // by rule index: what totals_ has of its engines
  };

  // A task assigned elsewhere, followed in its changelog partition.
  struct Standby {
    ChangelogCollector collector;
    int64_t records = 0;
  };

  EvalStage(EvalStageOptions options, RuleSet rules, EngineOptions engine, LogSink& log)
      : options_(std::move(options)), rules_(std::move(rules)), engine_(engine), log_(log) {}
  Task* FindTask(int32_t partition);
  Result<std::unique_ptr<Engine>> NewEngine(uint32_t rule);
  // Partitions assigned here: their tasks, restored from the changelog at once.
  Status Restore(const std::vector<int32_t>& partitions, int64_t now_ms);
  // `records`: read from the changelog now; `standby_records`: read before by a warm standby
  // (-1: none was there).
  Status RestoreTask(int32_t partition, int64_t committed, ChangelogCollector& collector,
                     int64_t records, int64_t standby_records, int64_t now_ms);
  // Standbys for every task not assigned here (after an assignment changed), then what their
  // changelog partitions have now.
  Status FollowStandbys();
  // For the tasks waiting for their restore: how much of the changelog each will read (shown
  // while they wait; one round trip to the partition's leader each).
  void MeasureRestores();
  // Adds what the task's engines counted since the last call to totals_.
  void Count(Task& task);
  // One repartition message of an assigned task.
  Status Handle(const connectors::Record& message, int64_t now_ms, std::vector<Notification>& out);
  // Every dirty task's state and offsets, in one transaction.
  Status Checkpoint();
  // An accepted record (record_) of rule `rule`, into the task's engine of that rule.
  Status Evaluate(Task& task, uint32_t rule, std::vector<Notification>& out);
  void Advance(Task& task, int64_t to, std::vector<Notification>& out);
  // Notifications of a one-rule engine name its rule 0: the rule's index in the whole set.
  void Append(uint32_t rule, std::vector<Notification>& notes, std::vector<Notification>& out);

  EvalStageOptions options_;
  RuleSet rules_;
  EngineOptions engine_;
  LogSink& log_;
  std::map<std::string, uint32_t, std::less<>> rule_index_;  // Rule::id -> index
  // Per rule: its records carry the event JSON (actions/event_use.h); the others only its id,
  // which is what notifications carry of the event then (stub_).
  std::vector<bool> sent_event_;
  std::string stub_;  // reused
  std::unique_ptr<connectors::KafkaSource> repartition_;
  std::unique_ptr<connectors::KafkaTransactionalProducer> changelog_;
  std::map<int32_t, Task> tasks_;
  std::vector<int32_t> to_restore_;            // assigned, restored at the start of the next Pass
  std::optional<connectors::Record> pending_;  // read after an assignment, before its restore
  std::unique_ptr<connectors::PartitionReader> standby_reader_;  // warm_standby only
  std::map<int32_t, Standby> standbys_;
  bool standbys_stale_ = true;  // the assignment changed since standbys_ was set
  int64_t last_commit_ms_ = INT64_MIN;
  uint64_t last_commit_bytes_ = 0;
  std::vector<RuleStats> totals_;          // by rule index: matches, notifications, groups dropped
  int64_t failure_logged_ms_ = INT64_MIN;  // a failed checkpoint is logged once a minute
  uint64_t failures_unlogged_ = 0;
  StateChanges changes_;             // reused
  std::string key_, value_;          // reused
  std::vector<Notification> notes_;  // reused
  ShuffleRecord record_;             // reused
  ShuffleMark mark_;                 // reused
  int64_t max_event_time_ms_ = INT64_MAX;
  int64_t errors_at_last_message_ = 0;  // the consumer's transient errors then
  Counters counters_;
};

}  // namespace klaxon::service
