// Kafka producers: the dead-letter producer of `klaxon run`, and a small producer that tests
// and benchmarks use to put JSON Lines files onto a topic. Topics: connectors/kafka_admin.h.
//
// Not thread-safe: each producer is used by one thread (librdkafka's own threads aside).
// Delivery is asynchronous; Flush() waits for it and reports failures.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "connectors/kafka_config.h"
#include "connectors/source.h"
#include "engine/status.h"

namespace RdKafka {
class Producer;
}
struct rd_kafka_s;

namespace klaxon::connectors {

struct KafkaHeader {
  std::string_view key;
  std::string_view value;
};

class KafkaProducer {
 public:
  // acks=all and linger.ms=5 unless the pass-through properties say otherwise.
  static Result<std::unique_ptr<KafkaProducer>> Open(const KafkaClientOptions& options);
  ~KafkaProducer();  // flushes for up to 10 s

  // Queues one message to `partition`, or with -1 to the partition librdkafka chooses from the
  // key (sticky when empty). timestamp_ms 0 means now. Waits while librdkafka's queue is full;
  // Unavailable if it stays full for `queue_full_timeout`.
  Status Produce(const std::string& topic, std::string_view payload, int64_t timestamp_ms = 0,
                 std::span<const KafkaHeader> headers = {}, std::string_view key = {},
                 std::chrono::milliseconds queue_full_timeout = std::chrono::seconds(30),
                 int32_t partition = -1);
  // Waits until every queued message is delivered or failed; Unavailable when some failed
  // (since the last Flush) or are still queued at the timeout.
  Status Flush(std::chrono::milliseconds timeout);

  int64_t delivered() const { return delivered_.load(); }
  int64_t failed() const { return failed_.load(); }
  // The underlying librdkafka handle, for admin requests (KafkaAdmin).
  struct rd_kafka_s* c_handle();

 private:
  class DeliveryReports;
  KafkaProducer(LogFn log);

  LogFn log_;
  std::unique_ptr<DeliveryReports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> failed_{0};
  int64_t failed_at_last_flush_ = 0;
};

// Produces every non-empty line of a JSON Lines file (plain or gzip) as one message, with
// timestamp `timestamp_ms` (0: the time of producing), and flushes. Returns the message count.
Result<int64_t> ProduceJsonLines(KafkaProducer& producer, const std::string& topic,
                                 const std::string& path, int64_t timestamp_ms = 0);

struct DeadLetterOptions {
  KafkaClientOptions client;
  std::string topic;  // dead_letter_topic
};

// Sends rejected records to the dead-letter topic as Kafka Connect's dead-letter queue does:
// value and key byte for byte and the original timestamp, so a dead letter can be produced back
// to the partition it came from, with headers `klaxon-reason`, `klaxon-source-topic`,
// `klaxon-source-partition`, `klaxon-source-offset` (file sources: empty topic, partition -1,
// offset = line number) and, when there is one, `klaxon-detail` (why it was invalid). The one
// writer of dead letters: the single-stage run loop and scale-out's stage 1 both use it.
class KafkaDeadLetterProducer {
 public:
  static Result<std::unique_ptr<KafkaDeadLetterProducer>> Open(const DeadLetterOptions& options);
  ~KafkaDeadLetterProducer();

  Status Send(const Record& original, std::string_view reason, std::string_view detail = {});
  Status Flush(std::chrono::milliseconds timeout) { return producer_->Flush(timeout); }
  // Flushes; Unavailable when dead letters could not be delivered. Idempotent.
  Status Close(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  int64_t sent() const { return sent_; }
  int64_t delivered() const { return producer_->delivered(); }
  int64_t failed() const { return producer_->failed(); }

 private:
  KafkaDeadLetterProducer(std::string topic, std::unique_ptr<KafkaProducer> producer)
      : topic_(std::move(topic)), producer_(std::move(producer)) {}

  std::string topic_;
  std::unique_ptr<KafkaProducer> producer_;
  int64_t sent_ = 0;
  bool closed_ = false;
};

}  // namespace klaxon::connectors
