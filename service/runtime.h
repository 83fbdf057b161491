// Runtime: the run loop of `klaxon run`, the long-running evaluator. Runs a Source, the
// Engine, the actions' Dispatcher (durable outbox) and the admin server, with the clock and the
// log it is given (it reads no other clock). What to run comes in RuntimeOptions, built by the
// composition root (cli/).
//
// Threads: Run() is the run loop and the only thread that touches the engine and the source.
// The admin server's threads read only the snapshots published on board_;
// RequestReload/RequestShutdown only set flags (cli/run_command.cpp turns signals into them).
#pragma once

#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "actions/dispatcher.h"
#include "clock/clock.h"
#include "engine/engine.h"
#include "ingest/sentry_ingest.h"
#include "service/admin_server.h"
#include "service/ahead_of_clock.h"
#include "service/decode_pool.h"
#include "service/evaluator.h"
#include "service/log_sink.h"
#include "service/metrics_text.h"
#include "service/partition_time.h"
#include "service/progress_file.h"
#include "service/runtime_options.h"
#include "service/runtime_snapshot.h"
#include "service/state_store.h"
#include "service/value_history.h"

namespace klaxon::connectors {
class Source;
class KafkaSource;
class KafkaDeadLetterProducer;
struct Record;
}  // namespace klaxon::connectors

namespace klaxon::service {

class ScaleOut;

class Runtime {
 public:
  // Wall-clock time is read only from `clock` (checkpoint stamps and intervals, idle ticks, the
  // future-timestamp bound, idle partitions, delivery scheduling). `log` and `clock` must
  // outlive the runtime.
  Runtime(RuntimeOptions options, LogSink& log, const Clock& clock);
  ~Runtime();

  // Loads rules, opens the outbox and the source, starts delivery and the admin server.
  Status Start();
  // The run loop; returns the process exit code once shutdown completes.
  int Run();

  void RequestReload() { reload_requested_.store(true); }
  void RequestShutdown() { shutdown_requested_.store(true); }
  int admin_port() const;

 private:
  struct Loaded;    // rules, engine, actions of one generation
  struct Delivery;  // outbox and silences: outlive reloads
  struct Pending {
    uint64_t sequence;  // 0: rejected, nothing held in the engine
    int64_t event_time_ms;
    uint32_t topic;  // index into topic_names_: a record carries no copy of the name
    int32_t partition;
    int64_t offset;
    int64_t dead_letter = 0;  // n-th dead-lettered message; its offset waits for delivery
  };
  struct Handed {  // evaluated_before_ of one partition, looked up once
    uint32_t topic;
    int32_t partition;
    int64_t offset;  // -1: nothing handed over before this run
  };

