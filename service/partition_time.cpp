#include "service/partition_time.h"

#include <algorithm>

namespace klaxon::service {
namespace {

int64_t SatAdd(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

}  // namespace

PartitionTime::Partition* PartitionTime::Find(Key key) {
  if (last_ < partitions_.size() && partitions_[last_].key == key) return &partitions_[last_];
  for (size_t i = 0; i < partitions_.size(); ++i) {
    if (partitions_[i].key == key) {
      last_ = i;
      return &partitions_[i];
    }
  }
  return nullptr;
}

PartitionTime::Partition* PartitionTime::FindAssigned(Key key) {
  Partition* p = Find(key);
  return p != nullptr && p->assigned ? p : nullptr;
}

void PartitionTime::Assign(Key key) {
  Partition* p = Find(key);
  if (p == nullptr) {
    partitions_.push_back({key});
    ++active_;
  } else if (!p->assigned) {
    // Its time stays; it is not caught up or paused until it says so again.
    p->assigned = true;
    p->idle = false;
    p->paused = false;
    p->caught_up_since = kNone;
    ++active_;
  }
  Recompute();
}

void PartitionTime::Restore(Key key, int64_t time) {
  if (Find(key) != nullptr) return;
  Partition p{key};
  p.time = time;
  p.assigned = false;
  partitions_.push_back(p);
}

void PartitionTime::Revoke(Key key) {
  Partition* p = FindAssigned(key);
  if (p == nullptr) return;
  if (!p->idle) --active_;
  if (p->paused) --paused_;
  if (p->caught_up_since != kNone) --caught_up_;
  p->assigned = false;
  p->idle = false;
  p->paused = false;
  p->caught_up_since = kNone;
  Recompute();
}

void PartitionTime::Observe(Key key, int64_t event_time_ms) {
  Partition* p = FindAssigned(key);
  if (p == nullptr) return;
  bool recompute = false;
  if (p->caught_up_since != kNone) {
    p->caught_up_since = kNone;
    --caught_up_;
  }
  if (p->idle) {
    p->idle = false;
    ++active_;
    recompute = true;
  }
  if (event_time_ms > p->time) {
    // Only the slowest partition (or one without a time) moving on can move the minimum.
    recompute = recompute || p->time == kNone || p->time <= slowest_;
    p->time = event_time_ms;
  }
  if (recompute) Recompute();
}

void PartitionTime::End(Key key, int64_t now_ms, int64_t end_offset) {
  Partition* p = FindAssigned(key);
  if (p == nullptr || p->idle) return;
  p->end_offset = end_offset;
  if (p->time != kNone && idle_after_ms_ > 0) {
    if (p->caught_up_since == kNone) ++caught_up_;
    p->caught_up_since = now_ms;
    return;
  }
  p->idle = true;  // empty so far: nothing of it can be overtaken
  --active_;
  Recompute();
}

void PartitionTime::ExpireIdle(int64_t now_ms, std::vector<Partition>& expired) {
  if (caught_up_ == 0) return;
  bool changed = false;
  for (Partition& p : partitions_) {
    if (!p.assigned || p.caught_up_since == kNone || now_ms - p.caught_up_since < idle_after_ms_) {
      continue;
    }
    p.caught_up_since = kNone;
    --caught_up_;
    p.idle = true;
    --active_;
    changed = true;
    expired.push_back(p);
  }
  if (changed) Recompute();
}

void PartitionTime::Recompute() {
  int64_t slowest = kNone;
  int64_t newest = kNone;
  bool unknown = false;
  for (const Partition& p : partitions_) {
    if (!p.assigned) continue;
    if (p.time != kNone) newest = std::max(newest, p.time);
    if (p.idle) continue;
    if (p.time == kNone) {
      unknown = true;
    } else if (slowest == kNone || p.time < slowest) {
      slowest = p.time;
    }
  }
  slowest_ = slowest;
  if (active_ == 0) {
    watermark_ = newest;
  } else {
    watermark_ = unknown ? kNone : slowest;
  }
}

void PartitionTime::TakeAlignment(std::vector<Key>& pause, std::vector<Key>& resume) {
  if (max_ahead_ms_ <= 0) return;
  for (Partition& p : partitions_) {
    if (!p.assigned) continue;
    if (p.paused) {
      // The slowest itself, or within half the bound of it (hysteresis: no pause-resume churn).
      if (slowest_ == kNone || p.time <= SatAdd(slowest_, max_ahead_ms_ / 2)) {
        p.paused = false;
        --paused_;
        resume.push_back(p.key);
      }
    } else if (!p.idle && p.time != kNone && slowest_ != kNone &&
               p.time > SatAdd(slowest_, max_ahead_ms_)) {
      p.paused = true;
      ++paused_;
      pause.push_back(p.key);
    }
  }
}

}  // namespace klaxon::service
