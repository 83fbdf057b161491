// Klaxon's non-cryptographic hashes, stable across builds and machines (unlike std::hash):
// FNV-1a 64 for rule ids, scale-out's routing of (rule, group) to partitions and small
// buffers, and a checksum of large buffers (state store parts). Pure; thread-safe.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace klaxon {

// The offset basis is 1469598103934665603, not FNV's 14695981039346656037 (a digit short), as
// Klaxon has always computed it: rule ids, and so the window state kept across reloads and
// restarts, depend on it. Do not "fix" it without migrating stored state.
constexpr uint64_t kFnvOffsetBasis = 1469598103934665603ull;

// Continues a hash `h` over more bytes: hashing a value made of parts needs no buffer
// (Fnv1a64Extend(Fnv1a64(a), b) == Fnv1a64(a + b)).
constexpr uint64_t Fnv1a64Extend(uint64_t h, std::string_view s) {
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

constexpr uint64_t Fnv1a64(std::string_view s) { return Fnv1a64Extend(kFnvOffsetBasis, s); }

// The checksum of buffers of megabytes (a state store's parts, read on every restart): FNV-1a's
// multiply on 8-byte words in four independent lanes, each mixed with a shift so that every bit
// reaches the low bits too, then folded with the tail and the length. Fnv1a64 costs a multiply
// per byte in one dependency chain (0.13 s for 124 MB here); this takes a tenth of that. Not a
// hash of identities: never use it where Fnv1a64 values are stored.
inline uint64_t WideChecksum64(std::string_view s) {
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t lanes[4] = {kFnvOffsetBasis, kFnvOffsetBasis ^ 1, kFnvOffsetBasis ^ 2,
                       kFnvOffsetBasis ^ 3};
  size_t i = 0;
  for (; i + 32 <= s.size(); i += 32) {
    for (int l = 0; l < 4; ++l) {
      uint64_t w;
      std::memcpy(&w, s.data() + i + 8 * l, 8);
      if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
      lanes[l] = (lanes[l] ^ w) * kPrime;
      lanes[l] ^= lanes[l] >> 29;
    }
  }
  uint64_t h = kFnvOffsetBasis;
  for (const uint64_t lane : lanes) {
    h = (h ^ lane) * kPrime;
    h ^= h >> 29;
  }
  for (; i < s.size(); ++i) {
    h ^= static_cast<unsigned char>(s[i]);
    h *= kPrime;
  }
  h = (h ^ s.size()) * kPrime;
  return h ^ (h >> 29);
}

}  // namespace klaxon
