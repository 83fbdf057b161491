#include "connectors/kafka_source.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

namespace klaxon::connectors {

// Commit() and Close() retry a commit the coordinator could not take yet for up to ~3 s.
constexpr int kCommitAttempts = 30;

// Messages taken from librdkafka's queue under one lock; the fetch thread contends for it.
constexpr size_t kTakeBatch = 256;

struct KafkaSource::PartitionState {
  std::string topic;
  int32_t partition = -1;
  int64_t marked = -1;  // next offset to store: last processed offset + 1
  bool dirty = false;   // marked has not been handed to librdkafka yet
  std::unique_ptr<RdKafka::TopicPartition> handle;  // reused for offsets_store
  bool resume_wait = false;                         // resumed, nothing from it since
  std::chrono::steady_clock::time_point resumed_at;
  // Paused (see Pause): its fetch queue split off the consumer queue, its messages taken from
  // the consumer queue meanwhile set aside in order; past the cap paused in librdkafka too.
  bool held = false;
  bool fetch_paused = false;
  rd_kafka_queue_t* queue = nullptr;  // once split off, librdkafka never joins it back itself
  std::vector<rd_kafka_message_t*> set_aside;
};

// librdkafka calls these from consume() (and close()), i.e. on the run loop's thread.
class KafkaSource::Callbacks final : public RdKafka::RebalanceCb, public RdKafka::EventCb {
 public:
  explicit Callbacks(KafkaSource* source) : source_(source) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    ++source_->rebalances_;
    const bool incremental = consumer->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      source_->SetOwnPositions(partitions);
      if (incremental) {
        Report(consumer->incremental_assign(partitions));
      } else {
        consumer->assign(partitions);
      }
      source_->OnAssign(partitions, incremental);
      return;
    }
    // Revoked (or an error, which librdkafka treats as losing the assignment): commit what was
    // processed while the partitions are still ours, then let them go.
    const bool lost = err != RdKafka::ERR__REVOKE_PARTITIONS || consumer->assignment_lost();
    source_->OnRevoke(partitions, incremental, lost);
    if (incremental) {
      Report(consumer->incremental_unassign(partitions));
    } else {
      consumer->unassign();
    }
  }

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_ERROR:
        source_->OnError(event.fatal(), RdKafka::err2str(event.err()) + ": " + event.str());
        break;
      case RdKafka::Event::EVENT_STATS:
        source_->OnStats(event.str());
        break;
      case RdKafka::Event::EVENT_LOG: {
        const int severity = static_cast<int>(event.severity());
        const LogLevel level = severity <= 3   ? LogLevel::kError
                               : severity == 4 ? LogLevel::kWarn
                               : severity <= 6 ? LogLevel::kInfo
                                               : LogLevel::kDebug;
        internal::Log(source_->options_.client.log, level, event.fac() + ": " + event.str());
        break;
      }
      default:
        break;
    }
  }

 private:
  void Report(RdKafka::Error* error) {
    if (error == nullptr) return;
    internal::Log(source_->options_.client.log, LogLevel::kError, "rebalance: " + error->str());
    delete error;
  }

  KafkaSource* source_;
};

Result<std::unique_ptr<KafkaSource>> KafkaSource::Open(const KafkaSourceOptions& options) {
  std::unique_ptr<KafkaSource> source(new KafkaSource(options));
  if (Status s = source->Start(); !s.ok()) return s;
  return source;
}

KafkaSource::KafkaSource(KafkaSourceOptions options)
    : options_(std::move(options)), callbacks_(std::make_unique<Callbacks>(this)) {}

KafkaSource::~KafkaSource() { (void)Close(); }

