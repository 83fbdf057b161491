// Source: where raw events come from (Kafka, a JSON Lines file, stdin).
//
// A source hands out records one at a time and is told, record by record, which ones are
// fully processed (evaluated, and every notification they caused in the durable outbox); only
// those may be committed. Sources never parse events. Not thread-safe: the run loop owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/status.h"

namespace klaxon::connectors {

// What happened to a partition, in order with its records (NextStatus::kPartition). Event time
// is per partition, so the run loop must see these exactly where they happen in the stream:
// an end seen before the records that precede it would let time pass them by.
enum class PartitionEvent : uint8_t {
  kNone,
  kAssigned,  // now consumed here; holds event time back until its first record or end
  kRevoked,   // no longer consumed here
  kEnd,       // caught up: nothing more to read right now (Kafka partition EOF)
};

struct Record {
  std::string_view payload;  // valid until the next call to Next()
  // The Kafka message's key, valid as long as `payload`; empty without one (and for files).
  // Dead letters keep it, so they can be produced back to their partition.
  std::string_view key;
  std::string topic;  // empty for files
  int32_t partition = -1;
  int64_t offset = -1;  // Kafka offset, or the 1-based line number for files
  int64_t broker_timestamp_ms = -1;
  // The record was larger than the source's limit: `payload` holds only its first bytes and the
  // rest was skipped (files), so memory stays bounded. The run loop rejects it as too large.
  bool truncated = false;
  PartitionEvent partition_event = PartitionEvent::kNone;  // set with NextStatus::kPartition
};

// A record's bytes kept alive after the source moved on (see Source::Hold). Move-only; the
// bytes are released when it is reset or destroyed, on whatever thread that happens.
class HeldPayload {
 public:
  using ReleaseFn = void (*)(void*);
  HeldPayload() = default;
  HeldPayload(void* owner, ReleaseFn release) : owner_(owner), release_(release) {}
  HeldPayload(HeldPayload&& other) noexcept
      : owner_(std::exchange(other.owner_, nullptr)), release_(other.release_) {}
  HeldPayload& operator=(HeldPayload&& other) noexcept {
    if (this != &other) {
      Reset();
      owner_ = std::exchange(other.owner_, nullptr);
      release_ = other.release_;
    }
    return *this;
  }
  HeldPayload(const HeldPayload&) = delete;
  HeldPayload& operator=(const HeldPayload&) = delete;
  ~HeldPayload() { Reset(); }

  explicit operator bool() const { return owner_ != nullptr; }
  void Reset() {
    if (owner_ != nullptr) release_(std::exchange(owner_, nullptr));
  }

 private:
  void* owner_ = nullptr;
  ReleaseFn release_ = nullptr;
};

enum class NextStatus {
  kRecord,  // *record is filled
  kIdle,    // nothing arrived within the timeout; call again (time may advance meanwhile)
  kEnd,     // the input is exhausted (files without follow mode)
  // *record names a partition (topic, partition) and what happened to it; no payload. Only
  // from sources asked to report partitions (KafkaSourceOptions::partition_events).
  kPartition,
};

class Source {
 public:
  virtual ~Source() = default;
  // Waits up to `timeout` for the next record.
  virtual Result<NextStatus> Next(std::chrono::milliseconds timeout, Record* record) = 0;
  // Keeps the payload of the record the last Next() returned valid past later calls, until the
  // returned handle releases it, so another thread can copy it (Kafka: the message itself). An
  // empty handle when the source cannot; the caller then copies before calling Next() again.
  virtual HeldPayload Hold() { return {}; }
  // Stops / restarts fetching one partition (event-time alignment). Records already handed to
  // the source's buffer may still come; after Resume reading goes on right after the last
  // record handed out, so nothing is skipped or read twice. No-ops where there are no
  // partitions.
  virtual void Pause(const std::string& /*topic*/, int32_t /*partition*/) {}
  virtual void Resume(const std::string& /*topic*/, int32_t /*partition*/) {}
  // Marks a record as processed; its position may be committed from now on.
  virtual void MarkProcessed(const Record& record) = 0;
  // Commits every processed position (Kafka: synchronous commit of stored offsets).
  virtual Status Commit() = 0;
  // Stops consuming and commits; idempotent.
  virtual Status Close() = 0;
};

}  // namespace klaxon::connectors
