// Klaxon's one non-cryptographic string hash: FNV-1a 64, stable across builds and machines
// (unlike std::hash), for rule ids and scale-out's routing of (rule, group) to partitions.
// Pure; thread-safe.
#pragma once

#include <cstdint>
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

}  // namespace klaxon
