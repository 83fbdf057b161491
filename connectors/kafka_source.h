// KafkaSource: error events from Kafka topics through librdkafka's high-level consumer,
// at-least-once.
//
// Offsets are stored only by MarkProcessed() (enable.auto.offset.store=false) and committed by
// librdkafka's auto-commit every `auto_commit_interval_ms`, by Commit(), before a partition is
// revoked in a rebalance, and by Close(). A crash can therefore only re-deliver records that
// were handed out but not yet committed; it never skips one. See connectors/README.md.
//
// Threading: Next/MarkProcessed/Commit/Close and the librdkafka callbacks run on the run loop's
// thread. assigned(), assigned_partitions(), Lag() and counters() may be called from any thread
// (the admin HTTP server).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/kafka_config.h"
#include "connectors/source.h"
#include "engine/status.h"

struct rd_kafka_queue_s;
struct rd_kafka_message_s;
struct rd_kafka_s;

namespace RdKafka {
class KafkaConsumer;
class Message;
class TopicPartition;
}  // namespace RdKafka

namespace klaxon::connectors {

struct KafkaSourceOptions {
  KafkaClientOptions client;  // brokers, client.id, security, pass-through properties, log
  // Topic names; an entry starting with '^' is a regular expression matching topic names.
  std::vector<std::string> topics;
  std::string group_id;
  std::string auto_offset_reset = "earliest";  // where a group without a committed offset starts
  // librdkafka commits stored offsets in the background this often; 0 turns auto-commit off,
  // so offsets are committed only by Commit(), on revoke and on Close().
  int auto_commit_interval_ms = 5000;
  // Consumer lag comes from librdkafka statistics emitted this often; 0 turns them off.
  int statistics_interval_ms = 5000;
  // MarkProcessed() positions are handed to librdkafka in batches of this many records (and
  // whenever Next() is idle, on Commit, revoke and Close), which keeps the hot path cheap. A
  // crash re-delivers at most this many more records; 1 stores every record at once.
  int store_batch = 64;
  // Report partition assignments, revocations and ends (caught up) in order with the records
  // (NextStatus::kPartition), for event time per partition. Turns on librdkafka's partition EOF.
  bool partition_events = false;
  // A partition revoked and later assigned again to this consumer goes on from where this
  // consumer stopped reading it, not from the committed offset: the caller's in-memory state
  // already covers what it read (committed offsets may trail it, see the service's restore
  // horizon), so reading it again would count it twice.
  bool resume_own_position = false;
  // A paused partition keeps what librdkafka fetched for it, up to this many messages; past
  // that librdkafka stops fetching it (and drops that prefetch; it is fetched again after the
  // resume). See Pause().
  int paused_prefetch_messages = 2000;
};

class KafkaSource final : public Source {
 public:
  struct PartitionLag {
    std::string topic;
    int32_t partition = -1;
    int64_t consumer_lag = -1;         // high watermark - position; -1 when unknown
    int64_t consumer_lag_stored = -1;  // high watermark - stored offset; -1 when unknown
  };
  struct Counters {
    int64_t records = 0;
    int64_t transient_errors = 0;  // logged and retried by librdkafka; consumption goes on
    int64_t rebalances = 0;
    int64_t commits = 0;
    int64_t commit_failures = 0;
    int64_t store_failures = 0;  // positions of partitions no longer assigned
    int64_t pauses = 0;          // Pause() calls (event-time alignment)
    int64_t resumes = 0;         // Resume() calls
    // Wall-clock time from each Resume() to the partition's next message or end: librdkafka
    // drops what it prefetched for a paused partition, so a resume waits for a fetch.
    double resume_wait_seconds = 0;
  };

  // Creates the consumer and subscribes; InvalidArgument for bad settings or properties.
  static Result<std::unique_ptr<KafkaSource>> Open(const KafkaSourceOptions& options);
  ~KafkaSource() override;