Status KafkaSource::Start() {
  if (options_.topics.empty()) return Status::InvalidArgument("kafka source: no topics");
  if (options_.group_id.empty()) return Status::InvalidArgument("kafka source: no group id");
  if (options_.store_batch < 1) options_.store_batch = 1;
  if (auto it = options_.client.properties.find("enable.auto.offset.store");
      it != options_.client.properties.end()) {
    if (Status st = CheckKafkaProperty(it->first, it->second); !st.ok()) return st;
  }
  auto conf = internal::NewGlobalConf(options_.client);
  if (!conf.ok()) return conf.status();
  const std::pair<std::string, std::string> settings[] = {
      {"group.id", options_.group_id},
      {"enable.auto.offset.store", "false"},
      {"enable.auto.commit", options_.auto_commit_interval_ms > 0 ? "true" : "false"},
      {"auto.offset.reset", options_.auto_offset_reset},
      {"statistics.interval.ms", std::to_string(std::max(0, options_.statistics_interval_ms))},
      {"enable.partition.eof", options_.partition_events ? "true" : "false"},
      // librdkafka 2.0 (Debian 12) stops fetching when this buffer is full and looks again only
      // about a second later, so while Klaxon catches up on a backlog a 64 MiB buffer (the
      // default, ~40,000 events of 1.6 KB) leaves it idle most of each second. 256 MiB covers
      // that second. Users can lower it (properties win).
      {"queued.max.messages.kbytes", "262144"},
      {"queued.min.messages", "1000000"},
  };
  for (const auto& [key, value] : settings) {
    if (Status s = internal::SetProperty(**conf, key, value); !s.ok()) return s;
  }
  if (options_.auto_commit_interval_ms > 0) {
    if (Status s = internal::SetProperty(**conf, "auto.commit.interval.ms",
                                         std::to_string(options_.auto_commit_interval_ms));
        !s.ok()) {
      return s;
    }
  }
  if (Status s = internal::ApplyProperties(**conf, options_.client.properties); !s.ok()) return s;
  std::string error;
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(callbacks_.get()), error) !=
          RdKafka::Conf::CONF_OK ||
      (*conf)->set("event_cb", static_cast<RdKafka::EventCb*>(callbacks_.get()), error) !=
          RdKafka::Conf::CONF_OK) {
    return Status::Internal("kafka source: " + error);
  }
  consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!consumer_) return Status::InvalidArgument("kafka source: " + error);
  consumer_queue_ = rd_kafka_queue_get_consumer(consumer_->c_ptr());
  if (RdKafka::ErrorCode err = consumer_->subscribe(options_.topics); err) {
    return Status::InvalidArgument("kafka source: subscribe: " + RdKafka::err2str(err));
  }
  return Status::Ok();
}

rd_kafka_t* KafkaSource::c_handle() { return consumer_->c_ptr(); }

Result<std::pair<int64_t, int64_t>> KafkaSource::QueryOffsets(const std::string& topic,
                                                              int32_t partition,
                                                              std::chrono::milliseconds timeout) {
  int64_t low = 0;
  int64_t high = 0;
  const RdKafka::ErrorCode err = consumer_->query_watermark_offsets(
      topic, partition, &low, &high, static_cast<int>(timeout.count()));
  if (err != RdKafka::ERR_NO_ERROR) {
    return Status::Unavailable("the offsets of " + topic + " [" + std::to_string(partition) +
                               "]: " + RdKafka::err2str(err));
  }
  return std::make_pair(low, high);
}

Result<std::vector<int64_t>> KafkaSource::CommittedOffsets(const std::string& topic,
                                                           const std::vector<int32_t>& partitions,
                                                           std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_error;
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<RdKafka::TopicPartition*> list;
    for (int32_t p : partitions) list.push_back(RdKafka::TopicPartition::create(topic, p));
    RdKafka::ErrorCode err = consumer_->committed(list, 5000);
    std::vector<int64_t> offsets;
    for (RdKafka::TopicPartition* tp : list) {
      if (err == RdKafka::ERR_NO_ERROR && tp->err() != RdKafka::ERR_NO_ERROR) err = tp->err();
      offsets.push_back(tp->offset() < 0 ? -1 : tp->offset());
    }
    RdKafka::TopicPartition::destroy(list);
    if (err == RdKafka::ERR_NO_ERROR) return offsets;
    // A pending transactional commit (UNSTABLE_OFFSET_COMMIT), the coordinator moving: again.
    last_error = RdKafka::err2str(err);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::Unavailable("the committed offsets of " + topic + ": " + last_error);
}

