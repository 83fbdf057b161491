// The endpoint's sink beside `source: kafka`: each accepted event is produced to a topic with
// acks=all, and Offer returns only once the broker acknowledged it, so an event answered 200 is
// on Kafka. Requests are produced one at a time (one producer, serialised), which bounds
// throughput to one broker round trip per event; enough for error events.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/kafka_producer.h"
#include "ingest/event_sink.h"

namespace klaxon::ingest {

class KafkaSink : public EventSink {
 public:
  static Result<std::unique_ptr<KafkaSink>> Open(const connectors::KafkaClientOptions& client,
                                                 std::string topic,
                                                 std::chrono::milliseconds ack_timeout);
  Status Offer(std::string& event) override;
  const char* unavailable_reason() const override { return "kafka_error"; }

 private:
  KafkaSink(std::unique_ptr<connectors::KafkaProducer> producer, std::string topic,
            std::chrono::milliseconds ack_timeout)
      : producer_(std::move(producer)), topic_(std::move(topic)), ack_timeout_(ack_timeout) {}

  std::mutex mu_;
  std::unique_ptr<connectors::KafkaProducer> producer_;
  std::string topic_;
  std::chrono::milliseconds ack_timeout_;
};

}  // namespace klaxon::ingest
