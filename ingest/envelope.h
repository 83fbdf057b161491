// Sentry's envelope format (what every current SDK POSTs to /api/PROJECT_ID/envelope/): one
// JSON header line, then items, each a JSON item header line and a payload. A payload is either
// exactly `length` bytes (item header field, followed by an optional newline) or, without
// `length`, everything up to the next newline or the end of the body. Pure parsing: no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace klaxon::ingest {

struct EnvelopeItem {
  std::string type;          // "event", "transaction", "session", "attachment", ...
  std::string_view payload;  // a view into the body passed to ParseEnvelope
};

struct Envelope {
  std::string event_id;  // from the envelope header; empty when absent
  std::string dsn;       // from the envelope header; empty when absent
  std::vector<EnvelopeItem> items;
};

// Parses `body` (decoded). The items' payloads point into `body`. InvalidArgument, with a short
// reason, for a header that is not a JSON object, an item without a string `type`, a `length`
// that is not a whole number or runs past the end, or more than `max_items` items.
Result<Envelope> ParseEnvelope(std::string_view body, size_t max_items = 1000);

}  // namespace klaxon::ingest
