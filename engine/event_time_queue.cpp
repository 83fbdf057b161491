#include "engine/event_time_queue.h"

#include <algorithm>
#include <functional>

namespace klaxon {

void SeqTracker::Add(uint64_t seq) {
  if (next_ - base_ >= done_.size()) Grow();
  done_[seq % done_.size()] = 0;
  next_ = seq + 1;
}

void SeqTracker::Done(uint64_t seq) {
  done_[seq % done_.size()] = 1;
  while (base_ < next_ && done_[base_ % done_.size()]) ++base_;
}

void SeqTracker::Restore(uint64_t next, const std::vector<uint64_t>& pending) {
  base_ = pending.empty() ? next : pending.front();
  next_ = next;
  size_t size = 1024;
  while (size <= next_ - base_) size *= 2;
  done_.assign(size, 1);
  for (uint64_t s : pending) done_[s % size] = 0;
}

void SeqTracker::Grow() {
  std::vector<uint8_t> bigger(std::max<size_t>(1024, done_.size() * 2), 1);
  for (uint64_t s = base_; s < next_; ++s) bigger[s % bigger.size()] = done_[s % done_.size()];
  done_.swap(bigger);
}

void EventTimeQueue::Hold(const Held& h) {
  held_.push_back(h);
  std::push_heap(held_.begin(), held_.end(), std::greater<>());
}

void EventTimeQueue::Schedule(const Timer& t) {
  timers_.push_back(t);
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
}

void EventTimeQueue::RestoreHeaps() {
  std::make_heap(timers_.begin(), timers_.end(), std::greater<>());
  std::make_heap(held_.begin(), held_.end(), std::greater<>());
}

bool EventTimeQueue::PopDue(int64_t target, Due& due) {
  const int64_t next_event = held_.empty() ? kNever : held_.front().time;
  const int64_t next_timer = timers_.empty() ? kNever : timers_.front().due;
  if (next_timer <= next_event && next_timer <= target) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
    due.is_timer = true;
    due.timer = timers_.back();
    timers_.pop_back();
    return true;
  }
  if (next_event <= target) {
    std::pop_heap(held_.begin(), held_.end(), std::greater<>());
    due.is_timer = false;
    due.held = held_.back();
    held_.pop_back();
    return true;
  }
  return false;
}

void EventTimeQueue::TakeTimeFrom(const EventTimeQueue& prev) {
  watermark_ = prev.watermark_;
  max_time_ = prev.max_time_;
  next_seq_ = prev.next_seq_;
  seqs_ = prev.seqs_;
}

void EventTimeQueue::RestoreTime(int64_t watermark, int64_t max_time, uint64_t next_seq,
                                 const std::vector<uint64_t>& pending) {
  watermark_ = watermark;
  max_time_ = max_time;
  next_seq_ = next_seq;
  seqs_.Restore(next_seq, pending);
}

}  // namespace klaxon
