#include "actions/delivery_history.h"

namespace klaxon::actions {

namespace {

std::string IndexKey(const std::string& action, const std::string& key) {
  return action + '\n' + key;
}

}  // namespace

void DeliveryHistory::Add(NotificationRecord record, const std::vector<std::string>& keys) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mu_);
  // The same notification submitted again (the run loop retries a batch the outbox refused)
  // is listed once.
  for (size_t i = 0; i < record.deliveries.size() && i < keys.size(); ++i) {
    if (!keys[i].empty() && index_.count(IndexKey(record.deliveries[i].action, keys[i])) != 0) {
      return;
    }
  }
  Slot slot;
  slot.seq = next_seq_++;
  for (size_t i = 0; i < record.deliveries.size() && i < keys.size(); ++i) {
    if (keys[i].empty()) continue;
    std::string k = IndexKey(record.deliveries[i].action, keys[i]);
    index_[k] = {slot.seq, i};
    slot.index_keys.push_back(std::move(k));
  }
  slot.record = std::move(record);
  slots_.push_back(std::move(slot));
  while (slots_.size() > capacity_) {
    for (const std::string& k : slots_.front().index_keys) {
      auto it = index_.find(k);
      if (it != index_.end() && it->second.first == slots_.front().seq) index_.erase(it);
    }
    slots_.pop_front();
  }
}

void DeliveryHistory::Update(const std::string& action, const std::string& idempotency_key,
                             const std::string& state, const std::string& detail) {
  std::lock_guard lock(mu_);
  auto it = index_.find(IndexKey(action, idempotency_key));
  if (it == index_.end() || slots_.empty()) return;
  const uint64_t first = slots_.front().seq;
  if (it->second.first < first) return;
  Slot& slot = slots_[static_cast<size_t>(it->second.first - first)];
  DeliveryRecord& d = slot.record.deliveries[it->second.second];
  d.state = state;
  d.detail = detail;
}

std::vector<NotificationRecord> DeliveryHistory::Newest() const {
  std::lock_guard lock(mu_);
  std::vector<NotificationRecord> out;
  out.reserve(slots_.size());
  for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) out.push_back(it->record);
  return out;
}

}  // namespace klaxon::actions
