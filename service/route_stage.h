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
  };

  // `rules`: the rules to route by (their matching only; no window state is kept).
  static Result<std::unique_ptr<RouteStage>> Open(RouteStageOptions options, const RuleSet& rules,
                                                  const EngineOptions& engine, LogSink& log);

  // Reads what the input has (waiting up to `wait` when nothing is there), produces its
  // records and, when due, the marks; then waits for their acknowledgement and marks the input
  // offsets. Unavailable when the producer could not deliver (the offsets stay unmarked).
  Status Pass(int64_t now_ms, std::chrono::milliseconds wait);
  // Flushes, commits the marked offsets and leaves the group.
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
  void HandlePartitionEvent(const connectors::Record& record, int64_t now_ms);
  Status HandleRecord(const connectors::Record& record);
  Status SendMarks();
  Status Send(int32_t partition);
  // A rejected record to the dead-letter topic (a failure is logged, never stops routing).
  Status DeadLetter(const connectors::Record& record, RejectReason reason);

  RouteStageOptions options_;
  LogSink& log_;
  std::unique_ptr<Engine> engine_;  // routes only: MatchRules holds no groups
  std::unique_ptr<EventDecoder> decoder_;
  std::unique_ptr<ShuffleRouter> router_;
  std::unique_ptr<connectors::KafkaSource> input_;
  std::unique_ptr<connectors::KafkaProducer> producer_;
  std::unique_ptr<connectors::KafkaProducer> dead_letters_;  // dead_letter_topic set only
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
  Counters counters_;
};

}  // namespace klaxon::service
