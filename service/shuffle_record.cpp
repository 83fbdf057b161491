#include "service/shuffle_record.h"

#include <cstdint>
#include <cstdio>

namespace klaxon::service {
namespace {

// Record flags; a decoder refuses bits it does not know (they would mean something it ignores).
constexpr uint8_t kNumerator = 1;
constexpr uint8_t kDenominator = 2;
constexpr uint8_t kHasEvent = 4;
constexpr uint8_t kRecordFlags = kNumerator | kDenominator | kHasEvent;
// Mark flags.
constexpr uint8_t kIdle = 1;
constexpr uint8_t kMarkFlags = kIdle;

constexpr size_t kMaxVarintBytes = 10;  // 64 bits, 7 per byte

void PutVarint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void PutSigned(int64_t v, std::string& out) {
  // Zigzag: small magnitudes of either sign take few bytes.
  PutVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63), out);
}
void PutBytes(std::string_view s, std::string& out) {
  PutVarint(s.size(), out);
  out.append(s);
}

void PutHeader(ShuffleKind kind, const ShuffleSource& source, std::string& out) {
  out.push_back(static_cast<char>(kShuffleVersion));
  out.push_back(static_cast<char>(kind));
  PutBytes(source.topic, out);
  PutSigned(source.partition, out);
  PutSigned(source.offset, out);
  PutSigned(source.partition_time_ms, out);
}

// Reads a message front to back; the first problem is kept and every later read fails.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t Left() const { return in_.size() - pos_; }
  void Fail(std::string message) {
    if (ok()) error_ = "repartition message: " + std::move(message);
  }

  uint8_t Byte(const char* what) {
    if (!ok()) return 0;
    if (Left() < 1) {
      Fail(std::string("truncated in ") + what);
      return 0;
    }
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t Varint(const char* what) {
    uint64_t v = 0;
    for (size_t i = 0; i < kMaxVarintBytes && ok(); ++i) {
      const uint8_t b = Byte(what);
      if (i == kMaxVarintBytes - 1 && b > 1) {
        Fail(std::string(what) + ": varint beyond 64 bits");
        break;
      }
      v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) return v;
    }
    return 0;
  }
  int64_t Signed(const char* what) {
    const uint64_t z = Varint(what);
    return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  std::string_view Bytes(const char* what) { return Bytes(what, Varint(what)); }
  std::string_view Bytes(const char* what, uint64_t n) {
    if (!ok()) return {};
    if (n > Left()) {
      Fail(std::string(what) + " of " + std::to_string(n) + " bytes, past the end (" +
           std::to_string(Left()) + " left)");
      return {};
    }
    const std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // A count of entries taking at least one byte each: refused when the bytes left cannot hold
  // them, before anything is sized from it.
  size_t Count(const char* what) {
    const uint64_t n = Varint(what);
    if (ok() && n > Left()) {
      Fail(std::string(what) + ": " + std::to_string(n) + " entries cannot fit in the " +
           std::to_string(Left()) + " bytes left");
      return 0;
    }
    return ok() ? static_cast<size_t>(n) : 0;
  }
  uint8_t Flags(const char* what, uint8_t known) {
    const uint8_t f = Byte(what);
    if (ok() && (f & ~known) != 0) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x", static_cast<unsigned>(f));
      Fail(std::string("unknown ") + what + " " + hex);
    }
    return f;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  std::string error_;
};

void ReadSource(Reader& r, ShuffleSource& source) {
  source.topic = r.Bytes("input topic");
  const int64_t partition = r.Signed("input partition");
  if (r.ok() && (partition < 0 || partition > INT32_MAX)) {
    r.Fail("input partition " + std::to_string(partition) + " out of range");
  }
  source.partition = static_cast<int32_t>(partition);
  source.offset = r.Signed("input offset");
  if (r.ok() && source.offset < -1) {
    r.Fail("input offset " + std::to_string(source.offset) + " out of range");
  }
  source.partition_time_ms = r.Signed("partition time");
}

}  // namespace

