#include "ingest/queue_source.h"

namespace klaxon::ingest {

Result<connectors::NextStatus> QueueSource::Next(std::chrono::milliseconds timeout,
                                                 connectors::Record* record) {
  if (!queue_.Pop(timeout, &current_)) return connectors::NextStatus::kIdle;
  *record = connectors::Record{};
  record->payload = current_;
  record->offset = ++offset_;
  return connectors::NextStatus::kRecord;
}

}  // namespace klaxon::ingest
