// EvalStage: scale-out's second stage in `klaxon run` (docs/scale_out.md). Reads the
// repartition topic in consumer group <application_id>-eval; each repartition partition
// assigned here is a task with its own event time (ShuffleTime: the minimum over every input
// partition as stage 1 reports them, re-sent records dropped by input offset) and its own
// engines, one per rule it has records of, fed the event of each record. The notifications are
// the single-stage path's (same rule, group and episode, so the same idempotency keys); the
// caller stores them in the outbox, then calls Stored so the records behind them are committed.
//
// Not built yet (docs/scale_out.md): a task's state is in memory only. A partition revoked
// from this process (a rebalance: an instance joins or leaves) drops its task, and the
// instance it moves to starts that task with empty windows from the committed offset.
//
// Not thread-safe: the run loop's thread drives it. Reads no clock: time is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/kafka_source.h"
#include "engine/engine.h"
#include "engine/notification.h"
#include "service/log_sink.h"
#include "service/shuffle_record.h"
#include "service/shuffle_time.h"

namespace klaxon::service {

struct EvalStageOptions {
  connectors::KafkaSourceOptions repartition;   // the repartition topic, group <id>-eval
  std::vector<ShuffleTime::InputTopic> inputs;  // every partition of the input topics
  int64_t future_limit_ms = kDefaultFutureLimitMs;
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
  };

  // `rules`: the rule set every instance routes by (records name rules by Rule::id).
  static Result<std::unique_ptr<EvalStage>> Open(EvalStageOptions options, RuleSet rules,
                                                 const EngineOptions& engine, LogSink& log);

  // Reads what the repartition topic has (waiting up to `wait` when nothing is there),
  // evaluates it and moves each task's engines to its watermark (while every input partition
  // is idle, on from the newest event time with the wall clock `now_ms`, as the single-stage
  // run loop does). Notifications are appended to `out`.
  Status Pass(int64_t now_ms, std::chrono::milliseconds wait, std::vector<Notification>& out);
  // The notifications of the passes so far are in the outbox: their records may be committed.
  void Stored();
  Status Close();

  bool assigned() const { return repartition_->assigned(); }
  Counters counters() const;

 private:
  struct Task {
    ShuffleTime time;
    std::vector<std::unique_ptr<Engine>> engines;  // by rule index; null until a record comes
    int64_t advanced_to = ShuffleTime::kNone;      // what the engines were last moved to
    int64_t newest = ShuffleTime::kNone;           // the highest watermark ShuffleTime gave
    int64_t newest_wall_ms = 0;                    // the wall clock when it came
  };

  EvalStage(EvalStageOptions options, RuleSet rules, EngineOptions engine, LogSink& log)
      : options_(std::move(options)), rules_(std::move(rules)), engine_(engine), log_(log) {}
  Task* FindTask(int32_t partition);
  // The event of an accepted record of rule `rule`, into the task's engine of that rule.
  Status Evaluate(Task& task, uint32_t rule, std::string_view event,
                  std::vector<Notification>& out);
  void Advance(Task& task, int64_t to, std::vector<Notification>& out);
  // Notifications of a one-rule engine name its rule 0: the rule's index in the whole set.
  void Append(uint32_t rule, std::vector<Notification>& notes, std::vector<Notification>& out);

  EvalStageOptions options_;
  RuleSet rules_;
  EngineOptions engine_;
  LogSink& log_;
  std::map<std::string, uint32_t, std::less<>> rule_index_;  // Rule::id -> index
  std::unique_ptr<connectors::KafkaSource> repartition_;
  std::map<int32_t, Task> tasks_;
  std::vector<connectors::Record> unstored_;  // evaluated, notifications not stored yet
  std::vector<Notification> notes_;           // reused
  ShuffleRecord record_;                      // reused
  ShuffleMark mark_;                          // reused
  int64_t max_event_time_ms_ = INT64_MAX;
  int64_t errors_at_last_message_ = 0;  // the consumer's transient errors then
  Counters counters_;
};

}  // namespace klaxon::service