  // kIdle on timeout and on partition EOF; a Status only for fatal consumer errors.
  Result<NextStatus> Next(std::chrono::milliseconds timeout, Record* record) override;
  HeldPayload Hold() override;
  // Where to start reading a partition when it is assigned, instead of its committed offset
  // (a restored checkpoint's offsets). Call before the first Next().
  void StartAt(const std::string& topic, int32_t partition, int64_t offset);
  // Stops handing out the partition's messages without losing what librdkafka prefetched: its
  // fetch queue is split off the consumer queue (its messages already there are set aside as
  // they are taken), so a Resume hands them out at once. librdkafka's own pause would drop the
  // prefetched messages and fetch them again after the resume, a fetch round trip behind every
  // other partition's queued messages. Only past paused_prefetch_messages is the partition
  // paused in librdkafka. Messages taken before the call are still handed out.
  void Pause(const std::string& topic, int32_t partition) override;
  void Resume(const std::string& topic, int32_t partition) override;
  // The partition has messages beyond the last one handed out: set aside while it is paused,
  // or in Kafka past the last one taken, as far as the last fetch response told (its high
  // watermark; no request is made). False while unknown.
  bool Behind(const std::string& topic, int32_t partition);
  // Reads an assigned partition again from `offset`: the records handed out from there on are
  // handed out again (scale-out's stage 1 after an aborted transaction, whose records no one
  // will see). Its messages taken and not handed out yet are dropped; librdkafka drops those it
  // fetched before the seek. FailedPrecondition when the partition is not assigned here,
  // Unavailable when librdkafka does not confirm the seek within `timeout`.
  Status Seek(const std::string& topic, int32_t partition, int64_t offset,
              std::chrono::milliseconds timeout);
  void MarkProcessed(const Record& record) override;
  // Synchronous; retries for up to ~3 s while the group coordinator is unknown.
  Status Commit() override;
  Status Close() override;

  // The group's committed offsets of partitions of `topic` (-1 where none), read from the
  // coordinator, in the order asked. With isolation.level=read_committed in the properties, an
  // offset sent in a transaction still open is not returned: the call waits (up to `timeout`,
  // then Unavailable) until that transaction ends, so what it returns is stable (scale-out's
  // restore barrier).
  Result<std::vector<int64_t>> CommittedOffsets(const std::string& topic,
                                                const std::vector<int32_t>& partitions,
                                                std::chrono::milliseconds timeout);
  // A partition's first and end offsets as its leader gives them now (the end is the last stable
  // offset with isolation.level=read_committed), of any topic; Unavailable after `timeout`.
  Result<std::pair<int64_t, int64_t>> QueryOffsets(const std::string& topic, int32_t partition,
                                                   std::chrono::milliseconds timeout);
  // The underlying librdkafka handle: its group metadata for transactions
  // (KafkaTransactionalProducer::Commit).
  rd_kafka_s* c_handle();

  // Thread-safe.
  bool assigned() const { return assigned_partitions_.load() > 0; }
  int assigned_partitions() const { return assigned_partitions_.load(); }
  std::vector<PartitionLag> Lag() const;
  Counters counters() const;

  // The lag of the named partitions in one librdkafka statistics document (STATISTICS.md);
  // partitions it does not hold are left out. consumer_lag is hi_offset minus the position:
  // app_offset (the next offset handed to Klaxon), or the committed offset before the first
  // message. librdkafka's own consumer_lag counts from the committed offset, so it stayed
  // above 0 while commits trailed a caught-up consumer.
  static std::vector<PartitionLag> LagFromStatistics(
      std::string_view json, std::span<const std::pair<std::string, int32_t>> partitions);

 private:
  class Callbacks;
  struct PartitionState;

