// `source: sentry`: the events the endpoint accepted, handed to the run loop as a
// connectors::Source. Records have no topic, partition -1 (one stream, like stdin) and offsets
// counting from 1. Nothing is committed anywhere: an event answered 200 lives only in the queue
// and in the engine's state until a checkpoint covers it (see ingest/README.md for what a crash
// can lose). Not thread-safe, like every Source: the run loop owns it; the queue is shared.
#pragma once

#include <string>

#include "connectors/source.h"
#include "ingest/event_queue.h"

namespace klaxon::ingest {

class QueueSource : public connectors::Source {
 public:
  explicit QueueSource(EventQueue& queue) : queue_(queue) {}

  Result<connectors::NextStatus> Next(std::chrono::milliseconds timeout,
                                      connectors::Record* record) override;
  void MarkProcessed(const connectors::Record&) override {}
  Status Commit() override { return Status::Ok(); }
  // Closes the queue: the endpoint answers 503 from now on. Idempotent.
  Status Close() override {
    queue_.Close();
    return Status::Ok();
  }

 private:
  EventQueue& queue_;
  std::string current_;  // the payload of the last record, valid until the next Next()
  int64_t offset_ = 0;
};

}  // namespace klaxon::ingest
