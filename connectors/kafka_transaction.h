// KafkaTransactionalProducer: Kafka transactions for scale-out's changelog (docs/scale_out.md).
//
// Stage 2 writes a task's state to its changelog partition and the repartition offsets that
// state covers in one transaction (Kafka Streams' exactly-once: consume, update state, produce,
// send_offsets_to_transaction, commit). A reader with isolation.level=read_committed sees the
// state of a committed transaction whole or not at all, and the group's offsets move with it:
// a crash in the middle of a checkpoint leaves the previous one.
//
// The transactional.id names the instance: a restart under the same id fences the process
// before it and aborts its open transaction at once; a dead instance's open transaction is
// aborted by the broker after `transaction_timeout`. Offsets are sent with the consumer's group
// metadata (KIP-447), so an instance that lost its partitions in a rebalance can no longer
// commit for them: its commit fails and it stops.
//
// Not thread-safe: the run loop's thread uses it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "connectors/kafka_config.h"
#include "engine/status.h"

struct rd_kafka_error_s;

namespace klaxon::connectors {

class KafkaProducer;
class KafkaSource;

struct TransactionalProducerOptions {
  KafkaClientOptions client;
  std::string transactional_id;
  std::chrono::milliseconds transaction_timeout{10000};
};

struct CommitOffset {
  std::string topic;
  int32_t partition = -1;
  int64_t next_offset = -1;  // the first record the committed state does not cover
};

class KafkaTransactionalProducer {
 public:
  // Creates the producer and initialises transactions (fencing an earlier process with the same
  // transactional.id): Unavailable when the coordinator does not answer within `timeout`.
  static Result<std::unique_ptr<KafkaTransactionalProducer>> Open(
      const TransactionalProducerOptions& options,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~KafkaTransactionalProducer();
  KafkaTransactionalProducer(const KafkaTransactionalProducer&) = delete;
  KafkaTransactionalProducer& operator=(const KafkaTransactionalProducer&) = delete;

  Status Begin();
  // Queues a record of the open transaction; `value` nullopt is a tombstone (compaction removes
  // the key). FailedPrecondition when the producer is fenced or failed for good.
  Status Produce(const std::string& topic, int32_t partition, std::string_view key,
                 std::optional<std::string_view> value);
  // Sends `offsets` for `consumer`'s group and commits the transaction. On failure the
  // transaction is aborted when it can be: Unavailable (nothing of it is visible; the caller may
  // try again with a new transaction), or FailedPrecondition when the producer is fenced or
  // failed for good (another process took over; this one must stop).
  Status Commit(std::span<const CommitOffset> offsets, KafkaSource& consumer,
                std::chrono::milliseconds timeout);
  // Aborts the open transaction, if any.
  Status Abort(std::chrono::milliseconds timeout);

  int64_t commits() const { return commits_; }
  int64_t aborts() const { return aborts_; }

 private:
  KafkaTransactionalProducer(LogFn log, std::unique_ptr<KafkaProducer> producer);
  // After a failed call: abort when the transaction can be, and say what the caller must do.
  Status Fail(const char* what, rd_kafka_error_s* error, std::chrono::milliseconds timeout);

  LogFn log_;
  std::unique_ptr<KafkaProducer> producer_;
  bool open_ = false;
  int64_t commits_ = 0;
  int64_t aborts_ = 0;
};

}  // namespace klaxon::connectors
