#include "ingest/event_queue.h"

namespace klaxon::ingest {

bool EventQueue::TryPush(std::string& event) {
  {
    std::lock_guard lock(mu_);
    if (closed_ || events_.size() >= max_events_ || bytes_ + event.size() > max_bytes_) {
      return false;
    }
    bytes_ += event.size();
    events_.push_back(std::move(event));
  }
  cv_.notify_one();
  return true;
}

bool EventQueue::Pop(std::chrono::milliseconds timeout, std::string* event) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty() || closed_; })) return false;
  if (events_.empty()) return false;
  *event = std::move(events_.front());
  events_.pop_front();
  bytes_ -= event->size();
  return true;
}

void EventQueue::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

size_t EventQueue::size() const {
  std::lock_guard lock(mu_);
  return events_.size();
}

size_t EventQueue::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace klaxon::ingest
