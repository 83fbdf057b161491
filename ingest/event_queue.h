// The bounded hand-over between the HTTP threads (producers) and the run loop (the consumer):
// at most `max_events` events and `max_bytes` bytes. A full queue refuses at once (the endpoint
// answers 503), so memory never grows with a slow pipeline. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace klaxon::ingest {

class EventQueue {
 public:
  EventQueue(size_t max_events, size_t max_bytes)
      : max_events_(max_events), max_bytes_(max_bytes) {}

  // False when the queue is full (or closed); `event` is then left untouched.
  bool TryPush(std::string& event);
  // Waits up to `timeout` for an event; false when none came.
  bool Pop(std::chrono::milliseconds timeout, std::string* event);
  // Refuses further pushes and wakes a waiting Pop.
  void Close();

  size_t size() const;
  size_t bytes() const;

 private:
  const size_t max_events_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> events_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

}  // namespace klaxon::ingest
