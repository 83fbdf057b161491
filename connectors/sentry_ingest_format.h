// SentryIngestFormat: reads the messages a self-hosted Sentry's Relay writes to its
// `ingest-events` topic (`kafka.format: sentry_ingest`) and turns each error event into the
// event JSON the engine decodes, as `source: sentry` would have handed it on.
//
// Relay's message (relay-server/src/services/store.rs, `KafkaMessage::Event`, serialised with
// rmp_serde::to_vec_named) is a msgpack map: `type` ("event"; other messages on Sentry's topics
// are "attachment", "attachment_chunk", "user_report", ...), `payload` (the event JSON, msgpack
// bin), `project_id` (unsigned), `event_id`, `start_time`, `remote_addr` and `attachments`.
// Sentry's consumer (src/sentry/ingest/consumer/simple_event.py and processors.py) reads `type`,
// `payload`, `project_id`, `event_id` and `start_time`; so does this class, except `start_time`
// (rules use the event's own `timestamp`).
//
// The adapter over msgpack-c: no msgpack type appears here, nothing throws. One instance per
// decoding thread (it reuses its buffers); not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace klaxon::connectors {

class SentryIngestFormat {
 public:
  enum class Kind {
    kEvent,      // *json holds the event
    kSkipped,    // a message of another type, or a transaction: not an error event
    kMalformed,  // not Relay's message shape; `error` says why
  };
  struct Outcome {
    Kind kind = Kind::kEvent;
    // kSkipped: the message's `type` ("attachment", ...), or "transaction" for an `event`
    // message whose payload is a transaction. A view into the message or a constant.
    std::string_view type;
    const char* error = "";  // kMalformed: a constant sentence
  };

  // `project_names`: Sentry's project id -> the `project` name events of that project get
  // (`sentry.projects`). Events of other projects get `project_id` only.
  explicit SentryIngestFormat(const std::map<int64_t, std::string>& project_names);
  ~SentryIngestFormat();
  SentryIngestFormat(const SentryIngestFormat&) = delete;
  SentryIngestFormat& operator=(const SentryIngestFormat&) = delete;

  // Reads one message. On kEvent, *json is the payload with `project` and `project_id` set
  // last (so they win over an event's own: the message decides, as the DSN does for
  // `source: sentry`); a payload that is not a JSON object is passed on unchanged, for the
  // event decoder to reject as it rejects any bad JSON. *json's capacity is reused.
  Outcome ToEventJson(std::string_view message, std::string* json);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace klaxon::connectors