void EncodeShuffleRecord(const ShuffleRecord& record, std::string& out) {
  PutHeader(ShuffleKind::kRecord, record.source, out);
  uint8_t flags = 0;
  if (record.numerator) flags |= kNumerator;
  if (record.denominator) flags |= kDenominator;
  if (record.event_json.has_value()) flags |= kHasEvent;
  out.push_back(static_cast<char>(flags));
  PutSigned(record.event_time_ms, out);
  PutBytes(record.rule_id, out);
  PutVarint(record.group.size(), out);
  for (const auto& value : record.group) {
    // 0: absent; n + 1: a value of n bytes (an empty value is not an absent one).
    PutVarint(value.has_value() ? value->size() + 1 : 0, out);
    if (value.has_value()) out.append(*value);
  }
  PutBytes(record.event_id, out);
  PutVarint(record.values.size(), out);
  for (const std::string_view value : record.values) PutBytes(value, out);
  if (record.event_json.has_value()) PutBytes(*record.event_json, out);
}

void EncodeShuffleMark(const ShuffleMark& mark, std::string& out) {
  PutHeader(ShuffleKind::kMark, mark.source, out);
  out.push_back(static_cast<char>(mark.idle ? kIdle : 0));
}

Result<ShuffleKind> DecodeShuffle(std::string_view bytes, ShuffleRecord& record,
                                  ShuffleMark& mark) {
  Reader r(bytes);
  if (bytes.empty()) return Status::InvalidArgument("repartition message: empty");
  const uint8_t version = r.Byte("version");
  if (version < kShuffleOldestVersion || version > kShuffleVersion) {
    return Status::InvalidArgument("repartition message: version " + std::to_string(version) +
                                   "; this Klaxon reads versions " +
                                   std::to_string(kShuffleOldestVersion) + " to " +
                                   std::to_string(kShuffleVersion));
  }
  const uint8_t kind_byte = r.Byte("kind");
  if (r.ok() && kind_byte != static_cast<uint8_t>(ShuffleKind::kRecord) &&
      kind_byte != static_cast<uint8_t>(ShuffleKind::kMark)) {
    r.Fail("unknown kind " + std::to_string(kind_byte));
  }
  const auto kind = static_cast<ShuffleKind>(kind_byte);
  ShuffleSource source;
  ReadSource(r, source);
  if (kind == ShuffleKind::kMark) {
    const uint8_t flags = r.Flags("mark flags", kMarkFlags);
    if (r.ok()) {
      mark.source = source;
      mark.idle = (flags & kIdle) != 0;
    }
  } else {
    record.source = source;
    const uint8_t flags = r.Flags("record flags", kRecordFlags);
    record.numerator = (flags & kNumerator) != 0;
    record.denominator = (flags & kDenominator) != 0;
    record.event_time_ms = r.Signed("event time");
    record.rule_id = r.Bytes("rule id");
    const size_t fields = r.Count("group");
    record.group.clear();
    for (size_t i = 0; i < fields && r.ok(); ++i) {
      const uint64_t tag = r.Varint("group value");
      if (tag == 0) {
        record.group.emplace_back(std::nullopt);
      } else {
        const std::string_view value = r.Bytes("group value", tag - 1);
        record.group.emplace_back(value);
      }
    }
    record.event_id = r.Bytes("event id");
    const size_t values = r.Count("values");
    record.values.clear();
    for (size_t i = 0; i < values && r.ok(); ++i) record.values.push_back(r.Bytes("value"));
    record.event_json.reset();
    if ((flags & kHasEvent) != 0) record.event_json = r.Bytes("event");
  }
  if (r.ok() && r.Left() > 0) r.Fail(std::to_string(r.Left()) + " bytes after its end");
  if (!r.ok()) return Status::InvalidArgument(r.error());
  return kind;
}

}  // namespace klaxon::service
