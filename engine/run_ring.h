// RunRing: event times as runs of (time, count), for the windows that do not keep one timestamp
// per event (large counts, change, ratio). Internal to the engine.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace klaxon {

struct Run {
  int64_t ts;
  uint64_t count;
};

// Runs of (time, count), oldest first. Runs closer than `merge_ms` are merged into the later
// time, so an event may be counted up to merge_ms - 1 too long (never too short).
struct RunRing {
  std::vector<Run> runs;
  size_t head = 0;
  uint64_t total = 0;

  bool empty() const { return head == runs.size(); }
  const Run& front() const { return runs[head]; }
  void Push(int64_t t, int64_t merge_ms) {
    if (!empty() && t - runs.back().ts < merge_ms) {
      runs.back().ts = std::max(runs.back().ts, t);
      ++runs.back().count;
    } else {
      runs.push_back({t, 1});
    }
    ++total;
  }
  void PopFront() {
    total -= runs[head].count;
    ++head;
    if (head == runs.size()) {
      runs.clear();
      head = 0;
    } else if (head > 64 && head * 2 > runs.size()) {
      runs.erase(runs.begin(), runs.begin() + static_cast<ptrdiff_t>(head));
      head = 0;
    }
  }
  void Expire(int64_t cutoff) {  // drop runs with ts <= cutoff
    while (!empty() && runs[head].ts <= cutoff) PopFront();
  }
  void TrimKeep(uint64_t k) {  // keep only what is needed to know whether total >= k
    while (!empty() && total - runs[head].count >= k) PopFront();
  }
  uint64_t CountIn(int64_t lo, int64_t hi) const {  // (lo, hi]
    uint64_t n = 0;
    for (size_t i = head; i < runs.size(); ++i) {
      if (runs[i].ts > lo && runs[i].ts <= hi) n += runs[i].count;
    }
    return n;
  }
  size_t Bytes() const { return sizeof(*this) + runs.capacity() * sizeof(Run); }
};

}  // namespace klaxon
