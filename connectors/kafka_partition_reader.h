// Partitions of a topic read by offset, outside any consumer group, with
// isolation.level=read_committed: records of aborted or still open transactions are never seen,
// and a partition's end is its last stable offset (before the first record of a transaction
// still open). Scale-out reads its changelog this way (docs/scale_out.md):
//   - ReadPartitions: partitions from an offset to their end, together (a task's restore);
//   - PartitionReader: partitions followed as they grow, a little at each call (warm standbys).
// Scale-out waits first until no transaction that sent offsets for the task is open
// (KafkaSource::CommittedOffsets), so the end of a restore is a whole checkpoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/kafka_config.h"
#include "engine/status.h"

namespace RdKafka {
class KafkaConsumer;
class EventCb;
}  // namespace RdKafka

namespace klaxon::connectors {

// Called once per record, in offset order within a partition; `value` nullopt for a tombstone.
// A non-OK status stops the read and is returned.
using PartitionRecordFn =
    std::function<Status(int32_t partition, int64_t offset, std::string_view key,
                         std::optional<std::string_view> value)>;

inline constexpr int64_t kFromBeginning = -2;  // librdkafka's OFFSET_BEGINNING

class PartitionReader {
 public:
  // `what` names the reader in its log lines and errors ("changelog reader").
  static Result<std::unique_ptr<PartitionReader>> Open(const KafkaClientOptions& options,
                                                       std::string topic, std::string what);
  ~PartitionReader();
  PartitionReader(const PartitionReader&) = delete;
  PartitionReader& operator=(const PartitionReader&) = delete;

  // Reads exactly these partitions from here on, each from the offset given (kFromBeginning,
  // or the next offset to read); a partition already read keeps its position when the offset
  // given is its position.
  Status Assign(const std::map<int32_t, int64_t>& from);
  // The records already fetched or arriving within `wait`, at most `max_records`. Unavailable
  // when the topic or partition is missing or not readable (ACLs); other errors are retried.
  Result<int64_t> Poll(std::chrono::milliseconds wait, size_t max_records,
                       const PartitionRecordFn& on_record);
  // Reads on until the position of each of `partitions` reaches the partition's end as the broker
  // gives it now (for read_committed, its last stable offset): everything committed so far.
  // Records of the other partitions read meanwhile go to `on_record` too. Unavailable when that
  // takes longer than `timeout`.
  Result<int64_t> ReadToEnd(const std::vector<int32_t>& partitions,
                            std::chrono::milliseconds timeout, const PartitionRecordFn& on_record);
  // The next offset to read; kFromBeginning before the first record.
  int64_t Position(int32_t partition) const;
  // Reached its last stable offset since the last record read.
  bool AtEnd(int32_t partition) const;
  // Records between the position and the end the broker last reported (0 when not known yet).
  int64_t Lag(int32_t partition) const;
  const std::string& topic() const { return topic_; }

 private:
  struct Progress {
    int64_t next = kFromBeginning;
    bool at_end = false;
  };
  PartitionReader(std::string topic, std::string what);

  std::string topic_;
  std::string what_;
  std::unique_ptr<RdKafka::EventCb> events_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::map<int32_t, Progress> progress_;
};

// Reads partitions of `topic` from the offsets in `from` (kFromBeginning for all of it) to their
// end. Returns the number of records read; Unavailable when the end of every partition is not
// reached within `timeout` (brokers unreachable), naming the topic and partitions.
Result<int64_t> ReadPartitions(const KafkaClientOptions& options, const std::string& topic,
                               const std::map<int32_t, int64_t>& from,
                               std::chrono::milliseconds timeout,
                               const PartitionRecordFn& on_record);

}  // namespace klaxon::connectors
