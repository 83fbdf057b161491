// The messages of the repartition topic (docs/scale_out.md): what stage 1 sends the owner of a
// (rule, group), and the watermark marks that carry each input partition's event time to every
// repartition partition.
//
// A compact binary encoding, versioned: a version byte, a kind byte, then varints (signed
// values zigzag-encoded) and length-prefixed bytes. Instances of two Klaxon versions meet on
// the topic during a rolling upgrade, so a decoder refuses a version it does not know instead of
// misreading it. Decode takes bytes from the network: it never reads past them, refuses every
// length and count the bytes left cannot hold before sizing anything from it (so it allocates
// at most in proportion to the input), and says what was wrong.
//
// Pure functions over plain values; thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace klaxon::service {

// 2: a record may leave the event out (its rule's notifications read only its id). Version 1,
// where every record carries it, reads the same; an instance reading only version 1 would count
// records without it as invalid, so it refuses version 2 by its number instead.
inline constexpr uint8_t kShuffleVersion = 2;
inline constexpr uint8_t kShuffleOldestVersion = 1;
inline constexpr int64_t kShuffleNoTime = std::numeric_limits<int64_t>::min();

enum class ShuffleKind : uint8_t { kRecord = 1, kMark = 2 };

// The input record a message is about, and its input partition's event time then (the newest
// event time stage 1 read from it, kShuffleNoTime before the first): stage 2's watermark is
// made of these (service/shuffle_time.h).
struct ShuffleSource {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = -1;  // a record's input offset; a mark's last offset read (-1: none yet)
  int64_t partition_time_ms = kShuffleNoTime;
};

// One event for one (rule, group): what evaluating it needs. Views point into the caller's
// buffers (Encode) or the decoded bytes (Decode).
struct ShuffleRecord {
  ShuffleSource source;
  std::string_view rule_id;                            // Rule::id
  std::vector<std::optional<std::string_view>> group;  // one per group-by field; nullopt: absent
  int64_t event_time_ms = 0;
  std::string_view event_id;
  bool numerator = false;                // a ratio rule's event in the numerator's filter
  bool denominator = false;              // ... in the denominator's
  std::vector<std::string_view> values;  // the unique(...) / new(...) field's values
  // The event itself, only when the rule's notifications read more of it than its id
  // (actions/event_use.h: templates, payloads, a rule that notifies once per event).
  std::optional<std::string_view> event_json;
};

// An input partition's event time, sent to every repartition partition while stage 1 has
// nothing else for it. `idle`: the partition is caught up and quiet, and holds no time back.
struct ShuffleMark {
  ShuffleSource source;
  bool idle = false;
};

// Append one message to `out`.
void EncodeShuffleRecord(const ShuffleRecord& record, std::string& out);
void EncodeShuffleMark(const ShuffleMark& mark, std::string& out);

// Decodes one message into `record` or `mark`, as the kind returned says (the other is left
// as it was); views point into `bytes`. The vectors keep their capacity, so decoding allocates
// nothing once they have grown. InvalidArgument, beginning "repartition message: ", for
// anything that is not one whole message of this version; `record` may then be partly written.
Result<ShuffleKind> DecodeShuffle(std::string_view bytes, ShuffleRecord& record, ShuffleMark& mark);

}  // namespace klaxon::service