void KafkaSource::DestroyTaken() {
  for (rd_kafka_message_t* m : taken_) {
    if (m != nullptr) rd_kafka_message_destroy(m);  // null: held (see Hold)
  }
  taken_.clear();
  handed_out_ = 0;
}

void KafkaSource::Take(std::chrono::milliseconds timeout) {
  DestroyTaken();
  // Set-aside messages of resumed partitions first: they precede any of theirs still queued.
  taken_.swap(resumed_);
  const size_t first = taken_.size();
  taken_.resize(first + kTakeBatch);
  // Whatever is ready, without waiting: the batch call would otherwise wait for a full batch.
  ssize_t n = rd_kafka_consume_batch_queue(consumer_queue_, 0, taken_.data() + first, kTakeBatch);
  if (n < 0) n = 0;  // only for an invalid queue, which this one is not
  taken_.resize(first + static_cast<size_t>(n));
  if (taken_.empty() && timeout.count() > 0) {
    // Nothing ready: wait for the first message (or callback) up to the timeout.
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(
            consumer_->c_ptr(), static_cast<int>(std::min<int64_t>(timeout.count(), INT32_MAX)))) {
      taken_.push_back(m);
    }
  }
  if (held_partitions_ > 0) SetAsideHeld();
}

void KafkaSource::SetAsideHeld() {
  size_t kept = 0;
  for (rd_kafka_message_t* m : taken_) {
    PartitionState* state = m->rkt != nullptr && (m->err == RD_KAFKA_RESP_ERR_NO_ERROR ||
                                                  m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                ? FindPartition(rd_kafka_topic_name(m->rkt), m->partition)
                                : nullptr;
    if (state != nullptr && state->held) {
      state->set_aside.push_back(m);
    } else {
      taken_[kept++] = m;
    }
  }
  taken_.resize(kept);
  for (auto& state : partitions_) {
    if (!state->held || state->fetch_paused || state->queue == nullptr) continue;
    const size_t prefetched = state->set_aside.size() + rd_kafka_queue_length(state->queue);
    if (prefetched < static_cast<size_t>(std::max(1, options_.paused_prefetch_messages))) continue;
    // librdkafka resumes it after the last message taken, set-aside ones included.
    std::vector<RdKafka::TopicPartition*> list{state->handle.get()};
    if (consumer_->pause(list) == RdKafka::ERR_NO_ERROR) state->fetch_paused = true;
  }
}

void KafkaSource::ReleasePartition(PartitionState& state) {
  for (rd_kafka_message_t* m : state.set_aside) rd_kafka_message_destroy(m);
  state.set_aside.clear();
  std::erase_if(resumed_, [&](rd_kafka_message_t* m) {
    if (m->partition != state.partition || state.topic != rd_kafka_topic_name(m->rkt)) {
      return false;
    }
    rd_kafka_message_destroy(m);
    return true;
  });
  if (state.queue != nullptr) {
    // Whatever it still holds is outdated by the revocation and dropped by librdkafka.
    if (consumer_queue_ != nullptr) rd_kafka_queue_forward(state.queue, consumer_queue_);
    rd_kafka_queue_destroy(state.queue);
    state.queue = nullptr;
  }
  state.held = false;
}

HeldPayload KafkaSource::Hold() {
  // The record Next() returned last is the message just before handed_out_.
  if (handed_out_ == 0 || taken_[handed_out_ - 1] == nullptr) return {};
  rd_kafka_message_t* m = std::exchange(taken_[handed_out_ - 1], nullptr);
  // Messages are reference counted by librdkafka; destroying one on another thread is safe.
  return HeldPayload(
      m, [](void* p) { rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(p)); });
}

void KafkaSource::PushPartitionEvent(const std::string& topic, int32_t partition,
                                     PartitionEvent event) {
  if (!options_.partition_events) return;
  partition_events_.push_back({topic, partition, event});
}

