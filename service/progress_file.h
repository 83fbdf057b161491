// OUTBOX.progress, the restart fallback without a state store: per Kafka partition, the highest
// offset whose notifications are in the outbox. A restart re-reads the restore horizon and
// suppresses what it recomputes from records at or below these offsets (docs/operations.md,
// "Without a state store").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "engine/status.h"

namespace klaxon::service {

// (topic, partition) -> highest offset handed over.
using HandedOffsets = std::map<std::pair<std::string, int32_t>, int64_t>;

// A file that does not exist is a first start (empty). A file that is not a JSON array is an
// error (the caller starts without suppression and says so); entries of the wrong shape are
// skipped.
Result<HandedOffsets> LoadProgressFile(const std::string& path);

// Written to PATH.tmp and renamed over PATH, so a crash leaves the previous file or the new one,
// never a torn one.
Status SaveProgressFile(const std::string& path, const HandedOffsets& offsets);

}  // namespace klaxon::service