  Result<std::unique_ptr<Loaded>> Load(Engine* previous);
  Status Reload();
  // After a reload: the previous dispatcher's counters and history go on.
  Status StartDispatcher(const actions::DispatcherStats* counters_from = nullptr,
                         std::shared_ptr<actions::DeliveryHistory> history = nullptr);
  void AdoptLoadedRules();
  void HandleRecord(DecodePool::Item& record);
  void HandlePartitionEvent(const DecodePool::Item& record);
  // Moves the engine to the event time the partitions allow, when it moved on.
  void AdvanceToPartitionTime();
  void Align();
  void HoldUnassignedPartitions(const connectors::KafkaClientOptions& client_options);
  // Whether `topic` is one of kafka.topics (or may match one of its patterns).
  bool Subscribed(const std::string& topic) const;
  // The newest event time the run loop lets partitions and quiet time take at `now_ms`.
  int64_t AheadBound(int64_t now_ms) const;
  void ExpireIdlePartitions();
  // Restoring the engine from the state store's checkpoint (Kafka only), in two steps: Read
  // loads it (and the offsets it covers) and starts the engine's restore on a thread of its
  // own, so that the outbox, delivery and the Kafka consumer start meanwhile (a restart with a
  // million groups spends a second or more in the restore); Finish waits for it.
  struct Restoring;
  Status ReadCheckpoint(Restoring& restoring);
  Status FinishRestore(Restoring& restoring);
  // Saves the engine's state and the offsets it covers, once every notification it produced is
  // in the outbox. False when nothing was saved (logged).
  bool Checkpoint(const char* why);
  // The record at `offset` of the partition was handed to the engine.
  void NoteAdmitted(uint32_t topic, int32_t partition, int64_t offset);
  // Queues what partition time released at a partition's end (after a restart, suppressed
  // when that end is at or below what a previous run handed over).
  void QueueReleased(const PartitionTime::Partition& p);
  int64_t DeadLetter(const DecodePool::Item& record, RejectReason reason);
  void CountSkipped(const std::string& type);
  void EvaluateDecoded(bool all, bool wait);
  void Queue(std::vector<Notification>& notes);
  void FlushNotifications();
  // Writes notes to the outbox; false (counted in submit_failures_ when `first`, logged at
  // most once a minute) when they could not be stored.
  bool Store(const std::vector<Notification>& notes, bool first);
  // Tries unstored_ again when its backoff is over (or `now_regardless`); true when nothing
  // waits any more.
  bool RetryUnstored(bool now_regardless);
  // The state store's file is still the one opened; otherwise reopens it (logged) so the next
  // checkpoint writes every group into a new file.
  // False when it was gone and could not be reopened.
  bool ReopenStateIfGone();
  // Remembers which file state_ opened (ReopenStateIfGone compares).
  void NoteStateFile();
  void SaveProgress(bool force);
  void LoadProgress();
  uint32_t TopicIndex(const std::string& topic);
  int64_t HandedBefore(uint32_t topic, int32_t partition);
  std::string ProgressPath() const;
  void MarkProcessed();
  void Tick(int64_t now_ms);
  // Copies what the admin server shows into a new RuntimeSnapshot and swaps it in.
  void PublishSnapshot();
  Status StartSentry(const connectors::KafkaClientOptions* kafka);
  // Scale-out (runtime_scale_out.cpp): both stages replace the source and the engine; the
  // outbox, delivery and the admin server are the same.
  Status StartScaleOut(const RuleSet& rules);
  // One pass of both stages, their notifications stored; false on a fatal error (logged).
  bool ScaleOutPass(int64_t now_ms, std::chrono::milliseconds wait,
                    std::chrono::steady_clock::time_point& last_snapshot);
  void StopScaleOut();
  std::string SilenceForm(const std::string& form,
                          const std::map<std::string, std::string>& fields);
  int64_t NowMs() const;

  RuntimeOptions options_;
  LogSink& log_;
  const Clock& clock_;

  std::unique_ptr<Loaded> loaded_;
  std::unique_ptr<ingest::SentryIngest> sentry_;  // the Sentry endpoint; outlives source_
  std::unique_ptr<connectors::Source> source_;
  connectors::KafkaSource* kafka_ = nullptr;  // source_ when it is Kafka
  std::unique_ptr<connectors::KafkaDeadLetterProducer> dead_letters_;
  connectors::Record dead_letter_;       // the rejected record as its dead letter gives it (reused)
  std::unique_ptr<ScaleOut> scale_out_;  // scale_out enabled: in place of source_
  std::unique_ptr<Delivery> delivery_;
  std::unique_ptr<actions::Dispatcher> dispatcher_;
  std::unique_ptr<AdminServer> admin_;
  ValueHistory value_history_{3 * 3600 * 1000LL, 60 * 1000};  // status page sparklines
  std::shared_ptr<const std::map<std::string, std::vector<report::Point>>> history_snapshot_;
  // The status page's forms: a random token per process that every form carries back (CSRF).
  std::string csrf_token_ = RandomToken();
  bool status_forms_ = false;
  bool status_token_field_ = false;
  std::unique_ptr<DecodePool> decode_pool_;  // decoders for the current engine
  // Event time per Kafka partition (null for files and stdin, which are one ordered input).
  std::unique_ptr<PartitionTime> partition_time_;
  std::unique_ptr<Evaluator> evaluator_;            // the engine and partition_time_, one stage
  std::vector<PartitionTime::Key> pause_, resume_;  // reused by Align
  std::vector<PartitionTime::Partition> expired_;   // reused by ExpireIdlePartitions
  // Checkpoints (null without Kafka, or with state.enabled false).
  std::unique_ptr<StateStore> state_;
  struct Admitted {
    uint32_t topic;
    int32_t partition;
    int64_t next_offset;  // after the last record handed to the engine
  };
  std::vector<Admitted> admitted_;
  size_t admitted_last_ = 0;
  std::vector<PartitionOffset> restored_offsets_;  // applied when the source opens
  StateChanges checkpoint_changes_;                // reused: only changed groups are written
  int64_t checkpoint_at_ms_ = 0;                   // clock time of the last checkpoint attempt
  std::vector<Notification> notes_;                // reused
  std::deque<Pending> pending_;           // records handed out, in order, not yet marked processed
  std::vector<std::string> topic_names_;  // every topic a record came from
  uint32_t last_topic_ = 0;
  connectors::Record mark_record_;  // reused by MarkProcessed
  // Notifications wait in batch_ until FlushNotifications writes them to the outbox in one
  // commit; the last unflushed_records_ entries of pending_ are the records that caused them
  // (their offsets must not be marked before that commit).
  std::vector<Notification> batch_;
  std::vector<int64_t> batch_broker_ms_;  // broker timestamps of the records in batch_
  size_t unflushed_records_ = 0;
  std::chrono::steady_clock::time_point batch_started_{};
  int64_t state_horizon_ms_ = 0;         // offsets are committed this far behind the watermark
  int64_t newest_event_ms_ = INT64_MIN;  // newest accepted event time
  int64_t clock_ms_ = 0;                 // the wall clock at the top of the run loop's pass
  // Accepted events stamped ahead of the clock (within future_limit): a rate-limited warning.
  AheadOfClock ahead_of_clock_{options_.engine.allowed_lateness_ms, options_.future_limit_ms,
                               "engine.future_limit"};
  int64_t newest_event_wall_ms_ = 0;      // wall time when it arrived
  bool newest_event_wall_stale_ = false;  // newer event seen; wall time set at the next flush
  uint64_t records_handled_ = 0;
  int64_t errors_at_last_record_ = 0;  // Kafka transient errors seen when a record last came