bool KafkaSource::NextPartitionEvent(Record* record) {
  if (partition_events_out_ == partition_events_.size()) {
    partition_events_.clear();
    partition_events_out_ = 0;
    return false;
  }
  const PendingEvent& e = partition_events_[partition_events_out_++];
  record->topic.assign(e.topic);
  record->partition = e.partition;
  record->offset = -1;
  record->payload = {};
  record->key = {};
  record->broker_timestamp_ms = -1;
  record->truncated = false;
  record->partition_event = e.event;
  return true;
}

Result<NextStatus> KafkaSource::Next(std::chrono::milliseconds timeout, Record* record) {
  if (closed_) return Status::FailedPrecondition("kafka source: closed");
  if (fatal_) return Status::Internal("kafka source: fatal error: " + fatal_message_);
  if (NextPartitionEvent(record)) return NextStatus::kPartition;
  if (handed_out_ == taken_.size()) {
    Take(timeout);
    // A rebalance served while taking comes before the records taken after it.
    if (NextPartitionEvent(record)) return NextStatus::kPartition;
  }
  while (handed_out_ < taken_.size()) {
    const rd_kafka_message_t* m = taken_[handed_out_++];
    switch (m->err) {
      case RD_KAFKA_RESP_ERR_NO_ERROR: {
        ++records_;
        if (resume_waits_ > 0) EndResumeWait(m);
        record->topic.assign(rd_kafka_topic_name(m->rkt));  // reuses the string's capacity
        record->partition = m->partition;
        record->offset = m->offset;
        record->payload = std::string_view(static_cast<const char*>(m->payload),
                                           m->payload != nullptr ? m->len : 0);
        record->key = m->key != nullptr
                          ? std::string_view(static_cast<const char*>(m->key), m->key_len)
                          : std::string_view();
        rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        const int64_t ts = rd_kafka_message_timestamp(m, &type);
        record->broker_timestamp_ms = type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
        record->truncated = false;
        record->partition_event = PartitionEvent::kNone;
        return NextStatus::kRecord;
      }
      case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        if (resume_waits_ > 0) EndResumeWait(m);
        if (!options_.partition_events) break;
        record->topic.assign(rd_kafka_topic_name(m->rkt));
        record->partition = m->partition;
        record->offset = m->offset;
        record->payload = {};
        record->key = {};
        record->broker_timestamp_ms = -1;
        record->truncated = false;
        record->partition_event = PartitionEvent::kEnd;
        return NextStatus::kPartition;
      case RD_KAFKA_RESP_ERR__FATAL: {
        char reason[512] = {0};
        rd_kafka_fatal_error(consumer_->c_ptr(), reason, sizeof(reason));
        OnError(true, reason[0] != '\0' ? reason : rd_kafka_message_errstr(m));
        break;
      }
      default:
        OnError(false, std::string(rd_kafka_err2str(m->err)) + ": " + rd_kafka_message_errstr(m));
        break;
    }
  }
  // Idle: a good moment to hand processed positions to librdkafka for the next commit.
  if (taken_.empty()) StoreMarked();
  if (fatal_) return Status::Internal("kafka source: fatal error: " + fatal_message_);
  return NextStatus::kIdle;
}

void KafkaSource::EndResumeWait(const rd_kafka_message_t* m) {
  PartitionState* state = FindPartition(rd_kafka_topic_name(m->rkt), m->partition);
  if (state == nullptr || !state->resume_wait) return;
  state->resume_wait = false;
  --resume_waits_;
  resume_wait_us_ += std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - state->resumed_at)
                         .count();
}

void KafkaSource::CountPartitionStates() {
  resume_waits_ = static_cast<int>(std::count_if(partitions_.begin(), partitions_.end(),
                                                 [](const auto& s) { return s->resume_wait; }));
  held_partitions_ = static_cast<int>(
      std::count_if(partitions_.begin(), partitions_.end(), [](const auto& s) { return s->held; }));
}

