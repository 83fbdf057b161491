#include "service/decode_pool.h"

#include <pthread.h>

#include <utility>

namespace klaxon::service {

void DecodePool::Batch::Add(const connectors::Record& record, connectors::HeldPayload held) {
  Item& item = items[size++];
  item.truncated = record.truncated;
  item.topic.assign(record.topic);
  item.partition = record.partition;
  item.offset = record.offset;
  item.broker_timestamp_ms = record.broker_timestamp_ms;
  item.partition_event = connectors::PartitionEvent::kNone;
  item.held = std::move(held);
  if (item.held) {
    item.held_payload = record.payload;
    item.held_key = record.key;
  } else {
    EventDecoder::ReserveRaw(record.payload, item.event);
    item.key.assign(record.key);
  }
}

void DecodePool::Batch::AddPartitionEvent(const connectors::Record& record) {
  Item& item = items[size++];
  item.truncated = false;
  item.topic.assign(record.topic);
  item.partition = record.partition;
  item.offset = record.offset;
  item.broker_timestamp_ms = -1;
  item.partition_event = record.partition_event;
  item.held.Reset();
  item.reason = RejectReason::kNone;
}

DecodePool::DecodePool(const DecoderFactory& new_decoder, int workers, size_t batches,
                       const FormatFactory& new_format) {
  if (workers < 1) workers = 1;
  if (batches < 2) batches = 2;
  for (size_t i = 0; i < batches; ++i) {
    batches_.push_back(std::make_unique<Batch>());
    batches_.back()->items.resize(kBatchSize);
    free_.push_back(batches_.back().get());
  }
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back(
        [this, decoder = new_decoder(), format = new_format ? new_format() : nullptr]() mutable {
          Work(std::move(decoder), std::move(format));
        });
  }
}

DecodePool::~DecodePool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  for (std::thread& t : workers_) t.join();
}

DecodePool::Batch* DecodePool::Open() {
  Batch* batch = free_.back();
  free_.pop_back();
  batch->size = 0;
  return batch;
}

void DecodePool::Cancel(Batch* batch) { free_.push_back(batch); }

void DecodePool::Submit(Batch* batch) {
  ++in_flight_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back({batch});
  }
  work_.notify_one();
}

DecodePool::Batch* DecodePool::TakeDecoded(bool wait) {
  if (in_flight_ == 0) return nullptr;
  std::unique_lock<std::mutex> lock(mu_);
  if (!jobs_.front().done) {
    if (!wait) return nullptr;
    decoded_.wait(lock, [&] { return jobs_.front().done; });
  }
  Batch* batch = jobs_.front().batch;
  jobs_.pop_front();
  --next_job_;  // the front job was taken by a worker, so next_job_ > 0
  --in_flight_;
  return batch;
}

void DecodePool::Release(Batch* batch) { free_.push_back(batch); }

void DecodePool::DecodeMessage(Item& item, EventDecoder& decoder,
                               connectors::SentryIngestFormat& format, Scratch& scratch) {
  using Kind = connectors::SentryIngestFormat::Kind;
  item.skipped_type.clear();
  item.detail = "";
  std::string_view message = item.held_payload;
  if (!item.held) {  // the message was copied into event.raw: keep it aside
    scratch.message.swap(item.event.raw);
    message = scratch.message;
  }
  if (item.truncated) {
    EventDecoder::ReserveRaw(message, item.event);
    item.reason = RejectReason::kTooLarge;
  } else {
    const connectors::SentryIngestFormat::Outcome o = format.ToEventJson(message, &scratch.json);
    if (o.kind == Kind::kEvent) {
      EventDecoder::ReserveRaw(scratch.json, item.event);
      item.reason = decoder.DecodeInPlace(item.event);
      // Dead letters carry the message's own bytes, not the JSON taken out of it.
      if (item.reason != RejectReason::kNone) EventDecoder::ReserveRaw(message, item.event);
    } else {
      EventDecoder::ReserveRaw(message, item.event);
      item.reason = o.kind == Kind::kSkipped ? RejectReason::kNone : RejectReason::kInvalidMessage;
      if (o.kind == Kind::kSkipped) item.skipped_type.assign(o.type);
      item.detail = o.error;
    }
  }
  ReleaseHeld(item);
}

void DecodePool::ReleaseHeld(Item& item) {
  if (!item.held) return;
  item.key.assign(item.held_key);  // reuses the string's capacity
  item.held.Reset();               // the source's bytes are not needed any more
}

void DecodePool::Work(std::unique_ptr<EventDecoder> decoder,
                      std::unique_ptr<connectors::SentryIngestFormat> format) {
  pthread_setname_np(pthread_self(), "klaxon-decode");  // as `top -H` shows it
  Scratch scratch;                                      // with a format
  while (true) {
    Batch* batch = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_.wait(lock, [&] { return stop_ || next_job_ < jobs_.size(); });
      if (stop_) return;
      batch = jobs_[next_job_++].batch;
    }
    for (size_t i = 0; i < batch->size; ++i) {
      Item& item = batch->items[i];
      if (item.partition_event != connectors::PartitionEvent::kNone) continue;
      if (format) {
        DecodeMessage(item, *decoder, *format, scratch);
        continue;
      }
      if (item.held) {
        EventDecoder::ReserveRaw(item.held_payload, item.event);
        ReleaseHeld(item);
      }
      item.reason = item.truncated ? RejectReason::kTooLarge : decoder->DecodeInPlace(item.event);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Jobs before this one may have been taken meanwhile: find it by its batch.
      for (Job& j : jobs_) {
        if (j.batch == batch) {
          j.done = true;
          break;
        }
      }
    }
    decoded_.notify_one();
  }
}

}  // namespace klaxon::service
