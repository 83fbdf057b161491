#include "cli/decoding_reader.h"

#include <pthread.h>

#include <utility>

namespace klaxon::cli {

DecodingReader::DecodingReader(connectors::Source& source, const DecoderFactory& new_decoder,
                               int workers)
    : source_(source) {
  if (workers < 1) workers = 1;
  for (size_t i = 0; i < kBatchesPerWorker * static_cast<size_t>(workers); ++i) {
    auto batch = std::make_unique<Batch>();
    batch->items.resize(kBatch);
    free_.push_back(std::move(batch));
  }
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this, decoder = new_decoder()]() mutable { Work(std::move(decoder)); });
  }
}

DecodingReader::~DecodingReader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : workers_) t.join();
}

bool DecodingReader::Fill(Batch& batch) {
  connectors::Record record;
  batch.size = 0;
  while (batch.size < kBatch) {
    Result<connectors::NextStatus> next = source_.Next(std::chrono::milliseconds(1000), &record);
    if (!next.ok()) {
      batch.error = next.status();
      return false;
    }
    if (*next == connectors::NextStatus::kEnd) return false;
    if (*next != connectors::NextStatus::kRecord) {
      if (batch.size > 0) break;  // slow input (stdin): hand over what is there
      continue;
    }
    Item& item = batch.items[batch.size++];
    item.offset = record.offset;
    item.truncated = record.truncated;
    if (!record.truncated) EventDecoder::ReserveRaw(record.payload, item.event);
  }
  return true;
}

void DecodingReader::Work(std::unique_ptr<EventDecoder> decoder) {
  pthread_setname_np(pthread_self(), "klaxon-decode");  // as `top -H` shows it
  while (true) {
    std::unique_ptr<Batch> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(lock, [&] { return stop_ || !free_.empty(); });
      if (stop_) return;
      batch = std::move(free_.back());
      free_.pop_back();
    }
    uint64_t seq = 0;
    {
      std::lock_guard<std::mutex> lock(source_mu_);
      if (source_done_) {
        std::lock_guard<std::mutex> back(mu_);
        free_.push_back(std::move(batch));
        return;
      }
      batch->error = Status::Ok();
      batch->last = !Fill(*batch);
      source_done_ = batch->last;
      seq = read_seq_++;
    }
    // The expensive part, in parallel with the other workers.
    for (size_t i = 0; i < batch->size; ++i) {
      Item& item = batch->items[i];
      item.reason = item.truncated ? RejectReason::kTooLarge : decoder->DecodeInPlace(item.event);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_[seq] = std::move(batch);
    }
    changed_.notify_all();
  }
}

Result<DecodingReader::Item*> DecodingReader::Next() {
  while (true) {
    if (current_ && next_item_ < current_->size) return &current_->items[next_item_++];
    std::unique_lock<std::mutex> lock(mu_);
    if (current_) {
      const bool last = current_->last;
      Status error = current_->error;
      free_.push_back(std::move(current_));
      changed_.notify_all();
      if (last) {
        ended_ = true;
        if (!error.ok()) return error;
      }
    }
    if (ended_) return static_cast<Item*>(nullptr);
    changed_.wait(lock, [&] { return ready_.count(out_seq_) > 0; });
    auto it = ready_.find(out_seq_++);
    current_ = std::move(it->second);
    ready_.erase(it);
    next_item_ = 0;
  }
}

}  // namespace klaxon::cli
