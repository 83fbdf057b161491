// ReadPartition: one partition of a topic read from its beginning to its end, outside any
// consumer group: scale-out's restore of a task from its changelog partition
// (docs/scale_out.md). Reads with isolation.level=read_committed, so records of aborted or
// still open transactions are never seen: the end is the last stable offset, before the first
// record of a transaction still open. (Scale-out waits first until no transaction that sent
// offsets for the task is open: KafkaSource::CommittedOffset.)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/kafka_config.h"
#include "engine/status.h"

namespace klaxon::connectors {

// Called once per record in offset order; `value` nullopt for a tombstone. A non-OK status
// stops the read and is returned.
using PartitionRecordFn = std::function<Status(int64_t offset, std::string_view key,
                                               std::optional<std::string_view> value)>;

// Returns the number of records read; Unavailable when the end is not reached within `timeout`
// (brokers unreachable), naming the topic and partition.
Result<int64_t> ReadPartition(const KafkaClientOptions& options, const std::string& topic,
                              int32_t partition, std::chrono::milliseconds timeout,
                              const PartitionRecordFn& on_record);

}  // namespace klaxon::connectors
