// Where the endpoint hands accepted events: the bounded queue that feeds `source: sentry`, or a
// Kafka topic (kafka_sink.h). Offer must not block for long and must be thread-safe.
#pragma once

#include <string>

#include "engine/status.h"
#include "ingest/event_queue.h"

namespace klaxon::ingest {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Takes `event` (moved from on success). Unavailable when it cannot be taken now (queue full,
  // broker not acknowledging): the endpoint answers 503 and the SDK retries later.
  virtual Status Offer(std::string& event) = 0;
  // The drop reason counted for an Unavailable Offer.
  virtual const char* unavailable_reason() const = 0;
};

class QueueSink : public EventSink {
 public:
  explicit QueueSink(EventQueue& queue) : queue_(queue) {}
  Status Offer(std::string& event) override {
    if (queue_.TryPush(event)) return Status::Ok();
    return Status::Unavailable("the event queue is full");
  }
  const char* unavailable_reason() const override { return "queue_full"; }

 private:
  EventQueue& queue_;
};

}  // namespace klaxon::ingest