  std::atomic<bool> reload_requested_{false};
  std::atomic<bool> shutdown_requested_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> started_{false};
  int64_t start_time_ms_ = 0;  // set before the admin server starts; read-only afterwards

  // Highest offset per partition whose notifications are handed over: this run's, and the
  // previous run's (read at start) below which re-computed notifications are suppressed.
  HandedOffsets evaluated_;
  HandedOffsets evaluated_before_;
  std::vector<Handed> handed_before_;  // what HandleRecord looked up in evaluated_before_
  bool progress_dirty_ = false;
  std::chrono::steady_clock::time_point progress_saved_at_{};

  // Reload requests from the admin server wait for the run loop's verdict.
  std::mutex reload_mu_;
  std::condition_variable reload_cv_;
  uint64_t reload_requests_ = 0;  // guarded by reload_mu_
  uint64_t reload_done_ = 0;      // guarded by reload_mu_
  Status reload_result_;          // guarded by reload_mu_

  // Counters the run loop owns; published for scrapes.
  uint64_t dead_lettered_ = 0;
  uint64_t notifications_submitted_ = 0;
  uint64_t submit_failures_ = 0;
  uint64_t suppressed_ = 0;
  uint64_t oversized_ = 0;
  std::map<std::string, uint64_t> skipped_by_type_;  // kafka.format sentry_ingest
  uint64_t checkpoints_ = 0;
  uint64_t checkpoint_failures_ = 0;
  uint64_t checkpoint_bytes_ = 0;
  double checkpoint_seconds_ = 0;
  int64_t checkpoint_time_ms_ = 0;
  // Notifications the outbox refused (disk full, file moved), in order, retried with backoff on
  // the run loop's clock. While any waits, later ones queue behind them, no offset is marked
  // and no checkpoint is taken: a checkpoint must not skip past a notification not stored.
  // Meanwhile Run() reads no record (back-pressure), so this stays small.
  std::vector<Notification> unstored_;
  int64_t unstored_retry_at_ms_ = 0;
  int64_t unstored_backoff_ms_ = 0;
  int64_t unstored_logged_at_ms_ = INT64_MIN;  // the error is logged at most once a minute
  std::string unstored_error_;
  bool checkpoint_due_ = false;  // checkpoint at the next pass (the unstored were just stored)
  // The state store's file as opened (st_dev, st_ino): a file deleted meanwhile is noticed.
  uint64_t state_dev_ = 0;
  uint64_t state_ino_ = 0;
  RunHistograms histograms_;
  // What the admin server shows, as of the last PublishSnapshot (run loop only).
  std::vector<std::string> rule_files_;
  std::vector<std::string> rule_sha256_;
  bool last_reload_successful_ = false;
  int64_t last_reload_success_ms_ = 0;

  // The admin threads read only this: immutable snapshots the run loop publishes.
  SnapshotBoard board_;
};

}  // namespace klaxon::service
