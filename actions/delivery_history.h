// DeliveryHistory: the last notifications submitted and what became of each per action
// (queued, delivered, coalesced into one request with others, retrying with its next attempt,
// given up with the reason, silenced),
// for the status page. Bounded: the oldest are forgotten. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace klaxon::actions {

struct DeliveryRecord {
  std::string action;
  std::string state;  // queued, delivered, coalesced, retrying, given up, silenced
  // retrying: the reason and next attempt; given up: the reason; coalesced: with how many
  std::string detail;
};

struct NotificationRecord {
  int64_t at_ms = 0;  // event time of the state change
  std::string rule;
  std::string group;  // "service=orders-api environment=production"
  std::string state;  // firing, repeat, resolved
  std::vector<DeliveryRecord> deliveries;
};

class DeliveryHistory {
 public:
  explicit DeliveryHistory(size_t capacity) : capacity_(capacity) {}

  // `keys[i]` is the idempotency key of deliveries[i] (empty for one never enqueued). A record
  // with a key already listed is the same notification submitted again and is not added.
  void Add(NotificationRecord record, const std::vector<std::string>& keys);
  void Update(const std::string& action, const std::string& idempotency_key,
              const std::string& state, const std::string& detail);
  std::vector<NotificationRecord> Newest() const;  // newest first

 private:
  struct Slot {
    uint64_t seq = 0;
    NotificationRecord record;
    std::vector<std::string> index_keys;
  };
  mutable std::mutex mu_;
  size_t capacity_;
  uint64_t next_seq_ = 0;
  std::deque<Slot> slots_;
  // action + '\n' + idempotency key -> (seq, delivery index)
  std::map<std::string, std::pair<uint64_t, size_t>> index_;
};

}  // namespace klaxon::actions