void KafkaSource::SetPaused(const std::string& topic, int32_t partition, bool paused) {
  PartitionState* state = closed_ ? nullptr : FindPartition(topic, partition);
  if (state == nullptr || state->held == paused) return;
  if (paused) {
    if (state->queue == nullptr) {
      state->queue = rd_kafka_queue_get_partition(consumer_->c_ptr(), topic.c_str(), partition);
      if (state->queue == nullptr) {
        internal::Log(options_.client.log, LogLevel::kWarn,
                      "pause " + topic + "[" + std::to_string(partition) + "]: no such partition");
        return;
      }
    }
    // From here on what is fetched for it waits in its own queue.
    rd_kafka_queue_forward(state->queue, nullptr);
    if (std::find(split_.begin(), split_.end(), std::pair(state->topic, partition)) ==
        split_.end()) {
      split_.emplace_back(state->topic, partition);
    }
    state->held = true;
    ++held_partitions_;
    ++pauses_;
    if (state->resume_wait) --resume_waits_;
    state->resume_wait = false;
    return;
  }
  if (state->fetch_paused) {
    // Fetched again from the last message taken; what its queue held is outdated and dropped.
    std::vector<RdKafka::TopicPartition*> list{state->handle.get()};
    if (RdKafka::ErrorCode err = consumer_->resume(list); err != RdKafka::ERR_NO_ERROR) {
      internal::Log(
          options_.client.log, LogLevel::kWarn,
          "resume " + topic + "[" + std::to_string(partition) + "]: " + RdKafka::err2str(err));
    }
    state->fetch_paused = false;
  }
  // Its queue joins the consumer queue behind what is there; its set-aside messages, older than
  // any of its messages still queued, are handed out first (Take).
  rd_kafka_queue_forward(state->queue, consumer_queue_);
  resumed_.insert(resumed_.end(), state->set_aside.begin(), state->set_aside.end());
  state->set_aside.clear();
  state->held = false;
  --held_partitions_;
  ++resumes_;
  if (!state->resume_wait) ++resume_waits_;
  state->resume_wait = true;
  state->resumed_at = std::chrono::steady_clock::now();
}

bool KafkaSource::Behind(const std::string& topic, int32_t partition) {
  PartitionState* state = closed_ ? nullptr : FindPartition(topic, partition);
  if (state == nullptr) return false;
  if (!state->set_aside.empty()) return true;
  int64_t low = -1;
  int64_t high = -1;
  // The high watermark of the partition's last fetch response, kept by librdkafka: no request.
  if (rd_kafka_get_watermark_offsets(consumer_->c_ptr(), topic.c_str(), partition, &low, &high) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      high < 0) {
    return false;  // not fetched yet
  }
  std::vector<RdKafka::TopicPartition*> list{state->handle.get()};
  if (consumer_->position(list) != RdKafka::ERR_NO_ERROR) return false;
  const int64_t position = state->handle->offset();
  return position >= 0 && position < high;
}

void KafkaSource::Pause(const std::string& topic, int32_t partition) {
  SetPaused(topic, partition, true);
}

void KafkaSource::Resume(const std::string& topic, int32_t partition) {
  SetPaused(topic, partition, false);
}

KafkaSource::PartitionState* KafkaSource::FindPartition(std::string_view topic, int32_t partition) {
  for (auto& state : partitions_) {
    if (state->partition == partition && state->topic == topic) return state.get();
  }
  return nullptr;
}

Status KafkaSource::Seek(const std::string& topic, int32_t partition, int64_t offset,
                         std::chrono::milliseconds timeout) {
  const std::string name = topic + " [" + std::to_string(partition) + "]";
  PartitionState* state = closed_ ? nullptr : FindPartition(topic, partition);
  if (state == nullptr) return Status::FailedPrecondition("kafka seek " + name + ": not assigned");
  const auto of_it = [&](rd_kafka_message_t* m) {
    if (m == nullptr || m->rkt == nullptr || m->partition != partition ||
        topic != rd_kafka_topic_name(m->rkt)) {
      return false;
    }
    rd_kafka_message_destroy(m);
    return true;
  };
  // Only what is not handed out yet: those before handed_out_ may be held (null) or in use.
  taken_.erase(
      std::remove_if(taken_.begin() + static_cast<ptrdiff_t>(handed_out_), taken_.end(), of_it),
      taken_.end());
  std::erase_if(resumed_, of_it);
  std::erase_if(state->set_aside, of_it);
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(topic, partition, offset));
  const RdKafka::ErrorCode err =
      consumer_->seek(*tp, static_cast<int>(std::min<int64_t>(timeout.count(), INT32_MAX)));
  if (err != RdKafka::ERR_NO_ERROR) {
    return Status::Unavailable("kafka seek " + name + " to " + std::to_string(offset) + ": " +
                               RdKafka::err2str(err));
  }
  return Status::Ok();
}

