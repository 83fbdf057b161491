// GroupTable: a rule's group keys -> group slots. Internal to the engine.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "engine/time_math.h"

namespace klaxon {

// The hash of a group key in the table. std::hash is not stable across builds, so the table is
// rebuilt (never saved) when state is restored.
inline uint64_t KeyHash(std::string_view key) { return std::hash<std::string_view>{}(key); }

// Open-addressing (linear probing) map from a group key's hash to its slot; the key itself
// lives in the group. Power-of-two capacity at most half full; erase shifts entries back, so
// there are no tombstones. One probe usually touches one cache line, which can be prefetched.
class GroupTable {
 public:
  struct Entry {
    uint64_t hash = 0;
    uint32_t slot = kNil;
  };
  template <typename KeyOf>
  uint32_t Find(std::string_view key, uint64_t h, const KeyOf& key_of) const {
    if (entries_.empty()) return kNil;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.slot == kNil) return kNil;
      if (e.hash == h && key_of(e.slot) == key) return e.slot;
    }
  }
  void Insert(uint64_t h, uint32_t slot) {
    if ((size_ + 1) * 2 > entries_.size()) Grow();
    Place(h, slot);
    ++size_;
  }
  void Erase(uint64_t h, uint32_t slot) {
    size_t i = h & mask_;
    while (entries_[i].slot != slot) i = (i + 1) & mask_;
    for (size_t j = (i + 1) & mask_; entries_[j].slot != kNil; j = (j + 1) & mask_) {
      const size_t home = entries_[j].hash & mask_;
      if (((j - home) & mask_) >= ((j - i) & mask_)) {  // j may move back into the hole
        entries_[i] = entries_[j];
        i = j;
      }
    }
    entries_[i] = Entry();
    --size_;
  }
  // Room for `n` keys without growing (a restore knows how many come).
  void Reserve(size_t n) {
    if (n * 2 <= entries_.size()) return;
    size_t capacity = std::max<size_t>(16, entries_.size());
    while (capacity < n * 2) capacity *= 2;
    std::vector<Entry> old;
    old.swap(entries_);
    entries_.assign(capacity, Entry());
    mask_ = capacity - 1;
    for (const Entry& e : old) {
      if (e.slot != kNil) Place(e.hash, e.slot);
    }
  }
  // The slot whose entry has hash h, without comparing keys (for prefetching only).
  uint32_t Guess(uint64_t h) const {
    if (entries_.empty()) return kNil;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.slot == kNil || e.hash == h) return e.slot;
    }
  }
  void Prefetch(uint64_t h) const {
    if (!entries_.empty()) __builtin_prefetch(&entries_[h & mask_]);
  }
  size_t Bytes() const { return entries_.capacity() * sizeof(Entry); }

 private:
  void Place(uint64_t h, uint32_t slot) {
    size_t i = h & mask_;
    while (entries_[i].slot != kNil) i = (i + 1) & mask_;
    entries_[i] = Entry{h, slot};
  }
  void Grow() { Reserve(std::max<size_t>(8, entries_.size())); }
  std::vector<Entry> entries_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace klaxon
