// DecodePool: decodes batches of raw events on worker threads, handing them back in order.
//
// Decoding (simdjson's pass over the whole event) is most of the cost of an event and needs no
// engine state, so `klaxon replay` and `klaxon run` read records and evaluate on their own
// thread while the pool decodes on the other core(s). Batches come back strictly in the order
// they were submitted, so results are exactly those of processing one record at a time. The
// batches are recycled with their buffers: no allocation per event once warm.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "connectors/sentry_ingest_format.h"
#include "connectors/source.h"
#include "engine/engine.h"
#include "engine/event_decoder.h"

namespace klaxon::service {

class DecodePool {
 public:
  struct Item {
    DecodedEvent event;  // event.raw: the record's bytes (kept when decoding rejects them)
    // A record added with its source's bytes held: the worker copies them into event.raw and
    // releases them, so the copy is made on the decoding thread (not the caller's).
    connectors::HeldPayload held;
    std::string_view held_payload;
    std::string_view held_key;
    RejectReason reason = RejectReason::kNone;
    bool truncated = false;  // over the source's size limit: not decoded
    // With a message format (kafka.format sentry_ingest): a message of another type, counted
    // and passed over (its `type`; empty for events), or why a message was invalid_message.
    // event.raw keeps the message's own bytes whenever the event is rejected.
    std::string skipped_type;
    const char* detail = "";
    std::string topic;
    // The Kafka message's key, for its dead letter (empty without one); copied by the worker
    // from a held message, like its bytes.
    std::string key;
    int32_t partition = -1;
    int64_t offset = -1;  // Kafka offset, or line number for files
    int64_t broker_timestamp_ms = -1;
    // Not an event: a partition was assigned, revoked or caught up at this point of the stream
    // (connectors::NextStatus::kPartition). Workers leave it alone.
    connectors::PartitionEvent partition_event = connectors::PartitionEvent::kNone;
  };
  struct Batch {
    std::vector<Item> items;
    size_t size = 0;
    bool full() const { return size == items.size(); }
    // Copies the record, or with `held` set keeps only a view of its held bytes until a worker
    // copies them. Requires !full().
    void Add(const connectors::Record& record, connectors::HeldPayload held = {});
    // A partition event in stream order (record.partition_event). Requires !full().
    void AddPartitionEvent(const connectors::Record& record);
  };
  using DecoderFactory = std::function<std::unique_ptr<EventDecoder>()>;
  // Records in Relay's message format rather than event JSON: one converter per worker.
  using FormatFactory = std::function<std::unique_ptr<connectors::SentryIngestFormat>()>;

  static constexpr size_t kBatchSize = 128;

  // `batches` bounds the events in flight (batches * kBatchSize).
  DecodePool(const DecoderFactory& new_decoder, int workers, size_t batches,
             const FormatFactory& new_format = nullptr);
  ~DecodePool();  // stops and joins the workers
  DecodePool(const DecodePool&) = delete;
  DecodePool& operator=(const DecodePool&) = delete;

  // The caller's side; one thread only.
  bool HasFree() const { return !free_.empty(); }
  Batch* Open();              // an empty batch to fill; requires HasFree()
  void Cancel(Batch* batch);  // gives an unsubmitted batch back
  void Submit(Batch* batch);  // decodes it on a worker
  size_t InFlight() const { return in_flight_; }
  // The oldest submitted batch once decoded; nullptr when none is in flight, or when it is not
  // decoded yet and `wait` is false.
  Batch* TakeDecoded(bool wait);
  void Release(Batch* batch);  // after its items were processed

 private:
  struct Job {
    Batch* batch;
    bool done = false;
  };
  void Work(std::unique_ptr<EventDecoder> decoder,
            std::unique_ptr<connectors::SentryIngestFormat> format);
  struct Scratch {  // a worker's buffers for messages in a format
    std::string message;
    std::string json;
  };
  // Copies a held message's key and lets the source's bytes go.
  static void ReleaseHeld(Item& item);
  // Converts the item's message and decodes the event it carries.
  static void DecodeMessage(Item& item, EventDecoder& decoder,
                            connectors::SentryIngestFormat& format, Scratch& scratch);

  std::vector<std::unique_ptr<Batch>> batches_;
  std::vector<Batch*> free_;  // caller's thread only
  size_t in_flight_ = 0;      // caller's thread only

  std::mutex mu_;
  std::condition_variable work_;     // a job was queued, or stop
  std::condition_variable decoded_;  // a job finished
  std::deque<Job> jobs_;             // in submission order (guarded by mu_)
  size_t next_job_ = 0;              // first job not yet taken by a worker (guarded by mu_)
  bool stop_ = false;                // (guarded by mu_)
  std::vector<std::thread> workers_;
};

}  // namespace klaxon::service
