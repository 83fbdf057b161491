// EventTimeQueue: what is waiting for event time to pass. Events held back for lateness (a heap
// by time, then arrival), group timers (a heap by due time, then rule and slot), the watermark
// and the accepted sequences not yet evaluated. The engine pops what is due and evaluates it;
// the queue decides only the order (engine/README.md, "Time, timers, watermark"). Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/time_math.h"

namespace klaxon {

struct Timer {
  int64_t due;
  uint32_t rule;
  uint32_t slot;
  uint32_t gen;  // the group's generation when scheduled: a newer one makes this timer stale
  bool operator>(const Timer& o) const {
    if (due != o.due) return due > o.due;
    if (rule != o.rule) return rule > o.rule;
    if (slot != o.slot) return slot > o.slot;
    return gen > o.gen;
  }
};

struct Held {
  int64_t time;
  uint64_t seq;
  uint32_t idx;  // the engine's pooled event
  bool operator>(const Held& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};

// Which accepted sequences are evaluated; a ring that only grows with the held backlog.
class SeqTracker {
 public:
  void Add(uint64_t seq);
  void Done(uint64_t seq);
  uint64_t Lowest() const { return base_; }
  // The tracker of a restored engine: every sequence below `next` is done except `pending`
  // (sorted, unique, below `next`: the held events).
  void Restore(uint64_t next, const std::vector<uint64_t>& pending);

 private:
  void Grow();
  std::vector<uint8_t> done_;
  uint64_t base_ = 1;
  uint64_t next_ = 1;
};

class EventTimeQueue {
 public:
  // What PopDue returned: a timer or a held event.
  struct Due {
    bool is_timer = false;
    Timer timer{};
    Held held{};
  };

  // An accepted event: takes the next sequence (not yet evaluated).
  uint64_t Accept() {
    const uint64_t seq = next_seq_++;
    seqs_.Add(seq);
    return seq;
  }
  // An accepted event that is done without being held (late).
  void Done(uint64_t seq) { seqs_.Done(seq); }
  void Hold(const Held& h);
  void Schedule(const Timer& t);
  // Adds timers without ordering them; RestoreHeaps orders them (and the held events) at once.
  void AddUnordered(const Timer& t) { timers_.push_back(t); }
  void AddUnordered(const Held& h) { held_.push_back(h); }
  void RestoreHeaps();

  // The next timer or held event due at or before `target`; timers first at equal times (a
  // window change due at t happens before an event stamped t is counted). False when none is.
  // A popped event stays unevaluated until Done(seq).
  bool PopDue(int64_t target, Due& due);

  void SeeEventTime(int64_t t) { max_time_ = t > max_time_ ? t : max_time_; }
  void RaiseWatermark(int64_t target) { watermark_ = target > watermark_ ? target : watermark_; }
  int64_t watermark() const { return watermark_; }
  int64_t max_time() const { return max_time_; }
  uint64_t next_seq() const { return next_seq_; }
  uint64_t LowestUnevaluated() const { return seqs_.Lowest(); }
  const std::vector<Held>& held() const { return held_; }  // heap order
  size_t HeldCount() const { return held_.size(); }

  // Reload: the times and sequences carry over; held events are re-added by the caller.
  void TakeTimeFrom(const EventTimeQueue& prev);
  void ClearHeld() { held_.clear(); }
  // Restore: time and sequences from a snapshot (`pending`: the held sequences, sorted).
  void RestoreTime(int64_t watermark, int64_t max_time, uint64_t next_seq,
                   const std::vector<uint64_t>& pending);

 private:
  std::vector<Held> held_;
  std::vector<Timer> timers_;
  SeqTracker seqs_;
  uint64_t next_seq_ = 1;
  int64_t watermark_ = kNone;
  int64_t max_time_ = kNone;
};

}  // namespace klaxon
