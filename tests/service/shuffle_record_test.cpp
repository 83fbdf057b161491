// The repartition topic's messages: every field survives a round trip, and bytes that are not
// a whole message of this version are refused with a clear error, without reading past them or
// sizing anything from a count they cannot hold.
#include "service/shuffle_record.h"

#include <doctest/doctest.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

namespace klaxon::service {
namespace {

using namespace std::literals;

// Little-endian base-128, written out by hand so the tests do not trust the encoder.
std::string Varint(uint64_t v) {
  std::string out;
  do {
    const uint8_t low = v & 0x7f;
    v >>= 7;
    out.push_back(static_cast<char>(v != 0 ? (low | 0x80) : low));
  } while (v != 0);
  return out;
}

ShuffleRecord FullRecord() {
  ShuffleRecord r;
  r.source = {.topic = "sentry-events",
              .partition = 7,
              .offset = 123456789,
              .partition_time_ms = 1700000000123};
  r.rule_id = "a1b2c3d4e5f60718";
  r.group = {"production"sv, std::nullopt, ""sv, "checkout \xe2\x9c\x93"sv};
  r.event_time_ms = 1700000000001;
  r.event_id = "0123456789abcdef0123456789abcdef";
  r.numerator = true;
  r.denominator = true;
  r.values = {"user-1"sv, ""sv, "user-3"sv};
  r.event_json = R"({"event_id":"0123","message":"boom"})"sv;
  return r;
}

void CheckSame(const ShuffleRecord& a, const ShuffleRecord& b) {
  CHECK(a.source.topic == b.source.topic);
  CHECK(a.source.partition == b.source.partition);
  CHECK(a.source.offset == b.source.offset);
  CHECK(a.source.partition_time_ms == b.source.partition_time_ms);
  CHECK(a.rule_id == b.rule_id);
  CHECK(a.group == b.group);
  CHECK(a.event_time_ms == b.event_time_ms);
  CHECK(a.event_id == b.event_id);
  CHECK(a.numerator == b.numerator);
  CHECK(a.denominator == b.denominator);
  CHECK(a.values == b.values);
  CHECK(a.event_json == b.event_json);
}

std::string Error(std::string_view bytes) {
  ShuffleRecord record;
  ShuffleMark mark;
  auto kind = DecodeShuffle(bytes, record, mark);
  REQUIRE(!kind.ok());
  CHECK(kind.status().code() == StatusCode::kInvalidArgument);
  // Whatever was decoded before the problem points into the input, and no count larger than
  // the input sized a vector.
  CHECK(record.group.size() <= bytes.size());
  CHECK(record.values.size() <= bytes.size());
  return kind.status().message();
}

TEST_CASE("a repartition record keeps every field through encode and decode") {
  const ShuffleRecord in = FullRecord();
  std::string bytes;
  EncodeShuffleRecord(in, bytes);
  ShuffleRecord out;
  ShuffleMark mark;
  mark.idle = true;
  auto kind = DecodeShuffle(bytes, out, mark);
  REQUIRE_MESSAGE(kind.ok(), kind.status().message());
  CHECK(*kind == ShuffleKind::kRecord);
  CheckSame(out, in);
  CHECK(mark.idle);  // the other kind is left alone
  CHECK(static_cast<uint8_t>(bytes[0]) == kShuffleVersion);

  SUBCASE("each flag on its own, no event, no group, no values") {
    for (int flags = 0; flags < 4; ++flags) {
      ShuffleRecord r = in;
      r.numerator = (flags & 1) != 0;
      r.denominator = (flags & 2) != 0;
      r.event_json.reset();
      r.group.clear();
      r.values.clear();
      std::string b;
      EncodeShuffleRecord(r, b);
      REQUIRE(DecodeShuffle(b, out, mark).ok());
      CheckSame(out, r);
    }
  }
  SUBCASE("an empty event is not an absent one, an empty group value not an absent one") {
    ShuffleRecord r = in;
    r.event_json = ""sv;
    r.group = {""sv, std::nullopt};
    std::string b;
    EncodeShuffleRecord(r, b);
    REQUIRE(DecodeShuffle(b, out, mark).ok());
    REQUIRE(out.event_json.has_value());
    CHECK(out.event_json->empty());
    CHECK(out.group == std::vector<std::optional<std::string_view>>{""sv, std::nullopt});
  }
  SUBCASE("extreme numbers") {
    for (const int64_t t : {INT64_MIN, INT64_MAX, int64_t{-1}, int64_t{0}, kShuffleNoTime}) {
      ShuffleRecord r = in;
      r.event_time_ms = t;
      r.source.partition_time_ms = t;
      r.source.partition = INT32_MAX;
      r.source.offset = INT64_MAX;
      std::string b;
      EncodeShuffleRecord(r, b);
      REQUIRE(DecodeShuffle(b, out, mark).ok());
      CheckSame(out, r);
    }
  }
  SUBCASE("decoding reuses the vectors and drops the previous record's fields") {
    ShuffleRecord small;
    small.source.topic = "t";
    small.rule_id = "r";
    std::string b;
    EncodeShuffleRecord(small, b);
    REQUIRE(DecodeShuffle(b, out, mark).ok());
    CHECK(out.group.empty());
    CHECK(out.values.empty());
    CHECK(!out.event_json.has_value());
    CHECK(out.group.capacity() >= in.group.size());
  }
  SUBCASE("a record without an event is small") {
    ShuffleRecord r = in;
    r.event_json.reset();
    r.values.clear();
    std::string b;
    EncodeShuffleRecord(r, b);
    // Version and kind 2, topic 14, partition 1, offset 4, time 6, flags 1, event time 6,
    // rule 17, group 1 + 11 + 1 + 1 + 13, event id 33, values 1.
    CHECK(b.size() == 112);
  }
}

TEST_CASE("a watermark mark keeps its partition, offset, time and idleness") {
  for (const bool idle : {false, true}) {
    for (const int64_t offset : {int64_t{-1}, int64_t{0}, INT64_MAX}) {
      ShuffleMark in;
      in.source = {.topic = "errors", .partition = 3, .offset = offset, .partition_time_ms = -5};
      in.idle = idle;
      std::string bytes;
      EncodeShuffleMark(in, bytes);
      ShuffleRecord record;
      record.rule_id = "untouched";
      ShuffleMark out;
      auto kind = DecodeShuffle(bytes, record, out);
      REQUIRE_MESSAGE(kind.ok(), kind.status().message());
      CHECK(*kind == ShuffleKind::kMark);
      CHECK(out.source.topic == "errors");
      CHECK(out.source.partition == 3);
      CHECK(out.source.offset == offset);
      CHECK(out.source.partition_time_ms == -5);
      CHECK(out.idle == idle);
      CHECK(record.rule_id == "untouched");
    }
  }
  ShuffleMark none;
  none.source.topic = "errors";
  std::string bytes;
  EncodeShuffleMark(none, bytes);
  ShuffleRecord record;
  ShuffleMark out;
  REQUIRE(DecodeShuffle(bytes, record, out).ok());
  CHECK(out.source.partition_time_ms == kShuffleNoTime);
  CHECK(out.source.offset == -1);
}

TEST_CASE("hostile repartition messages are refused, naming what is wrong") {
  std::string record;
  EncodeShuffleRecord(FullRecord(), record);
  std::string mark;
  EncodeShuffleMark(
      {.source = {.topic = "errors", .partition = 1, .offset = 9, .partition_time_ms = 2},
       .idle = true},
      mark);

  SUBCASE("every truncation of a record and of a mark") {
    for (const std::string* whole : {&record, &mark}) {
      for (size_t n = 0; n < whole->size(); ++n) {
        // A heap block of exactly n bytes: a read past it is caught by AddressSanitizer.
        const std::vector<char> cut(whole->begin(), whole->begin() + static_cast<ptrdiff_t>(n));
        const std::string message = Error(std::string_view(cut.data(), cut.size()));
        CHECK(message.rfind("repartition message: ", 0) == 0);
      }
    }
    CHECK(Error("") == "repartition message: empty");
    CHECK(Error(record.substr(0, 1)) == "repartition message: truncated in kind");
    CHECK(Error(record.substr(0, record.size() - 1)) ==
          "repartition message: event of 36 bytes, past the end (35 left)");
    CHECK(Error(mark.substr(0, mark.size() - 1)) == "repartition message: truncated in mark flags");
  }
  SUBCASE("another version") {
    for (const char version : {'\x00', '\x03', '\xff'}) {
      std::string b = record;
      b[0] = version;
      CHECK(Error(b) == "repartition message: version " +
                            std::to_string(static_cast<uint8_t>(version)) +
                            "; this Klaxon reads versions 1 to 2");
    }
    std::string old = record;  // version 1 reads alike
    old[0] = 1;
    ShuffleRecord r;
    ShuffleMark m;
    REQUIRE(DecodeShuffle(old, r, m).ok());
    ShuffleRecord now;
    REQUIRE(DecodeShuffle(record, now, m).ok());
    CheckSame(r, now);
  }
  SUBCASE("an unknown kind or flags") {
    std::string b = record;
    b[1] = 3;
    CHECK(Error(b) == "repartition message: unknown kind 3");
    b = mark;
    b.back() = 2;
    CHECK(Error(b) == "repartition message: unknown mark flags 0x02");
    // The record's flags byte follows the header: version, kind, topic, partition, offset, time.
    const size_t flags_at = 2 + 1 + 13 + 1 + 4 + 6;
    b = record;
    REQUIRE(b[flags_at] == 7);
    b[flags_at] = 0x0f;
    CHECK(Error(b) == "repartition message: unknown record flags 0x0f");
  }
  SUBCASE("lengths past the end") {
    CHECK(Error("\x01\x02" + Varint(1000) + "abc") ==
          "repartition message: input topic of 1000 bytes, past the end (3 left)");
    CHECK(Error("\x01\x02" + Varint(UINT64_MAX) + "abc") ==
          "repartition message: input topic of 18446744073709551615 bytes, past the end (3 left)");
  }
  SUBCASE("counts the bytes left cannot hold") {
    // A record up to its group count: topic "t", partition 0, offset 0, time 0, flags 0, event
    // time 0, rule "r".
    const std::string head = "\x01\x01"s + Varint(1) + "t" + Varint(0) + Varint(0) + Varint(0) +
                             '\0' + Varint(0) + Varint(1) + "r";
    CHECK(Error(head + Varint(uint64_t{1} << 40) + "xyz") ==
          "repartition message: group: 1099511627776 entries cannot fit in the 3 bytes left");
    CHECK(Error(head + Varint(0) + Varint(0) + Varint(UINT64_MAX)) ==
          "repartition message: values: 18446744073709551615 entries cannot fit in the 0 bytes "
          "left");
    // A group value's length tag past the end.
    CHECK(Error(head + Varint(1) + Varint(50) + "ab") ==
          "repartition message: group value of 49 bytes, past the end (2 left)");
    // The same head with a group count it can hold decodes.
    ShuffleRecord r;
    ShuffleMark m;
    const std::string fits = head + Varint(2) + Varint(0) + Varint(2) + "x" + Varint(0) + Varint(0);
    auto ok = DecodeShuffle(fits, r, m);
    REQUIRE_MESSAGE(ok.ok(), ok.status().message());
    CHECK(r.group == std::vector<std::optional<std::string_view>>{std::nullopt, "x"sv});
  }
  SUBCASE("varints longer than 64 bits") {
    CHECK(Error("\x01\x02" + std::string(10, '\xff') + "\x01") ==
          "repartition message: input topic: varint beyond 64 bits");
    CHECK(Error("\x01\x02" + std::string(9, '\x80') + "\x80\x01") ==
          "repartition message: input topic: varint beyond 64 bits");
    CHECK(Error("\x01\x02" + std::string(9, '\xff') + "\x02") ==
          "repartition message: input topic: varint beyond 64 bits");
  }
  SUBCASE("numbers out of range") {
    const std::string topic = Varint(1) + "t";
    // Zigzag: 2^32 encodes as 2^33.
    CHECK(Error("\x01\x02" + topic + Varint(uint64_t{1} << 33)) ==
          "repartition message: input partition 4294967296 out of range");
    CHECK(Error("\x01\x02" + topic + Varint(1)) ==
          "repartition message: input partition -1 out of range");
    CHECK(Error("\x01\x02" + topic + Varint(0) + Varint(3)) ==
          "repartition message: input offset -2 out of range");
  }
  SUBCASE("bytes after the message") {
    CHECK(Error(record + "zz") == "repartition message: 2 bytes after its end");
    CHECK(Error(mark + mark) ==
          "repartition message: " + std::to_string(mark.size()) + " bytes after its end");
  }
  SUBCASE("every single-byte change decodes or is refused, never more") {
    for (const std::string* whole : {&record, &mark}) {
      for (size_t i = 0; i < whole->size(); ++i) {
        for (const uint8_t x : {0x01, 0x80, 0xff, 0x7f}) {
          std::string b = *whole;
          b[i] = static_cast<char>(static_cast<uint8_t>(b[i]) ^ x);
          ShuffleRecord r;
          ShuffleMark m;
          auto kind = DecodeShuffle(b, r, m);
          if (!kind.ok()) {
            CHECK(kind.status().message().rfind("repartition message: ", 0) == 0);
            continue;
          }
          // Whatever decoded lies inside the buffer.
          const auto inside = [&](std::string_view v) {
            return v.empty() ||
                   (v.data() >= b.data() && v.data() + v.size() <= b.data() + b.size());
          };
          CHECK(inside(*kind == ShuffleKind::kMark ? m.source.topic : r.source.topic));
          for (const auto& g : r.group) CHECK((!g.has_value() || inside(*g)));
          for (const auto v : r.values) CHECK(inside(v));
          if (r.event_json.has_value()) CHECK(inside(*r.event_json));
        }
      }
    }
  }
}

}  // namespace
}  // namespace klaxon::service
