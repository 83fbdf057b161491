#include "service/partition_time.h"

#include <algorithm>

namespace klaxon::service {
namespace {

int64_t SatAdd(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

bool Holds(const PartitionTime::Partition& p) {
  return (p.assigned || p.held_since != PartitionTime::kNone) && !p.idle;
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
  } else if (!p->assigned) {
    // Its time stays; it is not caught up, idle or paused until it says so again.
    p->assigned = true;
    p->held_since = kNone;
    p->idle = false;
    p->paused = false;
    p->caught_up_since = kNone;
  }
  Recompute();
}

void PartitionTime::Revoke(Key key, int64_t now_ms) {
  Partition* p = FindAssigned(key);
  if (p == nullptr) return;
  p->assigned = false;
  p->paused = false;
  p->caught_up_since = kNone;
  // An idle one held nothing back; a busy one goes on holding until it expires.
  p->held_since = p->idle || idle_after_ms_ <= 0 ? kNone : now_ms;
  p->hold_ms = idle_after_ms_;
  p->idle = false;
  Recompute();
}

void PartitionTime::Restore(Key key, int64_t time, int64_t now_ms) {
  if (Find(key) != nullptr) return;
  Partition p{key};
  p.time = time;
  p.assigned = false;
  if (unassigned_hold_ms_ > 0) {
    p.held_since = now_ms;
    p.hold_ms = unassigned_hold_ms_;
  }
  partitions_.push_back(p);
  Recompute();
}

void PartitionTime::Rewind(Key key, int64_t time) {
  Partition* p = Find(key);
  if (p == nullptr) return;
  p->time = time;
  if (p->assigned) {
    p->caught_up_since = kNone;
    p->idle = false;
  }
  Recompute();
}

void PartitionTime::Observe(Key key, int64_t event_time_ms) {
  Partition* p = FindAssigned(key);
  if (p == nullptr) return;
  bool recompute = false;
  if (p->caught_up_since != kNone || p->idle) {
    p->caught_up_since = kNone;
    p->idle = false;
    recompute = true;
  }
  event_time_ms = std::min(event_time_ms, max_time_ms_);
  if (event_time_ms > p->time) {
    // Only the slowest partition (or one without a time) moving on can move the minimum.
    recompute = recompute || p->time == kNone || p->time <= slowest_;
    p->time = event_time_ms;
  }
  if (recompute) Recompute();
}

void PartitionTime::Written(Key key, int64_t written_ms) {
  if (Partition* p = FindAssigned(key)) p->written_ms = written_ms;
}

bool PartitionTime::BacklogElsewhere(Key key, int64_t now_ms,
                                     const std::function<bool(Key)>& behind) const {
  for (const Partition& p : partitions_) {
    // Being read (or paused while being read), not waiting at its own end.
    if (!p.assigned || p.key == key || p.idle || p.caught_up_since != kNone) continue;
    if (p.written_ms == kNone || p.written_ms > now_ms - kBacklogAgeMs) continue;
    if (behind(p.key)) return true;
  }
  return false;
}

void PartitionTime::End(Key key, int64_t now_ms, int64_t end_offset,
                        const std::function<bool(Key)>& behind) {
  Partition* p = FindAssigned(key);
  if (p == nullptr || p->idle) return;
  p->end_offset = end_offset;
  if (wait_before_idle_ ||
      (p->time != kNone && idle_after_ms_ > 0 && !BacklogElsewhere(key, now_ms, behind))) {
    p->caught_up_since = now_ms;
  } else {
    // Empty so far, or a backlog elsewhere is read first: nothing it gets next can be
    // overtaken by what is being read.
    p->caught_up_since = kNone;
    p->idle = true;
  }
  Recompute();
}

void PartitionTime::ExpireIdle(int64_t now_ms, std::vector<Partition>& expired) {
  if (waiting_ == 0) return;
  bool changed = false;
  for (Partition& p : partitions_) {
    if (p.held_since != kNone && now_ms - p.held_since >= p.hold_ms) {
      p.held_since = kNone;  // given to another consumer for good
      changed = true;
      expired.push_back(p);
    }
    if (!p.assigned || p.caught_up_since == kNone || now_ms - p.caught_up_since < idle_after_ms_) {
      continue;
    }
    p.caught_up_since = kNone;
    p.idle = true;
    changed = true;
    expired.push_back(p);
  }
  if (changed) Recompute();
}

void PartitionTime::Recompute() {
  int64_t slowest = kNone;
  int64_t reading = kNone;
  int64_t newest = kNone;
  bool unknown = false;
  active_ = paused_ = waiting_ = 0;
  for (const Partition& p : partitions_) {
    if (p.paused) ++paused_;
    if ((p.assigned && p.caught_up_since != kNone) || p.held_since != kNone) ++waiting_;
    if (p.assigned && p.time != kNone) newest = std::max(newest, p.time);
    if (!Holds(p)) continue;
    ++active_;
    if (p.time == kNone) {
      unknown = true;
    } else {
      if (slowest == kNone || p.time < slowest) slowest = p.time;
      if (p.caught_up_since == kNone && (reading == kNone || p.time < reading)) reading = p.time;
    }
  }
  slowest_ = slowest;
  reading_ = reading;
  if (active_ == 0) {
    watermark_ = newest;
  } else {
    watermark_ = unknown ? kNone : slowest;
  }
}

void PartitionTime::TakeAlignment(std::vector<Key>& pause, std::vector<Key>& resume) {
  if (max_ahead_ms_ <= 0) return;
  // Observe keeps only the minimum over all partitions current; the one still being read may
  // have jumped ahead since (a partition's next chunk of a backlog), and a stale one would
  // pause it without resuming the next one, leaving nothing to read.
  Recompute();
  // Measured from the partitions still being read: one caught up and waiting out its idleness
  // pauses nobody, or every other partition would wait with it. What they read meanwhile is
  // held for at most idle_after_ms, and only live (a backlog elsewhere ends the wait at once).
  const int64_t from = reading_;
  bool changed = false;
  for (Partition& p : partitions_) {
    if (!p.assigned) continue;
    if (p.paused) {
      // The slowest itself, or within half the bound of it (hysteresis: no pause-resume churn).
      if (from == kNone || p.time <= SatAdd(from, max_ahead_ms_ / 2)) {
        p.paused = false;
        changed = true;
        resume.push_back(p.key);
      }
    } else if (!p.idle && p.time != kNone && from != kNone &&
               p.time > SatAdd(from, max_ahead_ms_)) {
      p.paused = true;
      changed = true;
      pause.push_back(p.key);
    }
  }
  if (changed) Recompute();
}

}  // namespace klaxon::service