void KafkaSource::MarkProcessed(const Record& record) {
  if (closed_) return;
  PartitionState* state = FindPartition(record.topic, record.partition);
  if (state == nullptr) {
    // Revoked meanwhile; its new owner re-delivers the record (at-least-once).
    ++store_failures_;
    return;
  }
  if (record.offset + 1 > state->marked) {
    state->marked = record.offset + 1;
    state->dirty = true;
  }
  if (++marks_since_store_ >= options_.store_batch) StoreMarked();
}

void KafkaSource::StoreMarked() {
  marks_since_store_ = 0;
  store_scratch_.clear();
  for (auto& state : partitions_) {
    if (!state->dirty) continue;
    state->dirty = false;
    state->handle->set_offset(state->marked);
    store_scratch_.push_back(state->handle.get());
  }
  if (store_scratch_.empty()) return;
  if (RdKafka::ErrorCode err = consumer_->offsets_store(store_scratch_); err) {
    for (RdKafka::TopicPartition* tp : store_scratch_) {
      if (tp->err() == RdKafka::ERR_NO_ERROR) continue;
      ++store_failures_;
      internal::Log(options_.client.log, LogLevel::kWarn,
                    "offset store " + tp->topic() + "[" + std::to_string(tp->partition()) +
                        "]: " + RdKafka::err2str(tp->err()));
    }
  }
}

namespace {

// Errors after which the coordinator is (re)discovered by librdkafka's own threads.
bool RetriableCommitError(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR__WAIT_COORD:
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RdKafka::ERR_COORDINATOR_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_COORDINATOR:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
      return true;
    default:
      return false;
  }
}

}  // namespace

Status KafkaSource::CommitStored(const char* why, int attempts) {
  RdKafka::ErrorCode err = consumer_->commitSync();
  // Only sleep between attempts: consuming here could hand out (and so lose) a message.
  for (int i = 1; i < attempts && RetriableCommitError(err); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    err = consumer_->commitSync();
  }
  if (err == RdKafka::ERR_NO_ERROR) {
    ++commits_;
    return Status::Ok();
  }
  if (err == RdKafka::ERR__NO_OFFSET) return Status::Ok();  // nothing new to commit
  ++commit_failures_;
  std::string message = std::string("kafka commit on ") + why + ": " + RdKafka::err2str(err);
  internal::Log(options_.client.log, LogLevel::kWarn, message);
  return Status::Unavailable(message);
}

Status KafkaSource::Commit() {
  if (closed_) return Status::FailedPrecondition("kafka source: closed");
  StoreMarked();
  return CommitStored("request", kCommitAttempts);
}

Status KafkaSource::Close() {
  if (closed_ || !consumer_) return Status::Ok();
  DestroyTaken();  // taken but not handed out: not stored, so re-delivered later
  for (auto& state : partitions_) ReleasePartition(*state);
  for (rd_kafka_message_t* m : resumed_) rd_kafka_message_destroy(m);
  resumed_.clear();
  CountPartitionStates();
  Status status;
  if (!fatal_) {
    StoreMarked();
    status = CommitStored("close", kCommitAttempts);
  }
  closed_ = true;  // after the commit: MarkProcessed is ignored from here on
  // Give the partitions up through consume() first: revoking them from inside close() can hang
  // or abort librdkafka 2.0 with the cooperative protocol. Messages read meanwhile are dropped
  // unprocessed, so they are re-delivered later.
  consumer_->unsubscribe();
  for (int i = 0; i < 100 && assigned_partitions_.load() > 0; ++i) {
    std::unique_ptr<RdKafka::Message> dropped(consumer_->consume(50));
  }
  consumer_->close();  // leaves the group
  if (consumer_queue_ != nullptr) rd_kafka_queue_destroy(consumer_queue_);
  consumer_queue_ = nullptr;
  assigned_partitions_ = 0;
  return status;
}

