// StateWriter / StateReader: the byte layer of engine state snapshots (engine/README.md, "State
// snapshots"). Little-endian fixed-width integers, doubles as their IEEE bits, strings and
// arrays prefixed with a u32 length. The reader never reads or allocates past its input: every
// length is checked against the bytes left before anything is sized from it, and a failed read
// leaves the reader failed (all later reads return zeros). The engine's snapshots, and small
// service state saved beside them (service/shuffle_time.cpp); pure values, thread-compatible.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace klaxon {

class StateWriter {
 public:
  explicit StateWriter(std::string& out) : out_(out) {}

  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
    out_.append(b, 4);
  }
  void U64(uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
    out_.append(b, 8);
  }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void F64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    U64(bits);
  }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  size_t Size() const { return out_.size(); }
  // Overwrites a u64 written earlier at `pos` (section lengths known only afterwards).
  void PatchU64(size_t pos, uint64_t v) {
    for (int i = 0; i < 8; ++i) out_[pos + i] = static_cast<char>(v >> (8 * i));
  }

 private:
  std::string& out_;
};

class StateReader {
 public:
  explicit StateReader(std::string_view in) : in_(in) {}

  bool ok() const { return ok_; }
  size_t Left() const { return in_.size() - pos_; }
  void Fail() { ok_ = false; }

  uint8_t U8() {
    if (!Need(1)) return 0;
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<uint8_t>(in_[pos_ + i])) << (8 * i);
    pos_ += 4;
    return v;
  }
  uint64_t U64() {
    if (!Need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  double F64() {
    const uint64_t bits = U64();
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  std::string_view Bytes(size_t n) {
    if (!Need(n)) return {};
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view Str() { return Bytes(U32()); }
  // A count of elements that take at least `min_bytes` each: refused (reader failed, 0
  // returned) when the bytes left cannot hold them, so a corrupt count never sizes a buffer.
  uint32_t Count(size_t min_bytes) {
    const uint32_t n = U32();
    if (!ok_ || (min_bytes > 0 && n > Left() / min_bytes)) {
      ok_ = false;
      return 0;
    }
    return n;
  }

 private:
  bool Need(size_t n) {
    if (!ok_ || n > Left()) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace klaxon