  explicit KafkaSource(KafkaSourceOptions options);
  Status Start();
  void StoreMarked();
  void DestroyTaken();
  // Takes what librdkafka has ready (up to kTakeBatch messages, one queue lock), or waits up
  // to `timeout` for the first message.
  void Take(std::chrono::milliseconds timeout);
  // Commits stored offsets; retries coordinator errors `attempts` times, 100 ms apart.
  Status CommitStored(const char* why, int attempts = 1);
  void OnAssign(const std::vector<RdKafka::TopicPartition*>& partitions, bool incremental);
  // Before assigning: partitions with a known start position start there.
  void SetOwnPositions(const std::vector<RdKafka::TopicPartition*>& partitions);
  void OnRevoke(const std::vector<RdKafka::TopicPartition*>& partitions, bool incremental,
                bool lost);
  void OnStats(const std::string& json);
  void OnError(bool fatal, const std::string& message);
  PartitionState* FindPartition(std::string_view topic, int32_t partition);
  void PushPartitionEvent(const std::string& topic, int32_t partition, PartitionEvent event);
  bool NextPartitionEvent(Record* record);
  void SetPaused(const std::string& topic, int32_t partition, bool paused);
  // A message or end of a partition resumed and not heard from since: the wait is over.
  void EndResumeWait(const rd_kafka_message_s* m);
  void CountPartitionStates();  // resume_waits_, held_partitions_
  // Moves the messages of paused partitions out of taken_ into their set-aside messages, and
  // pauses in librdkafka those holding paused_prefetch_messages.
  void SetAsideHeld();
  // Before a partition state goes: its queue joins the consumer queue again, its set-aside
  // messages are dropped (not handed out: read again from the first of them).
  void ReleasePartition(PartitionState& state);

  KafkaSourceOptions options_;
  std::unique_ptr<Callbacks> callbacks_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  // Messages taken from librdkafka in one call; Next() hands them out in order. They are
  // destroyed when the next batch is taken, so a record's payload stays valid until then;
  // a held message (Hold) is null here and belongs to its HeldPayload.
  std::vector<rd_kafka_message_s*> taken_;
  size_t handed_out_ = 0;
  // Set-aside messages of resumed partitions, in order: handed out before anything else.
  std::vector<rd_kafka_message_s*> resumed_;
  int held_partitions_ = 0;  // paused (PartitionState::held)
  // Partitions whose queue was ever split off: librdkafka unlinks a partition's queue from the
  // consumer queue when it stops fetching it (revocation) and, for a queue the application
  // forwarded, leaves linking it again on assignment to the application (OnAssign).
  std::vector<std::pair<std::string, int32_t>> split_;
  std::vector<std::unique_ptr<PartitionState>> partitions_;  // assigned partitions
  std::vector<RdKafka::TopicPartition*> store_scratch_;
  int marks_since_store_ = 0;
  int resume_waits_ = 0;  // partitions resumed and not heard from since (PartitionState)
  rd_kafka_queue_s* consumer_queue_ = nullptr;  // the consumer's queue, for batch reads
  struct PendingEvent {
    std::string topic;
    int32_t partition;
    PartitionEvent event;
  };
  // Assignments and revocations seen in rebalance callbacks, handed out before the records
  // taken after them (partition_events only).
  std::vector<PendingEvent> partition_events_;
  size_t partition_events_out_ = 0;
  // Where to start partitions when assigned: StartAt, and (resume_own_position) where this
  // consumer stopped reading partitions revoked from it.
  std::vector<std::pair<std::pair<std::string, int32_t>, int64_t>> start_positions_;
  void SetStartPosition(std::pair<std::string, int32_t> key, int64_t offset);
  bool closed_ = false;
  bool fatal_ = false;
  std::string fatal_message_;

  std::atomic<int> assigned_partitions_{0};
  std::atomic<int64_t> records_{0};
  std::atomic<int64_t> transient_errors_{0};
  std::atomic<int64_t> rebalances_{0};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> commit_failures_{0};
  std::atomic<int64_t> store_failures_{0};
  std::atomic<int64_t> pauses_{0};
  std::atomic<int64_t> resumes_{0};
  std::atomic<int64_t> resume_wait_us_{0};
  mutable std::mutex lag_mutex_;
  std::vector<PartitionLag> lag_;  // guarded by lag_mutex_
};

}  // namespace klaxon::connectors