void KafkaSource::OnAssign(const std::vector<RdKafka::TopicPartition*>& partitions,
                           bool incremental) {
  if (!incremental) {
    for (auto& state : partitions_) ReleasePartition(*state);
    partitions_.clear();
  }
  for (const RdKafka::TopicPartition* tp : partitions) {
    PushPartitionEvent(tp->topic(), tp->partition(), PartitionEvent::kAssigned);
    if (FindPartition(tp->topic(), tp->partition()) != nullptr) continue;
    auto state = std::make_unique<PartitionState>();
    state->topic = tp->topic();
    state->partition = tp->partition();
    state->handle.reset(RdKafka::TopicPartition::create(tp->topic(), tp->partition()));
    partitions_.push_back(std::move(state));
  }
  for (const RdKafka::TopicPartition* tp : partitions) {
    if (std::find(split_.begin(), split_.end(), std::pair(tp->topic(), tp->partition())) ==
        split_.end()) {
      continue;
    }
    if (rd_kafka_queue_t* q = rd_kafka_queue_get_partition(consumer_->c_ptr(), tp->topic().c_str(),
                                                           tp->partition())) {
      rd_kafka_queue_forward(q, consumer_queue_);
      rd_kafka_queue_destroy(q);
    }
  }
  store_scratch_.reserve(partitions_.size());
  CountPartitionStates();
  assigned_partitions_ = static_cast<int>(partitions_.size());
  if (options_.partition_events && !partitions.empty()) {
    // A pause outlives a revocation in librdkafka; a partition assigned again starts unpaused,
    // as the run loop's event-time alignment expects.
    std::vector<RdKafka::TopicPartition*> list(partitions.begin(), partitions.end());
    (void)consumer_->resume(list);
  }
  internal::Log(options_.client.log, LogLevel::kInfo,
                "assigned " + std::to_string(partitions.size()) + " partition(s)");
}

void KafkaSource::SetOwnPositions(const std::vector<RdKafka::TopicPartition*>& partitions) {
  for (RdKafka::TopicPartition* tp : partitions) {
    for (const auto& [key, offset] : start_positions_) {
      if (key.second == tp->partition() && key.first == tp->topic()) tp->set_offset(offset);
    }
  }
}

void KafkaSource::SetStartPosition(std::pair<std::string, int32_t> key, int64_t offset) {
  std::erase_if(start_positions_, [&](const auto& e) { return e.first == key; });
  start_positions_.push_back({std::move(key), offset});
}

void KafkaSource::StartAt(const std::string& topic, int32_t partition, int64_t offset) {
  SetStartPosition({topic, partition}, offset);
}

