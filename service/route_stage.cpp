#include "service/route_stage.h"

#include <algorithm>
#include <utility>

#include "actions/event_use.h"

namespace klaxon::service {

namespace {

// Records read per pass before their acknowledgement is awaited: a pass waits for one produce
// round trip, so larger batches carry it over more records.
constexpr size_t kMaxRecordsPerPass = 4096;
// How long a pass waits for the acknowledgement of what it produced.
constexpr auto kAckTimeout = std::chrono::seconds(30);
// exactly_once: how long a seek back to the last commit may take before the stage stops.
constexpr auto kSeekTimeout = std::chrono::seconds(10);

}  // namespace

Result<std::unique_ptr<RouteStage>> RouteStage::Open(RouteStageOptions options,
                                                     const RuleSet& rules,
                                                     const EngineOptions& engine_options,
                                                     LogSink& log) {
  std::unique_ptr<RouteStage> stage(new RouteStage(std::move(options), log));
  // The owner gets the event id always (explanations, and the id payloads show), the event
  // itself only for the rules whose notifications read more of it (actions/event_use.h).
  EngineOptions routing = engine_options;
  routing.decode_event_id = true;
  for (const Rule& rule : rules.rules) {
    stage->sends_event_.push_back(actions::RuleReadsEvent(rule, rules));
  }
  Result<std::unique_ptr<Engine>> engine = Engine::Create(rules, routing);
  if (!engine.ok()) return engine.status();
  stage->engine_ = std::move(engine).value();
  stage->decoder_ = stage->engine_->NewDecoder();
  stage->router_ =
      std::make_unique<ShuffleRouter>(stage->engine_.get(), stage->options_.partitions);
  if (stage->options_.exactly_once) {
    // Before the consumer joins: initialising fences an earlier process under this id and
    // aborts its open transaction, so the input offsets this one starts from are stable.
    Result<std::unique_ptr<connectors::KafkaTransactionalProducer>> txn =
        connectors::KafkaTransactionalProducer::Open(stage->options_.transactions);
    if (!txn.ok()) {
      return Status(txn.status().code(),
                    "scale_out.exactly_once: stage 1's transactions (transactional id " +
                        stage->options_.transactions.transactional_id +
                        "): " + txn.status().message());
    }
    stage->txn_ = std::move(txn).value();
  } else {
    // Acknowledged by every in-sync replica, and no duplicate or reordering from the producer's
    // own retries: stage 2's de-duplication by input offset relies on the order per partition.
    connectors::KafkaClientOptions producer = stage->options_.producer;
    producer.properties["enable.idempotence"] = "true";
    producer.properties["acks"] = "all";
    Result<std::unique_ptr<connectors::KafkaProducer>> p =
        connectors::KafkaProducer::Open(producer);
    if (!p.ok()) return p.status();
    stage->producer_ = std::move(p).value();
  }
  if (!stage->options_.dead_letter_topic.empty()) {
    // Its own producer: a dead-letter topic that refuses writes loses those copies (logged and
    // counted, as in the single stage), never the routing.
    connectors::KafkaClientOptions dead = stage->options_.producer;
    dead.properties["acks"] = "all";
    Result<std::unique_ptr<connectors::KafkaDeadLetterProducer>> d =
        connectors::KafkaDeadLetterProducer::Open(
            {.client = dead, .topic = stage->options_.dead_letter_topic});
    if (!d.ok()) return d.status();
    stage->dead_letters_ = std::move(d).value();
  }
  connectors::KafkaSourceOptions input = stage->options_.input;
  input.partition_events = true;
  // Offsets are marked only once acknowledged; a partition assigned again goes on from where
  // this process read it (what it produced from there is acknowledged or re-sent).
  input.resume_own_position = true;
  if (stage->options_.exactly_once) {
    // Offsets are committed only in the transactions; a partition assigned again is read from
    // its committed offset, since what this process read after it was aborted.
    input.resume_own_position = false;
    input.auto_commit_interval_ms = 0;
  }
  Result<std::unique_ptr<connectors::KafkaSource>> source = connectors::KafkaSource::Open(input);
  if (!source.ok()) return source.status();
  stage->input_ = std::move(source).value();
  return stage;
}

uint32_t RouteStage::TopicIndex(const std::string& topic) {
  for (size_t i = 0; i < topic_names_.size(); ++i) {
    if (topic_names_[i] == topic) return static_cast<uint32_t>(i);
  }
  topic_names_.push_back(topic);
  return static_cast<uint32_t>(topic_names_.size() - 1);
}

Status RouteStage::HandlePartitionEvent(const connectors::Record& record, int64_t now_ms) {
  const PartitionTime::Key key{TopicIndex(record.topic), record.partition};
  switch (record.partition_event) {
    case connectors::PartitionEvent::kAssigned:
      partition_time_.Assign(key);
      log_.Info("input partition assigned",
                {{"topic", record.topic}, {"partition", std::to_string(record.partition)}});
      break;
    case connectors::PartitionEvent::kRevoked:
      partition_time_.Revoke(key, now_ms);
      // The partition's next owner starts from its committed offset as soon as this rebalance
      // ends: a transaction holding records read from it must not commit after that.
      if (txn_ && (txn_open_ || !uncommitted_.empty())) {
        log_.Info("input partition revoked: aborting stage 1's open transaction",
                  {{"topic", record.topic}, {"partition", std::to_string(record.partition)}});
        if (Status st = txn_->Abort(kAckTimeout); !st.ok()) return st;
        txn_open_ = false;
        return Rewind();
      }
      break;
    case connectors::PartitionEvent::kEnd:
      partition_time_.End(key, now_ms, record.offset, [this](PartitionTime::Key k) {
        return input_->Behind(topic_names_[k.topic], k.partition);
      });
      break;
    case connectors::PartitionEvent::kNone:
      break;
  }
  return Status::Ok();
}

Status RouteStage::HandleRecord(const connectors::Record& record) {
  ++counters_.records;
  const uint32_t topic = TopicIndex(record.topic);
  if (txn_) {
    // Fetched before its revocation and handed out after it: its next owner reads it.
    if (!Assigned({topic, record.partition})) return Status::Ok();
    NoteUncommitted(topic, record.partition, record.offset);
  } else {
    unacked_.push_back(record);
    unacked_.back().payload = {};  // only the position is kept
  }
  bool found = false;
  for (Read& r : last_read_) {
    if (r.topic == topic && r.partition == record.partition) {
      r.offset = record.offset;
      found = true;
      break;
    }
  }
  if (!found) last_read_.push_back({topic, record.partition, record.offset});
  const RejectReason reason =
      record.truncated ? RejectReason::kTooLarge : decoder_->Decode(record.payload, event_);
  if (reason != RejectReason::kNone) {
    ++counters_.rejected;  // no event time, nothing to route
    ++counters_.rejected_by_reason[static_cast<int>(reason)];
    return DeadLetter(record, reason);
  }
  const PartitionTime::Key key{topic, record.partition};
  partition_time_.Observe(key, event_.time_ms);
  if (record.broker_timestamp_ms > 0) partition_time_.Written(key, record.broker_timestamp_ms);
  int64_t partition_time = kShuffleNoTime;
  for (const PartitionTime::Partition& p : partition_time_.partitions()) {
    if (p.key == key) partition_time = p.time;
  }
  const ShuffleSource source{.topic = record.topic,
                             .partition = record.partition,
                             .offset = record.offset,
                             .partition_time_ms = partition_time};
  for (const ShuffleRoute& route : router_->Route(event_)) {
    FillShuffleRecord(route, event_, source, record_);
    if (sends_event_[route.rule]) record_.event_json = event_.Raw();
    bytes_.clear();
    EncodeShuffleRecord(record_, bytes_);
    if (Status st = Send(route.partition); !st.ok()) return st;
    ++counters_.routed;
    counters_.routed_bytes += bytes_.size();
    if (record_.event_json) ++counters_.routed_events;
  }
  return Status::Ok();
}

Status RouteStage::DeadLetter(const connectors::Record& record, RejectReason reason) {
  if (!dead_letters_) return Status::Ok();
  if (Status st = dead_letters_->Send(record, RejectReasonName(reason)); !st.ok()) {
    log_.Error("cannot produce to the dead-letter topic", {{"error", st.message()}});
    return Status::Ok();
  }
  ++counters_.dead_lettered;
  return Status::Ok();
}

Status RouteStage::Send(int32_t partition) {
  if (!txn_) {
    return producer_->Produce(options_.repartition_topic, bytes_, 0, {}, {},
                              std::chrono::seconds(30), partition);
  }
  if (!txn_open_) {
    if (Status st = txn_->Begin(); !st.ok()) return st;
    txn_open_ = true;
  }
  Status st = txn_->Produce(options_.repartition_topic, partition, {}, bytes_);
  return st.code() == StatusCode::kFailedPrecondition ? Fenced(st) : st;
}

Status RouteStage::Fenced(const Status& st) const {
  return Status::FailedPrecondition(
      "scale_out.exactly_once: stage 1's transactional id " +
      options_.transactions.transactional_id +
      " was fenced (another process runs under it: two instances with one group.instance.id?) "
      "or its producer failed for good: " +
      st.message());
}

void RouteStage::NoteUncommitted(uint32_t topic, int32_t partition, int64_t offset) {
  for (const Uncommitted& u : uncommitted_) {
    if (u.topic == topic && u.partition == partition) return;
  }
  uncommitted_.push_back({topic, partition, offset});
}

bool RouteStage::Assigned(PartitionTime::Key key) const {
  for (const PartitionTime::Partition& p : partition_time_.partitions()) {
    if (p.key == key) return p.assigned;
  }
  return false;
}

Status RouteStage::CommitTransaction() {
  if (!txn_open_ && uncommitted_.empty()) return Status::Ok();
  if (!txn_open_) {  // input read that produced nothing: its offsets still move
    if (Status st = txn_->Begin(); !st.ok()) return st;
    txn_open_ = true;
  }
  offsets_.clear();
  for (const Uncommitted& u : uncommitted_) {
    for (const Read& r : last_read_) {
      if (r.topic == u.topic && r.partition == u.partition) {
        offsets_.push_back({topic_names_[u.topic], u.partition, r.offset + 1});
      }
    }
  }
  if (dead_letters_) (void)dead_letters_->Flush(kAckTimeout);
  Status st = txn_->Commit(offsets_, *input_, kAckTimeout);
  txn_open_ = false;
  if (st.ok()) {
    ++counters_.transactions;
    for (const Uncommitted& u : uncommitted_) {
      const PartitionTime::Key key{u.topic, u.partition};
      int64_t time = PartitionTime::kNone;
      for (const PartitionTime::Partition& p : partition_time_.partitions()) {
        if (p.key == key) time = p.time;
      }
      auto it = std::find_if(committed_time_.begin(), committed_time_.end(),
                             [&](const CommittedTime& c) { return c.key == key; });
      if (it == committed_time_.end()) {
        committed_time_.push_back({key, time});
      } else {
        it->time = time;
      }
    }
    uncommitted_.clear();
    return Status::Ok();
  }
  if (st.code() == StatusCode::kFailedPrecondition) return Fenced(st);
  // Aborted (a rebalance fenced the group metadata, a broker did not answer): nothing of it is
  // visible, so its input is read again.
  if (Status aborted = txn_->Abort(kAckTimeout); !aborted.ok()) return aborted;
  log_.Warn("stage 1's transaction aborted; its input is read again from the last commit",
            {{"error", st.message()}});
  return Rewind();
}

Status RouteStage::Rewind() {
  ++counters_.aborted;
  for (const Uncommitted& u : uncommitted_) {
    const PartitionTime::Key key{u.topic, u.partition};
    int64_t time = PartitionTime::kNone;
    for (const CommittedTime& c : committed_time_) {
      if (c.key == key) time = c.time;
    }
    partition_time_.Rewind(key, time);
    for (Read& r : last_read_) {
      if (r.topic == u.topic && r.partition == u.partition) r.offset = u.first - 1;
    }
    Status st = input_->Seek(topic_names_[u.topic], u.partition, u.first, kSeekTimeout);
    // Revoked: its next owner reads it from the committed offset.
    if (!st.ok() && st.code() != StatusCode::kFailedPrecondition) return st;
  }
  uncommitted_.clear();
  return Status::Ok();
}

// Every input partition this process reads, to every repartition partition: stage 2's
// watermark is the minimum over all input partitions, so each task must hear of each.
Status RouteStage::SendMarks() {
  for (const PartitionTime::Partition& p : partition_time_.partitions()) {
    if (!p.assigned) continue;
    ShuffleMark mark;
    mark.source.topic = topic_names_[p.key.topic];
    mark.source.partition = p.key.partition;
    mark.source.partition_time_ms = p.time == PartitionTime::kNone ? kShuffleNoTime : p.time;
    for (const Read& r : last_read_) {
      if (r.topic == p.key.topic && r.partition == p.key.partition) mark.source.offset = r.offset;
    }
    mark.idle = p.idle;
    bytes_.clear();
    EncodeShuffleMark(mark, bytes_);
    for (int32_t i = 0; i < options_.partitions; ++i) {
      if (Status st = Send(i); !st.ok()) return st;
      ++counters_.marks;
    }
  }
  return Status::Ok();
}

Status RouteStage::Pass(int64_t now_ms, std::chrono::milliseconds wait) {
  partition_time_.SetMaxTime(now_ms + options_.allowed_lateness_ms);
  if (!txn_open_ && uncommitted_.empty()) pending_since_ms_ = now_ms;
  connectors::Record record;
  for (size_t n = 0; n < kMaxRecordsPerPass; ++n) {
    Result<connectors::NextStatus> next =
        input_->Next(n == 0 ? wait : std::chrono::milliseconds(0), &record);
    if (!next.ok()) return next.status();
    if (*next == connectors::NextStatus::kPartition) {
      if (Status st = HandlePartitionEvent(record, now_ms); !st.ok()) return st;
      continue;
    }
    if (*next != connectors::NextStatus::kRecord) break;
    if (Status st = HandleRecord(record); !st.ok()) return st;
  }
  expired_.clear();
  partition_time_.ExpireIdle(now_ms, expired_);
  if (now_ms - marks_at_ms_ >= options_.mark_interval_ms || !expired_.empty()) {
    marks_at_ms_ = now_ms;
    if (Status st = SendMarks(); !st.ok()) return st;
  }
  if (txn_) {
    if (now_ms - pending_since_ms_ < options_.commit_interval_ms) return Status::Ok();
    return CommitTransaction();
  }
  if (unacked_.empty()) {
    (void)producer_->Flush(std::chrono::milliseconds(0));  // serves delivery reports
    return Status::Ok();
  }
  // Every record produced from these offsets is acknowledged before they may be committed; a
  // dead letter has an answer (failures are logged by the producer and counted).
  if (Status st = producer_->Flush(kAckTimeout); !st.ok()) return st;
  if (dead_letters_) (void)dead_letters_->Flush(kAckTimeout);
  for (const connectors::Record& r : unacked_) input_->MarkProcessed(r);
  unacked_.clear();
  return Status::Ok();
}

Status RouteStage::Close() {
  if (txn_) {
    // What was read so far is committed with what it produced; the group is left after.
    Status committed = CommitTransaction();
    if (dead_letters_) (void)dead_letters_->Flush(kAckTimeout);
    Status closed = input_->Close();
    return committed.ok() ? closed : committed;
  }
  Status flushed = producer_->Flush(kAckTimeout);
  if (dead_letters_) (void)dead_letters_->Flush(kAckTimeout);
  if (flushed.ok()) {
    for (const connectors::Record& r : unacked_) input_->MarkProcessed(r);
    unacked_.clear();
  }
  Status committed = input_->Commit();
  Status closed = input_->Close();
  if (!flushed.ok()) return flushed;
  if (!committed.ok()) return committed;
  return closed;
}

}  // namespace klaxon::service
