// EventDecoder: turns one raw JSON event into the few field values the loaded rules read.
//
// Built once per Engine from the interned field table. Decode walks the document once with
// simdjson on-demand, descending only into keys that a referenced path starts with, and copies
// the values it finds into a DecodedEvent the caller owns (capacity reused: no allocation per
// event in steady state). Not thread-safe (owns one simdjson parser).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/rule.h"

namespace klaxon {

enum class ValueType : uint8_t { kString, kNumber, kBool, kPresent };

struct DecodedValue {
  uint32_t field = 0;
  uint32_t offset = 0;  // into DecodedEvent::arena
  uint32_t length = 0;
  ValueType type = ValueType::kString;
  bool from_tag = false;
  double number = 0;  // kNumber
};

// One decoded event. `raw` holds the event bytes plus simdjson padding.
struct DecodedEvent {
  int64_t time_ms = 0;
  uint64_t sequence = 0;
  std::string raw;
  std::string arena;
  std::vector<DecodedValue> values;   // grouped by field after Decode
  std::vector<uint32_t> field_begin;  // values of field f: [field_begin[f], field_begin[f+1])
  uint32_t event_id_offset = 0;
  uint32_t event_id_length = 0;
  // A routed event (Engine::ProcessRouted): the one rule it is for, and a ratio's sides, as a
  // routing stage matched them; `values` then hold only that rule's fields. False once decoded.
  bool routed = false;
  bool denominator = false;
  bool numerator = false;
  uint32_t rule = 0;

  std::string_view Raw() const { return raw; }
  std::string_view Text(const DecodedValue& v) const {
    return std::string_view(arena).substr(v.offset, v.length);
  }
  const DecodedValue* Begin(uint32_t field) const { return values.data() + field_begin[field]; }
  const DecodedValue* End(uint32_t field) const { return values.data() + field_begin[field + 1]; }
  bool Has(uint32_t field) const { return field_begin[field] != field_begin[field + 1]; }
  std::string_view EventId() const {
    return std::string_view(arena).substr(event_id_offset, event_id_length);
  }
};

// Interns FieldRefs: equal references share one id.
class FieldTable {
 public:
  uint32_t Intern(const FieldRef& f);
  const std::vector<FieldRef>& fields() const { return fields_; }

 private:
  std::vector<FieldRef> fields_;
};

class EventDecoder {
 public:
  EventDecoder(const std::vector<FieldRef>& fields, const EngineOptions& options);
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  // Fills `out` (time, values, raw copy); returns kNone on success.
  RejectReason Decode(std::string_view raw, DecodedEvent& out);
  // The same for an event whose bytes the caller already put in `out.raw`, with at least
  // simdjson::SIMDJSON_PADDING bytes of capacity beyond them (see ReserveRaw).
  RejectReason DecodeInPlace(DecodedEvent& out);
  // Copies `raw` into `out.raw` with the padding DecodeInPlace needs.
  static void ReserveRaw(std::string_view raw, DecodedEvent& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Event-time parsing, exposed for tests. Both round to the nearest millisecond (half up).
// `text` is a JSON number token: parsed as decimal text, never through a double.
std::optional<int64_t> ParseEpochSecondsText(std::string_view text);
// RFC 3339: 2025-11-25T00:01:07.250Z, +02:00 offsets, any number of fraction digits.
std::optional<int64_t> ParseRfc3339(std::string_view text);

}  // namespace klaxon
