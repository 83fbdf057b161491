// RouteStage: scale-out's first stage in `klaxon run` (docs/scale_out.md). Reads the input
// topics in consumer group <application_id>, decodes and matches each event, and produces one
// repartition record per (rule, group) it falls in to the repartition partition that owns that
// (rule, group) (ShuffleRouter); every input partition's event time goes to every repartition
// partition in watermark marks. Keeps no window state: any instance can take over any input
// partition.
//
// Input offsets are marked for commit only once the producer (acks=all, idempotent) has
// acknowledged every record produced from them, so a crash re-sends, never skips; stage 2
// drops the re-sent records by input offset (ShuffleTime::Accept).
//
// With `exactly_once` (scale_out.exactly_once) it runs Kafka's consume-transform-produce loop
// instead: records and marks are produced in a transaction of its own transactional id, and the
// input offsets they cover are sent to that transaction with the input consumer's group
// metadata, committed every `commit_interval_ms`. Stage 2 reads read_committed, so a crash, an
// error or a revocation (which abort the open transaction; the partitions still assigned here
// are read again from the last commit) leaves nothing of it to see, and nothing is re-sent.
//
// Not thread-safe: the run loop's thread drives it. Reads no clock: time is passed in.
#pragma once

#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka_producer.h"
#include "connectors/kafka_source.h"
#include "connectors/kafka_transaction.h"
#include "engine/engine.h"
#include "engine/event_decoder.h"
#include "service/log_sink.h"
#include "service/partition_time.h"
#include "service/shuffle_record.h"
#include "service/shuffle_route.h"

namespace klaxon::service {

struct RouteStageOptions {
  connectors::KafkaSourceOptions input;  // the input topics, group <application_id>
  connectors::KafkaClientOptions producer;
  std::string repartition_topic;
  int32_t partitions = 1;        // of the repartition topic
  int64_t idle_after_ms = 1000;  // engine.partition_idle_timeout, as the single stage has it
  // A partition's time goes at most this far past the wall clock (an event stamped ahead of it
  // is still routed; its owner's engine judges engine.future_limit).
  int64_t allowed_lateness_ms = 5000;
  // How often every input partition's time is sent to every repartition partition.
  int64_t mark_interval_ms = 200;
  // Rejected input records go there with their reason and source in headers (kafka.
  // dead_letter_topic), acknowledged before their offsets are committed; empty: counted only.
  std::string dead_letter_topic;
  // Transactions (see the class comment). The dead-letter copies stay outside them: each is
  // acknowledged before the transaction covering its input offset commits (at least once).
  bool exactly_once = false;
  connectors::TransactionalProducerOptions transactions;  // exactly_once: its transactional id
  int64_t commit_interval_ms = 100;  // exactly_once: how long a transaction stays open at most
};

class RouteStage {
 public:
  struct Counters {
    uint64_t records = 0;   // input records read
    uint64_t rejected = 0;  // not decodable (invalid JSON, no timestamp, ...): sent nowhere
    uint64_t rejected_by_reason[static_cast<int>(RejectReason::kCount_)] = {};
    uint64_t routed = 0;         // repartition records produced
    uint64_t routed_bytes = 0;   // ... their bytes
    uint64_t routed_events = 0;  // ... of them carrying the event JSON
    uint64_t marks = 0;          // watermark marks produced
    uint64_t dead_lettered = 0;  // rejected records produced to the dead-letter topic
    uint64_t transactions = 0;   // exactly_once: transactions committed
    uint64_t aborted = 0;        // exactly_once: transactions aborted (their input read again)
  };

  // `rules`: the rules to route by (their matching only; no window state is kept).
  static Result<std::unique_ptr<RouteStage>> Open(RouteStageOptions options, const RuleSet& rules,
                                                  const EngineOptions& engine, LogSink& log);

  // Reads what the input has (waiting up to `wait` when nothing is there), produces its
  // records and, when due, the marks; then waits for their acknowledgement and marks the input
  // offsets. Unavailable when the producer could not deliver (the offsets stay unmarked).
  // exactly_once: commits the open transaction once `commit_interval_ms` old; an aborted one is
  // read again, not an error; FailedPrecondition when this instance was fenced.
  Status Pass(int64_t now_ms, std::chrono::milliseconds wait);
  // Flushes, commits the marked offsets (exactly_once: the open transaction) and leaves the
  // group.
  Status Close();

  bool assigned() const { return input_->assigned(); }
  const Counters& counters() const { return counters_; }

 private:
  RouteStage(RouteStageOptions options, LogSink& log)
      : options_(std::move(options)),
        log_(log),
        partition_time_(/*max_ahead_ms=*/INT64_MAX, options_.idle_after_ms) {
    partition_time_.WaitBeforeIdle();
  }
  uint32_t TopicIndex(const std::string& topic);
  Status HandlePartitionEvent(const connectors::Record& record, int64_t now_ms);
  Status HandleRecord(const connectors::Record& record);
  Status SendMarks();
  Status Send(int32_t partition);
  // exactly_once: the input read since the last commit, and what to do with it.
  void NoteUncommitted(uint32_t topic, int32_t partition, int64_t offset);
  bool Assigned(PartitionTime::Key key) const;
  Status CommitTransaction();
  // The error that stops the instance when its transactional producer is fenced or failed.
  Status Fenced(const Status& st) const;
  // After an abort: the partitions read since the last commit go back to it (their position
  // and their time).
  Status Rewind();
  // A rejected record to the dead-letter topic (a failure is logged, never stops routing).
  Status DeadLetter(const connectors::Record& record, RejectReason reason);

  RouteStageOptions options_;
  LogSink& log_;
  std::unique_ptr<Engine> engine_;  // routes only: MatchRules holds no groups
  std::unique_ptr<EventDecoder> decoder_;
  std::unique_ptr<ShuffleRouter> router_;
  std::unique_ptr<connectors::KafkaSource> input_;
  std::unique_ptr<connectors::KafkaProducer> producer_;
  std::unique_ptr<connectors::KafkaDeadLetterProducer> dead_letters_;  // dead_letter_topic set
  std::unique_ptr<connectors::KafkaTransactionalProducer> txn_;  // exactly_once (no producer_)
  PartitionTime partition_time_;  // its times and idleness, reported in marks; nothing paused
  std::vector<std::string> topic_names_;
  struct Read {  // the last offset read of an input partition
    uint32_t topic;
    int32_t partition;
    int64_t offset;
  };
  std::vector<Read> last_read_;
  std::vector<bool> sends_event_;            // per rule: its records carry the event JSON
  std::vector<connectors::Record> unacked_;  // read, produced, not acknowledged yet
  DecodedEvent event_;                       // reused
  ShuffleRecord record_;                     // reused
  std::string bytes_;                        // reused
  std::vector<PartitionTime::Partition> expired_;
  int64_t marks_at_ms_ = 0;  // the wall clock when marks were last sent (0: never)
  // exactly_once: whether a transaction is open, since when something waits for a commit, the
  // first offset read since the last commit per partition (the last is in last_read_), and the
  // time each partition had at its last commit (where a rewind takes it back to).
  bool txn_open_ = false;
  int64_t pending_since_ms_ = 0;
  struct Uncommitted {
    uint32_t topic;
    int32_t partition;
    int64_t first;
  };
  std::vector<Uncommitted> uncommitted_;
  struct CommittedTime {
    PartitionTime::Key key;
    int64_t time;
  };
  std::vector<CommittedTime> committed_time_;
  std::vector<connectors::CommitOffset> offsets_;  // reused
  Counters counters_;
};

}  // namespace klaxon::service