void KafkaSource::OnRevoke(const std::vector<RdKafka::TopicPartition*>& partitions,
                           bool incremental, bool lost) {
  if (options_.resume_own_position) {
    // The position counts every message taken from librdkafka, including those still to be
    // handed out from the current batch: the run loop evaluates them too.
    std::vector<RdKafka::TopicPartition*> list(partitions.begin(), partitions.end());
    if (consumer_->position(list) == RdKafka::ERR_NO_ERROR) {
      for (const RdKafka::TopicPartition* tp : list) {
        if (tp->offset() < 0) continue;  // nothing read from it
        // Set-aside messages of a paused partition were taken but are never handed out.
        int64_t next = tp->offset();
        if (PartitionState* state = FindPartition(tp->topic(), tp->partition())) {
          for (const rd_kafka_message_t* m : state->set_aside) {
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) next = std::min(next, m->offset);
          }
        }
        for (const rd_kafka_message_t* m : resumed_) {
          if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->partition == tp->partition() &&
              tp->topic() == rd_kafka_topic_name(m->rkt)) {
            next = std::min(next, m->offset);
          }
        }
        SetStartPosition({tp->topic(), tp->partition()}, next);
      }
    }
  }
  if (!lost && !fatal_) {
    StoreMarked();
    (void)CommitStored("revoke");
  } else {
    internal::Log(options_.client.log, LogLevel::kWarn,
                  "partitions lost; their uncommitted records will be re-delivered");
  }
  for (const RdKafka::TopicPartition* tp : partitions) {
    PushPartitionEvent(tp->topic(), tp->partition(), PartitionEvent::kRevoked);
  }
  if (incremental) {
    for (const RdKafka::TopicPartition* tp : partitions) {
      std::erase_if(partitions_, [&](const std::unique_ptr<PartitionState>& s) {
        if (s->partition != tp->partition() || s->topic != tp->topic()) return false;
        ReleasePartition(*s);
        return true;
      });
    }
  } else {
    for (auto& state : partitions_) ReleasePartition(*state);
    partitions_.clear();
  }
  CountPartitionStates();
  assigned_partitions_ = static_cast<int>(partitions_.size());
  std::lock_guard<std::mutex> lock(lag_mutex_);
  std::erase_if(lag_, [&](const PartitionLag& lag) {
    return FindPartition(lag.topic, lag.partition) == nullptr;
  });
}

void KafkaSource::OnError(bool fatal, const std::string& message) {
  if (fatal) {
    if (!fatal_) fatal_message_ = message;
    fatal_ = true;
    internal::Log(options_.client.log, LogLevel::kError, "fatal: " + message);
    return;
  }
  ++transient_errors_;
  internal::Log(options_.client.log, LogLevel::kWarn, message);
}

void KafkaSource::OnStats(const std::string& json) {
  std::vector<std::pair<std::string, int32_t>> assigned;
  assigned.reserve(partitions_.size());
  for (const auto& state : partitions_) assigned.emplace_back(state->topic, state->partition);
  std::vector<PartitionLag> lag = LagFromStatistics(json, assigned);
  std::lock_guard<std::mutex> lock(lag_mutex_);
  lag_ = std::move(lag);
}

std::vector<KafkaSource::PartitionLag> KafkaSource::LagFromStatistics(
    std::string_view json, std::span<const std::pair<std::string, int32_t>> partitions) {
  std::vector<PartitionLag> lag;
  const nlohmann::json stats = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!stats.is_object()) return lag;
  auto topics = stats.find("topics");
  if (topics == stats.end() || !topics->is_object()) return lag;
  // librdkafka writes -1001 (RD_KAFKA_OFFSET_INVALID) for offsets it does not know.
  auto as_offset = [](const nlohmann::json& object, const char* key) -> int64_t {
    auto it = object.find(key);
    return it != object.end() && it->is_number_integer() ? std::max<int64_t>(-1, it->get<int64_t>())
                                                         : -1;
  };
  for (const auto& [topic_name, partition] : partitions) {
    auto topic = topics->find(topic_name);
    if (topic == topics->end() || !topic->is_object()) continue;
    auto parts = topic->find("partitions");
    if (parts == topic->end() || !parts->is_object()) continue;
    auto part = parts->find(std::to_string(partition));
    if (part == parts->end() || !part->is_object()) continue;
    const int64_t high = as_offset(*part, "hi_offset");
    int64_t position = as_offset(*part, "app_offset");
    if (position < 0) position = as_offset(*part, "committed_offset");
    lag.push_back({topic_name, partition,
                   high >= 0 && position >= 0 ? std::max<int64_t>(0, high - position) : -1,
                   as_offset(*part, "consumer_lag_stored")});
  }
  return lag;
}

std::vector<KafkaSource::PartitionLag> KafkaSource::Lag() const {
  std::lock_guard<std::mutex> lock(lag_mutex_);
  return lag_;
}

KafkaSource::Counters KafkaSource::counters() const {
  return {
      records_.load(), transient_errors_.load(), rebalances_.load(),
      commits_.load(), commit_failures_.load(),  store_failures_.load(),
      pauses_.load(),  resumes_.load(),          static_cast<double>(resume_wait_us_.load()) / 1e6};
}

}  // namespace klaxon::connectors
