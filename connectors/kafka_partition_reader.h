// ReadPartitions: partitions of a topic read from their beginning to their end, together,
// outside any consumer group: scale-out's restore of a task from its changelog partition
// (docs/scale_out.md). Reads with isolation.level=read_committed, so records of aborted or
// still open transactions are never seen: the end is the last stable offset, before the first
// record of a transaction still open. (Scale-out waits first until no transaction that sent
// offsets for the task is open: KafkaSource::CommittedOffsets.)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/kafka_config.h"
#include "engine/status.h"

namespace klaxon::connectors {

// Called once per record, in offset order within a partition; `value` nullopt for a tombstone.
// A non-OK status stops the read and is returned.
using PartitionRecordFn =
    std::function<Status(int32_t partition, int64_t offset, std::string_view key,
                         std::optional<std::string_view> value)>;

// Returns the number of records read; Unavailable when the end of every partition is not
// reached within `timeout` (brokers unreachable), naming the topic and partitions.
Result<int64_t> ReadPartitions(const KafkaClientOptions& options, const std::string& topic,
                               const std::vector<int32_t>& partitions,
                               std::chrono::milliseconds timeout,
                               const PartitionRecordFn& on_record);

}  // namespace klaxon::connectors
