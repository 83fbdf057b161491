#include "service/runtime.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <span>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <sys/stat.h>

#include "actions/action.h"
#include "actions/dispatcher.h"
#include "actions/outbox.h"
#include "actions/silencer.h"
#include "clock/clock.h"
#include "connectors/kafka_admin.h"
#include "connectors/kafka_producer.h"
#include "connectors/kafka_source.h"
#include "engine/duration.h"
#include "engine/time_format.h"
#include "report/status_page.h"
#include "service/admin_api.h"
#include "service/assignment_wait.h"
#include "service/decode_pool.h"
#include "service/evaluator.h"
#include "service/listen_address.h"
#include "service/notification_fields.h"
#include "service/progress_file.h"
#include "service/restore_horizon.h"
#include "service/scale_out.h"
#include "service/status_page_data.h"

namespace klaxon::service {
namespace {

// A batch is written to the outbox in one commit once it is this large or this old, or when
// the source has nothing more to hand out right now.
constexpr size_t kMaxBatchNotifications = 256;
constexpr size_t kMaxBatchRecords = 1024;
constexpr auto kMaxBatchDelay = std::chrono::milliseconds(5);
constexpr uint64_t kEvalLatencySampleEvery = 16;
// Decoding runs on worker threads (service/decode_pool.h); at most 8 x 128 records are in flight.
constexpr int kDecodeWorkers = 2;
constexpr size_t kDecodeBatches = 8;
constexpr int64_t kAheadWarningIntervalMs = 60000;  // events ahead of the clock: one line a minute
// Notifications the outbox refused are retried after 200 ms, doubling up to 10 s; the error and
// the checkpoints skipped meanwhile are logged once a minute.
constexpr int64_t kUnstoredFirstRetryMs = 200;
constexpr int64_t kUnstoredMaxRetryMs = 10000;
constexpr int64_t kUnstoredLogIntervalMs = 60000;

bool LogDue(int64_t now_ms, int64_t logged_at_ms) {
  return logged_at_ms == INT64_MIN || now_ms - logged_at_ms >= kUnstoredLogIntervalMs;
}

// The file at `path` is the one identified by (dev, ino): not deleted or replaced.
bool SameFile(const std::string& path, uint64_t dev, uint64_t ino) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_dev) == dev &&
         static_cast<uint64_t>(st.st_ino) == ino;
}

// The consumer's wait for partitions, told once it lasts and once it ends (AssignmentWait).
void LogAssignmentWait(AssignmentWait& wait, bool assigned, int64_t now_ms, LogSink& log) {
  const AssignmentWait::Note note = wait.Observe(assigned, now_ms);
  if (note.change == AssignmentWait::Change::kWaiting) {
    log.Info("waiting for the consumer group to assign partitions",
             {{"waited", FormatDurationMs(note.waited_ms)}, {"reason", wait.Reason()}});
  } else if (note.change == AssignmentWait::Change::kAssigned) {
    log.Info("partitions assigned after waiting", {{"waited", FormatDurationMs(note.waited_ms)}});
  }
}

}  // namespace

struct Runtime::Loaded {
  RuleBundle bundle;
  std::unique_ptr<Engine> engine;
  std::shared_ptr<const RuleSet> rules;  // a copy the admin threads may read
};

// Delivery pieces that outlive reloads.
struct Runtime::Delivery {
  std::unique_ptr<actions::Outbox> outbox;
  // Silences live in the outbox's file; thread-safe, and never replaced by a reload, so the
  // admin server's silence endpoints may use it directly.
  std::unique_ptr<actions::Silencer> silencer;
};

Runtime::Runtime(RuntimeOptions options, LogSink& log, const Clock& clock)
    : options_(std::move(options)), log_(log), clock_(clock) {}

Runtime::~Runtime() {
  if (admin_) admin_->Stop();
  if (dispatcher_) dispatcher_->Stop();
}

int64_t Runtime::NowMs() const { return clock_.NowMs(); }

int Runtime::admin_port() const { return admin_ ? admin_->port() : 0; }

Result<std::unique_ptr<Runtime::Loaded>> Runtime::Load(Engine* previous) {
  Result<RuleBundle> bundle = options_.load_rules();
  if (!bundle.ok()) return bundle.status();
  auto loaded = std::make_unique<Loaded>();
  loaded->bundle = std::move(bundle).value();
  loaded->rules = std::make_shared<const RuleSet>(loaded->bundle.rules);
  Result<std::unique_ptr<Engine>> engine =
      Engine::Create(loaded->bundle.rules, options_.engine, previous);
  if (!engine.ok()) return engine.status();
  loaded->engine = std::move(engine).value();
  return loaded;
}

Status Runtime::StartDispatcher(const actions::DispatcherStats* counters_from,
                                std::shared_ptr<actions::DeliveryHistory> history) {
  std::vector<const actions::Action*> list;
  for (const auto& a : loaded_->bundle.actions) list.push_back(a.get());
  actions::DispatcherOptions options = options_.delivery;
  options.counters_from = counters_from;
  options.history = std::move(history);
  options.silencer = delivery_->silencer.get();
  options.log = [this](LogLevel level, const std::string& message) {
    log_.Log(level, "delivery", {{"detail", message}});
  };
  Result<std::unique_ptr<actions::Dispatcher>> d = actions::Dispatcher::Start(
      *delivery_->outbox, std::move(list), *options_.transport, clock_, options);
  if (!d.ok()) return d.status();
  dispatcher_ = std::move(d).value();
  return Status::Ok();
}

// After a successful load: the commit horizon and what the admin server shows follow the rules.
void Runtime::AdoptLoadedRules() {
  // Decoders belong to one engine's field table; nothing is in flight here (see Run).
  decode_pool_.reset();
  if (!evaluator_) {
    evaluator_ = std::make_unique<Evaluator>(loaded_->engine.get(), partition_time_.get(),
                                             options_.engine.allowed_lateness_ms);
  } else {
    evaluator_->SetEngine(loaded_->engine.get());  // event time goes on where it was
  }
  const Engine& engine = *loaded_->engine;
  decode_pool_ =
      std::make_unique<DecodePool>([&engine] { return engine.NewDecoder(); }, kDecodeWorkers,
                                   kDecodeBatches, options_.message_format);
  // With checkpoints a restart continues from the stored state; the horizon re-read is only the
  // fallback without a state store.
  state_horizon_ms_ = state_ ? 0
                             : RestoreHorizonMs(loaded_->bundle.rules, options_.engine,
                                                options_.restore_horizon_ms);
  rule_files_ = loaded_->bundle.files;
  rule_sha256_ = loaded_->bundle.sha256;
  last_reload_successful_ = true;
  last_reload_success_ms_ = NowMs();
}

struct Runtime::Restoring {
  std::optional<service::Checkpoint> checkpoint;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::duration read{};
  std::chrono::steady_clock::duration restore{};
  Status status;
  std::jthread thread;  // last: joined first when this goes away
};

Status Runtime::Start() {
  start_time_ms_ = NowMs();
  if (options_.source_kind == "kafka") {
    // Event time per partition: the engine's watermark is moved only by AdvanceToPartitionTime.
    options_.engine.advance_on_event = false;
    int64_t skew = options_.max_partition_skew_ms;
    if (skew <= 0) skew = std::max<int64_t>(4 * options_.engine.allowed_lateness_ms, 10000);
    int64_t idle = options_.partition_idle_timeout_ms;
    if (idle <= 0) idle = std::max<int64_t>(options_.engine.allowed_lateness_ms, 1000);
    partition_time_ = std::make_unique<PartitionTime>(skew, idle);
    partition_time_->SetUnassignedHold(options_.unassigned_partition_hold_ms);
    if (!options_.state_path.empty()) {
      // An outbox without its state store is an earlier run whose state was lost (deleted,
      // another disk, a new path): never go on from silently empty state.
      std::error_code ec;
      if (!options_.fresh_state && !std::filesystem::exists(options_.state_path, ec) &&
          std::filesystem::exists(options_.outbox_path, ec)) {
        return Status::FailedPrecondition(
            "state store " + options_.state_path + " is missing, but the outbox " +
            options_.outbox_path +
            " shows an earlier run: its state (windows, alerts, offsets) would be lost. Restore "
            "the file, or start with empty state deliberately: klaxon run --fresh-state");
      }
      Result<std::unique_ptr<StateStore>> store = StateStore::Open(options_.state_path);
      if (!store.ok()) return store.status();
      state_ = std::move(store).value();
      NoteStateFile();
    }
  }
  Result<std::unique_ptr<Loaded>> loaded = Load(nullptr);
  if (!loaded.ok()) return loaded.status();
  loaded_ = std::move(loaded).value();
  AdoptLoadedRules();
  // Declared before anything that may return early, so the restore thread is joined on every
  // path before what it uses goes away.
  Restoring restoring;
  if (Status st = ReadCheckpoint(restoring); !st.ok()) return st;
  log_.Info("rules loaded", {{"rules", std::to_string(loaded_->bundle.rules.rules.size())},
                             {"actions", std::to_string(loaded_->bundle.actions.size())},
                             {"files", std::to_string(loaded_->bundle.files.size())}});

  delivery_ = std::make_unique<Delivery>();
  Result<std::unique_ptr<actions::Outbox>> outbox = actions::Outbox::Open(options_.outbox_path);
  if (!outbox.ok()) return outbox.status();
  delivery_->outbox = std::move(outbox).value();
  Result<std::unique_ptr<actions::Silencer>> silencer =
      actions::Silencer::Open(options_.outbox_path, clock_.NowMs());
  if (!silencer.ok()) return silencer.status();
  delivery_->silencer = std::move(silencer).value();
  if (!options_.transport) return Status::InvalidArgument("no transport for the actions");
  if (Status st = StartDispatcher(); !st.ok()) return st;

  auto kafka_log = [this](LogLevel level, std::string_view message) {
    log_.Log(level, "kafka", {{"detail", std::string(message)}});
  };
  if (options_.source_kind == "kafka" && options_.scale_out.enabled) {
    if (Status st = StartScaleOut(loaded_->bundle.rules); !st.ok()) return st;
  } else if (options_.source_kind == "kafka") {
    connectors::KafkaSourceOptions options = options_.kafka;
    options.client.log = kafka_log;
    options.partition_events = true;
    options.resume_own_position = true;
    const connectors::KafkaClientOptions& client_options = options.client;
    Result<std::unique_ptr<connectors::KafkaSource>> source =
        connectors::KafkaSource::Open(options);
    if (!source.ok()) return source.status();
    kafka_ = source->get();
    source_ = std::move(source).value();
    for (const PartitionOffset& o : restored_offsets_) {
      kafka_->StartAt(o.topic, o.partition, o.next_offset);
      admitted_.push_back({TopicIndex(o.topic), o.partition, o.next_offset});
      if (o.event_time_ms == INT64_MIN) continue;
      // A topic taken out of `kafka.topics` is read by no one here: its partition's time would
      // hold event time back (and alignment pause every other partition) for the unassigned
      // hold. Its offset stays in the checkpoint, so adding the topic back resumes it.
      if (!Subscribed(o.topic)) {
        log_.Info("the checkpoint's partition of a topic no longer subscribed holds no time back",
                  {{"topic", o.topic}, {"partition", std::to_string(o.partition)}});
        continue;
      }
      partition_time_->Restore({TopicIndex(o.topic), o.partition}, o.event_time_ms, NowMs());
      // The wall clock moves event time on from here while nothing arrives, as before the stop.
      if (o.event_time_ms > newest_event_ms_) {
        newest_event_ms_ = o.event_time_ms;
        newest_event_wall_stale_ = true;
      }
    }
    HoldUnassignedPartitions(client_options);
    // Quiet time goes on from where the checkpoint left it: while every partition was idle the
    // wall clock had moved the engine past the newest event, and from the checkpoint's wall
    // time on it still does (the downtime was quiet too, unless the backlog says otherwise,
    // which is read first). Starting from the newest event again would live through the quiet
    // time before the stop once more: a flatline due 2 minutes after a restart fired 10 later.
    if (!restored_offsets_.empty()) {
      const int64_t watermark = loaded_->engine->Watermark();
      if (watermark != INT64_MIN && watermark > newest_event_ms_ && checkpoint_time_ms_ > 0) {
        newest_event_ms_ = watermark;
        newest_event_wall_ms_ = checkpoint_time_ms_;
        newest_event_wall_stale_ = false;
      }
    }
    // Without checkpoints a restart re-reads the restore horizon and suppresses what the last
    // run had handed over. With them it goes on from the checkpoint: only what came after it is
    // evaluated again (after a crash), and that recomputes the same notifications under the same
    // idempotency keys, which the outbox stores once. Suppressing by the record that happens to
    // release a notification would drop some: with several partitions that record differs
    // between runs.
    if (!state_) LoadProgress();
    if (!options_.dead_letter_topic.empty()) {
      Result<std::unique_ptr<connectors::KafkaDeadLetterProducer>> producer =
          connectors::KafkaDeadLetterProducer::Open(
              {.client = client_options, .topic = options_.dead_letter_topic});
      if (!producer.ok()) return producer.status();
      dead_letters_ = std::move(producer).value();
    }
    if (Status st = StartSentry(&client_options); !st.ok()) return st;
  } else if (options_.source_kind == "sentry") {
    if (Status st = StartSentry(nullptr); !st.ok()) return st;
    source_ = sentry_->NewSource();
  } else {
    if (!options_.source) return Status::InvalidArgument("no source for " + options_.source_kind);
    source_ = std::move(options_.source);
  }

  if (Status st = FinishRestore(restoring); !st.ok()) return st;

  AdminHandlers handlers;
  handlers.metrics = [this] {
    std::string text = MetricsText(*board_.Latest(), histograms_);
    // The endpoint's counters are atomics of an object that outlives the admin server.
    if (sentry_) sentry_->AppendMetrics(text);
    return text;
  };
  handlers.ready = [this] {
    const std::shared_ptr<const RuntimeSnapshot> s = board_.Latest();
    return started_.load() && !stopping_.load() && s->source_ready && s->counters.unstored == 0 &&
           s->scale_out.restoring == 0;
  };
  handlers.not_ready_reason = [this] {
    const std::shared_ptr<const RuntimeSnapshot> s = board_.Latest();
    if (s->scale_out.restoring > 0) {
      return std::to_string(s->scale_out.restoring) +
             " repartition partition(s) restoring their state from the changelog";
    }
    if (s->counters.unstored == 0) return std::string();
    return std::to_string(s->counters.unstored) +
           " notifications could not be stored in the outbox yet (retrying; no checkpoint "
           "until they are)";
  };
  handlers.rules_json = [this] { return RulesJson(*board_.Latest()); };
  handlers.alerts_json = [this] { return AlertsJson(*board_.Latest()); };
  if (options_.enable_reload_endpoint) {
    handlers.reload = [this] {
      // The run loop performs the reload; wait for its verdict.
      std::unique_lock<std::mutex> lock(reload_mu_);
      const uint64_t ticket = ++reload_requests_;
      reload_requested_.store(true);
      reload_cv_.wait_for(lock, std::chrono::seconds(30),
                          [&] { return reload_done_ >= ticket || stopping_.load(); });
      if (reload_done_ < ticket) return Status::Unavailable("reload did not complete");
      return reload_result_;
    };
  }
  handlers.silences = [this](const std::string& method, const std::string& id,
                             const std::string& body) {
    actions::Silencer& silencer = *delivery_->silencer;
    const int64_t now = NowMs();
    if (method == "POST" || method == "DELETE") {
      // Who muted what is worth a line in the log (the status page's forms log theirs too).
      ApiResponse r =
          method == "POST" ? PostSilence(silencer, body, now) : DeleteSilence(silencer, id, now);
      if (r.status == 200 && method == "POST") {
        log_.Info("silence added through the API", {{"answer", r.body}});
      } else if (r.status == 200) {
        log_.Info("silence expired through the API", {{"id", id}});
      }
      return r;
    }
    return id.empty() ? ListSilences(silencer, now) : GetSilence(silencer, id, now);
  };
  handlers.status_page = [this](const std::string& message) {
    std::vector<actions::Silence> silences = delivery_->silencer->List();
    report::StatusPageData d = StatusPageDataFrom(*board_.Latest(), silences, NowMs());
    d.message = message;
    d.silence_forms = status_forms_;
    d.token_field = status_token_field_;
    d.csrf_token = csrf_token_;
    return report::RenderStatusPage(d);
  };
  handlers.silence_form = [this](const std::string& form,
                                 const std::map<std::string, std::string>& fields) {
    return SilenceForm(form, fields);
  };
  handlers.csrf_token = csrf_token_;
  handlers.token = options_.admin_token;
  status_token_field_ = !handlers.token.empty();
  status_forms_ = status_token_field_ || IsLoopbackListen(options_.admin_listen);
  Result<std::unique_ptr<AdminServer>> admin = AdminServer::Start(options_.admin_listen, handlers);
  if (!admin.ok()) return admin.status();
  admin_ = std::move(admin).value();
  log_.Info("admin server listening",
            {{"address", options_.admin_listen}, {"port", std::to_string(admin_->port())}});
  PublishSnapshot();
  started_.store(true);
  return Status::Ok();
}

Status Runtime::Reload() {
  if (scale_out_) {
    return Status::FailedPrecondition(
        "reload is not supported with scale_out yet: restart the instance to load new rules");
  }
  Result<std::unique_ptr<Loaded>> next = Load(loaded_->engine.get());
  if (!next.ok()) {
    last_reload_successful_ = false;
    log_.Error("reload failed; keeping the previous rules", {{"error", next.status().message()}});
    return next.status();
  }
  // The engine moved the state of unchanged rules over; swap delivery to the new actions.
  // Undelivered items stay in the outbox and are picked up by the new dispatcher.
  dispatcher_->Stop();
  // Counters and the status page's history go on: a reload is not a restart.
  const actions::DispatcherStats counters = dispatcher_->Stats();
  std::shared_ptr<actions::DeliveryHistory> history = dispatcher_->history();
  dispatcher_.reset();
  std::unique_ptr<Loaded> old = std::move(loaded_);
  loaded_ = std::move(next).value();
  if (Status st = StartDispatcher(&counters, std::move(history)); !st.ok()) {
    log_.Error("cannot restart delivery after reload", {{"error", st.message()}});
    return st;
  }
  AdoptLoadedRules();
  log_.Info("rules reloaded", {{"rules", std::to_string(loaded_->bundle.rules.rules.size())}});
  return Status::Ok();
}

void Runtime::Queue(std::vector<Notification>& notes) {
  if (notes.empty()) return;
  if (batch_.empty()) batch_started_ = std::chrono::steady_clock::now();
  for (Notification& n : notes) batch_.push_back(std::move(n));
  notes.clear();
}

void Runtime::FlushNotifications() {
  if (newest_event_wall_stale_) {
    // At most one batch late, so idle event time starts a few ms behind at worst (never ahead).
    newest_event_wall_ms_ = NowMs();
    newest_event_wall_stale_ = false;
  }
  if (!batch_.empty()) {
    // Behind notifications still waiting to be stored, a batch waits too: order is kept.
    if (unstored_.empty() && Store(batch_, /*first=*/true)) {
      const int64_t now = NowMs();
      for (int64_t broker_ms : batch_broker_ms_) {
        histograms_.outbox.Observe(static_cast<double>(now - broker_ms) / 1000.0);
      }
    } else {
      if (unstored_.empty()) {  // this batch was refused: retry it after the first backoff
        unstored_backoff_ms_ = kUnstoredFirstRetryMs;
        unstored_retry_at_ms_ = NowMs() + unstored_backoff_ms_;
      }
      for (Notification& n : batch_) unstored_.push_back(std::move(n));
    }
    batch_.clear();
  }
  batch_broker_ms_.clear();
  // The records behind this batch are now handed over: remember how far each partition got.
  if (kafka_ != nullptr && unstored_.empty() && unflushed_records_ > 0) {
    const Pending* last = nullptr;
    int64_t* mark = nullptr;
    for (size_t i = pending_.size() - unflushed_records_; i < pending_.size(); ++i) {
      const Pending& p = pending_[i];
      if (last == nullptr || p.partition != last->partition || p.topic != last->topic) {
        mark = &evaluated_[{topic_names_[p.topic], p.partition}];
      }
      last = &p;
      if (p.offset > *mark) {
        *mark = p.offset;
        progress_dirty_ = true;
      }
    }
  }
  unflushed_records_ = 0;
}

bool Runtime::Store(const std::vector<Notification>& notes, bool first) {
  Status st = dispatcher_->Submit(std::span<const Notification>(notes), loaded_->bundle.rules);
  if (st.ok()) {
    notifications_submitted_ += notes.size();
    for (const Notification& n : notes) {
      const Rule& rule = loaded_->bundle.rules.rules[n.rule_index];
      log_.Info("notification", {{"rule", rule.name},
                                 {"state", AlertStateName(n.state)},
                                 {"at", FormatTimeMs(n.at_ms)},
                                 {"value", FormatValue(n.value)}});
    }
    return true;
  }
  // Not handed over: kept in memory and retried; offsets and checkpoints wait for them.
  if (first) submit_failures_ += notes.size();
  unstored_error_ = st.message();
  const int64_t now = NowMs();
  if (LogDue(now, unstored_logged_at_ms_)) {
    unstored_logged_at_ms_ = now;
    log_.Error(
        "cannot store notifications; keeping them in memory and retrying, no checkpoint "
        "until they are stored",
        {{"notifications", std::to_string(unstored_.size() + (first ? notes.size() : 0))},
         {"error", st.message()}});
  }
  return false;
}

bool Runtime::RetryUnstored(bool now_regardless) {
  if (unstored_.empty()) return true;
  const int64_t now = NowMs();
  if (!now_regardless && now < unstored_retry_at_ms_) return false;
  if (!Store(unstored_, /*first=*/false)) {
    unstored_backoff_ms_ = std::min(2 * unstored_backoff_ms_, kUnstoredMaxRetryMs);
    unstored_retry_at_ms_ = now + unstored_backoff_ms_;
    return false;
  }
  log_.Info("notifications stored after an outbox failure; checkpoints resume",
            {{"notifications", std::to_string(unstored_.size())}});
  unstored_.clear();
  unstored_error_.clear();
  unstored_logged_at_ms_ = INT64_MIN;
  checkpoint_due_ = true;
  return true;
}

void Runtime::CountSkipped(const std::string& type) {
  // Types come from the topic: past kMaxSkippedTypes distinct ones they are counted together.
  constexpr size_t kMaxSkippedTypes = 32;
  auto it = skipped_by_type_.find(type);
  if (it == skipped_by_type_.end()) {
    it = skipped_by_type_.size() < kMaxSkippedTypes
             ? skipped_by_type_.emplace(type, 0).first
             : skipped_by_type_.try_emplace("other", 0).first;
  }
  ++it->second;
}

int64_t Runtime::DeadLetter(const DecodePool::Item& record, RejectReason reason) {
  log_.Debug("event rejected", {{"reason", RejectReasonName(reason)},
                                {"detail", record.detail},
                                {"partition", std::to_string(record.partition)},
                                {"offset", std::to_string(record.offset)}});
  if (!dead_letters_) return 0;
  dead_letter_.payload = record.event.raw;  // a rejected event keeps the record's bytes
  dead_letter_.key = record.key;
  dead_letter_.topic.assign(record.topic);
  dead_letter_.partition = record.partition;
  dead_letter_.offset = record.offset;
  dead_letter_.broker_timestamp_ms = record.broker_timestamp_ms;
  Status st = dead_letters_->Send(dead_letter_, RejectReasonName(reason), record.detail);
  if (!st.ok()) {
    log_.Error("cannot produce to the dead-letter topic", {{"error", st.message()}});
    return 0;
  }
  ++dead_lettered_;
  return static_cast<int64_t>(dead_lettered_);
}

uint32_t Runtime::TopicIndex(const std::string& topic) {
  if (last_topic_ < topic_names_.size() && topic_names_[last_topic_] == topic) return last_topic_;
  for (uint32_t i = 0; i < topic_names_.size(); ++i) {
    if (topic_names_[i] == topic) return last_topic_ = i;
  }
  topic_names_.push_back(topic);
  return last_topic_ = static_cast<uint32_t>(topic_names_.size() - 1);
}

int64_t Runtime::HandedBefore(uint32_t topic, int32_t partition) {
  for (const Handed& h : handed_before_) {
    if (h.topic == topic && h.partition == partition) return h.offset;
  }
  auto it = evaluated_before_.find({topic_names_[topic], partition});
  handed_before_.push_back({topic, partition, it == evaluated_before_.end() ? -1 : it->second});
  return handed_before_.back().offset;
}

void Runtime::HandlePartitionEvent(const DecodePool::Item& record) {
  if (!partition_time_) return;
  const PartitionTime::Key key{TopicIndex(record.topic), record.partition};
  switch (record.partition_event) {
    case connectors::PartitionEvent::kAssigned:
      partition_time_->Assign(key);
      return;  // an assigned partition only ever holds time back
    case connectors::PartitionEvent::kRevoked:
      partition_time_->Revoke(key, NowMs());
      break;
    case connectors::PartitionEvent::kEnd:
      log_.Debug("partition end", {{"partition", std::to_string(record.partition)},
                                   {"offset", std::to_string(record.offset)}});
      partition_time_->End(key, NowMs(), record.offset, [this](PartitionTime::Key k) {
        return kafka_ != nullptr && kafka_->Behind(topic_names_[k.topic], k.partition);
      });
      break;
    case connectors::PartitionEvent::kNone:
      return;
  }
  AdvanceToPartitionTime();
  PartitionTime::Partition ended;
  ended.key = key;
  ended.end_offset =
      record.partition_event == connectors::PartitionEvent::kEnd ? record.offset : INT64_MAX;
  QueueReleased(ended);
}

void Runtime::QueueReleased(const PartitionTime::Partition& p) {
  if (notes_.empty()) return;
  // A partition's end stands for its last record (the one before the end offset).
  const bool suppress = !evaluated_before_.empty() && p.end_offset != INT64_MAX &&
                        p.end_offset - 1 <= HandedBefore(p.key.topic, p.key.partition);
  if (suppress) {
    suppressed_ += notes_.size();
    notes_.clear();
  } else {
    Queue(notes_);
  }
}

void Runtime::NoteAdmitted(uint32_t topic, int32_t partition, int64_t offset) {
  if (admitted_last_ < admitted_.size()) {
    Admitted& last = admitted_[admitted_last_];
    if (last.topic == topic && last.partition == partition) {
      last.next_offset = std::max(last.next_offset, offset + 1);
      return;
    }
  }
  for (size_t i = 0; i < admitted_.size(); ++i) {
    if (admitted_[i].topic == topic && admitted_[i].partition == partition) {
      admitted_last_ = i;
      admitted_[i].next_offset = std::max(admitted_[i].next_offset, offset + 1);
      return;
    }
  }
  admitted_.push_back({topic, partition, offset + 1});
  admitted_last_ = admitted_.size() - 1;
}

Status Runtime::ReadCheckpoint(Restoring& restoring) {
  if (!state_) return Status::Ok();
  // How long a restart takes goes with the state's size: the log says where the time went.
  restoring.started = std::chrono::steady_clock::now();
  Result<std::optional<service::Checkpoint>> checkpoint = state_->Load();
  if (!checkpoint.ok()) return checkpoint.status();
  if (!checkpoint->has_value()) {
    log_.Info("no checkpoint yet; starting with empty state", {{"path", state_->path()}});
    return Status::Ok();
  }
  restoring.checkpoint = std::move(*checkpoint);
  restoring.read = std::chrono::steady_clock::now() - restoring.started;
  restored_offsets_ = restoring.checkpoint->offsets;
  checkpoint_time_ms_ = restoring.checkpoint->saved_at_ms;
  // Nothing else touches the engine until FinishRestore (its decoders, made already, read only
  // the field table).
  restoring.thread = std::jthread([&restoring, engine = loaded_->engine.get()] {
    const auto t0 = std::chrono::steady_clock::now();
    restoring.status = restoring.checkpoint->Restore(*engine);
    restoring.restore = std::chrono::steady_clock::now() - t0;
  });
  return Status::Ok();
}

Status Runtime::FinishRestore(Restoring& restoring) {
  if (!restoring.checkpoint) return Status::Ok();
  restoring.thread.join();
  if (!restoring.status.ok()) {
    // Never silently empty: an operator decides to throw state away.
    return Status::FailedPrecondition("state store " + state_->path() + ": " +
                                      restoring.status.message() +
                                      " (move the file away to start with empty state)");
  }
  const service::Checkpoint& c = *restoring.checkpoint;
  // The store holds these groups already: the next checkpoint appends only what changes.
  const bool in_place = loaded_->engine->ContinueChanges(c.last_rank);
  auto ms = [](auto d) {
    return FormatDurationMs(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  log_.Info("state restored", {{"path", state_->path()},
                               {"bytes", std::to_string(c.Bytes())},
                               {"partitions", std::to_string(c.offsets.size())},
                               {"next_checkpoint", in_place ? "incremental" : "whole"},
                               {"read", ms(restoring.read)},
                               {"restore", ms(restoring.restore)},
                               {"total", ms(std::chrono::steady_clock::now() - restoring.started)},
                               {"saved_at", FormatTimeMs(c.saved_at_ms)}});
  restoring.checkpoint.reset();  // the rows' buffers: the engine holds its own copy now
  return Status::Ok();
}

void Runtime::NoteStateFile() {
  struct stat st {};
  if (::stat(state_->path().c_str(), &st) == 0) {
    state_dev_ = static_cast<uint64_t>(st.st_dev);
    state_ino_ = static_cast<uint64_t>(st.st_ino);
  }
}

bool Runtime::ReopenStateIfGone() {
  if (SameFile(state_->path(), state_dev_, state_ino_)) return true;
  // A checkpoint into a deleted file is lost at the next start: write a new file, whole.
  log_.Error(
      "the state store was deleted or replaced while running; writing the whole state "
      "into a new file",
      {{"path", state_->path()}});
  Result<std::unique_ptr<StateStore>> store = StateStore::Open(state_->path());
  if (!store.ok()) {
    log_.Error("cannot reopen the state store", {{"error", store.status().message()}});
    return false;
  }
  state_ = std::move(store).value();
  NoteStateFile();
  loaded_->engine->ResendAllChanges();
  return true;
}

bool Runtime::Checkpoint(const char* why) {
  if (!state_) return false;
  FlushNotifications();
  const auto t0 = std::chrono::steady_clock::now();
  checkpoint_at_ms_ = NowMs();
  checkpoint_due_ = false;
  // What the engine produced must be in the outbox before a checkpoint skips past it.
  if (!unstored_.empty()) {
    ++checkpoint_failures_;
    if (LogDue(checkpoint_at_ms_, unstored_logged_at_ms_)) {
      unstored_logged_at_ms_ = checkpoint_at_ms_;
      log_.Error("no checkpoint: notifications not stored in the outbox yet",
                 {{"why", why},
                  {"notifications", std::to_string(unstored_.size())},
                  {"error", unstored_error_}});
    }
    return false;
  }
  if (!ReopenStateIfGone()) {
    ++checkpoint_failures_;
    return false;
  }
  if (dead_letters_) {
    if (Status st = dead_letters_->Flush(std::chrono::seconds(5)); !st.ok()) {
      ++checkpoint_failures_;
      log_.Error("no checkpoint: dead letters not acknowledged", {{"error", st.message()}});
      return false;
    }
  }
  service::Checkpoint c;
  // Incremental: the groups changed since the last checkpoint (service/README.md).
  if (Status st = loaded_->engine->SaveStateChanges(checkpoint_changes_); !st.ok()) {
    ++checkpoint_failures_;
    log_.Error("no checkpoint: cannot save the engine's state", {{"error", st.message()}});
    return false;
  }
  c.changes = &checkpoint_changes_;
  c.saved_at_ms = NowMs();
  for (const Admitted& a : admitted_) {
    int64_t time = INT64_MIN;
    for (const auto& p : partition_time_->partitions()) {
      if (p.key.topic == a.topic && p.key.partition == a.partition) time = p.time;
    }
    c.offsets.push_back({topic_names_[a.topic], a.partition, a.next_offset, time});
  }
  const Status st = state_->Save(c);
  if (!st.ok()) {
    // The changed groups were not stored: the next checkpoint writes every group.
    loaded_->engine->ResendAllChanges();
    ++checkpoint_failures_;
    log_.Error("checkpoint failed", {{"why", why}, {"error", st.message()}});
    return false;
  }
  // Kafka's committed offsets follow completed checkpoints, as Flink commits them: a restart
  // that finds a partition missing from the checkpoint reads it from an offset the checkpoint's
  // state does not go past (consumer-lag monitoring trails by a checkpoint interval).
  for (const PartitionOffset& o : c.offsets) {
    mark_record_.topic.assign(o.topic);
    mark_record_.partition = o.partition;
    mark_record_.offset = o.next_offset - 1;
    if (mark_record_.offset >= 0) source_->MarkProcessed(mark_record_);
  }
  ++checkpoints_;
  checkpoint_bytes_ = state_->last_save_bytes();
  checkpoint_time_ms_ = c.saved_at_ms;
  checkpoint_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log_.Debug("checkpoint", {{"why", why}, {"bytes", std::to_string(checkpoint_bytes_)}});
  return true;
}

// Every partition of the subscribed topics holds event time back until this process is
// assigned it (or the unassigned hold runs out), not only those of the checkpoint: a partition
// held by a killed member of the group from the first start on is in no checkpoint, and
// evaluating past it would count its events late once it comes. Topics named by a regex are
// not listed (their partitions hold time once assigned, as before).
void Runtime::HoldUnassignedPartitions(const connectors::KafkaClientOptions& client_options) {
  if (options_.unassigned_partition_hold_ms <= 0) return;
  Result<std::unique_ptr<connectors::KafkaAdmin>> admin =
      connectors::KafkaAdmin::Open(client_options, std::chrono::seconds(5));
  if (!admin.ok()) return;  // the consumer reports the same settings
  for (const std::string& topic : options_.kafka.topics) {
    if (!topic.empty() && topic[0] == '^') continue;
    Result<int> count = (*admin)->PartitionCount(topic);
    if (!count.ok()) {
      if (count.status().code() != StatusCode::kNotFound) {
        log_.Warn("cannot list the topic's partitions; those not assigned here hold no time back",
                  {{"topic", topic}, {"detail", count.status().message()}});
      }
      continue;
    }
    for (int p = 0; p < *count; ++p) {
      partition_time_->Restore({TopicIndex(topic), p}, PartitionTime::kNone, NowMs());
    }
  }
}

bool Runtime::Subscribed(const std::string& topic) const {
  for (const std::string& t : options_.kafka.topics) {
    // A pattern (librdkafka's `^` regex) may match it: keep holding, as before.
    if (t == topic || (!t.empty() && t[0] == '^')) return true;
  }
  return false;
}

int64_t Runtime::AheadBound(int64_t now_ms) const {
  const int64_t lateness = options_.engine.allowed_lateness_ms;
  if (now_ms <= 0) return INT64_MAX;  // before the run loop's first pass read the clock
  return now_ms > INT64_MAX - lateness ? INT64_MAX : now_ms + lateness;
}

void Runtime::ExpireIdlePartitions() {
  if (!partition_time_ || !partition_time_->HasCaughtUp()) return;
  expired_.clear();
  partition_time_->ExpireIdle(NowMs(), expired_);
  if (expired_.empty()) return;
  PartitionTime::Partition released;  // stands for no record of its own
  released.end_offset = INT64_MAX;
  for (const PartitionTime::Partition& p : expired_) {
    if (p.assigned) {
      released = p;
      continue;
    }
    // Owned by no process of this group that reads it: a second instance, or a killed one
    // whose session did not expire within the hold.
    log_.Warn("partition not assigned to this process; event time no longer waits for it",
              {{"topic", topic_names_[p.key.topic]},
               {"partition", std::to_string(p.key.partition)},
               {"after_ms", std::to_string(p.hold_ms)}});
  }
  AdvanceToPartitionTime();
  QueueReleased(released);
  Align();  // a paused partition may be the slowest one left
}

void Runtime::AdvanceToPartitionTime() { evaluator_->AdvanceToPartitionTime(notes_); }

// Pauses partitions that ran too far ahead in event time and resumes those the others caught
// up with (once per decoded batch: pausing is a request to librdkafka's threads).
void Runtime::Align() {
  if (!partition_time_ || kafka_ == nullptr) return;
  pause_.clear();
  resume_.clear();
  partition_time_->TakeAlignment(pause_, resume_);
  if (!pause_.empty() || !resume_.empty()) {
    log_.Debug("alignment", {{"pause", std::to_string(pause_.size())},
                             {"resume", std::to_string(resume_.size())},
                             {"held", std::to_string(loaded_->engine->HeldEvents())}});
  }
  for (const auto& k : pause_) kafka_->Pause(topic_names_[k.topic], k.partition);
  for (const auto& k : resume_) kafka_->Resume(topic_names_[k.topic], k.partition);
}

void Runtime::HandleRecord(DecodePool::Item& record) {
  if (record.partition_event != connectors::PartitionEvent::kNone) {
    HandlePartitionEvent(record);
    return;
  }
  if (state_) NoteAdmitted(TopicIndex(record.topic), record.partition, record.offset);
  if (!record.skipped_type.empty()) {  // kafka.format sentry_ingest: not an error event
    CountSkipped(record.skipped_type);
    pending_.push_back({0, 0, TopicIndex(record.topic), record.partition, record.offset, 0});
    ++unflushed_records_;
    return;
  }
  // Reading the clock costs about as much as a tenth of an evaluation here, so the evaluation
  // time is measured on one record in kEvalLatencySampleEvery.
  const bool timed = (++records_handled_ % kEvalLatencySampleEvery) == 0;
  const auto t0 =
      timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  const uint32_t topic = TopicIndex(record.topic);
  if (record.truncated) ++oversized_;
  // The engine, and with Kafka the partition's event time (service/evaluator.h).
  const ProcessResult r = evaluator_->Event(record.event, record.reason, record.truncated,
                                            {topic, record.partition}, notes_);
  if (partition_time_ && record.broker_timestamp_ms > 0) {
    partition_time_->Written({topic, record.partition}, record.broker_timestamp_ms);
  }
  // Every reject is dead-lettered, the engine's own (future_timestamp) too: a rejected event
  // is left in `record.event` with its bytes (Engine::ProcessDecoded).
  const int64_t dead_letter =
      r.rejected != RejectReason::kNone ? DeadLetter(record, r.rejected) : 0;
  if (kafka_ != nullptr) errors_at_last_record_ = kafka_->counters().transient_errors;
  if (r.rejected == RejectReason::kNone && !r.late) {
    ahead_of_clock_.Observe(r.event_time_ms, clock_ms_);
  }
  // Quiet time runs on from the newest event, but not from one stamped ahead of the clock.
  if (r.rejected == RejectReason::kNone &&
      std::min(r.event_time_ms, AheadBound(clock_ms_)) > newest_event_ms_) {
    newest_event_ms_ = std::min(r.event_time_ms, AheadBound(clock_ms_));
    newest_event_wall_stale_ = true;  // stamped at the next flush, before any Tick reads it
  }
  if (timed) {
    histograms_.evaluation.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  // Notifications caused by a record that a previous run already evaluated were handed over
  // then; re-evaluation after a restart only rebuilds state (docs/operations.md).
  const bool suppress = kafka_ != nullptr && !evaluated_before_.empty() &&
                        record.offset <= HandedBefore(topic, record.partition);
  if (suppress) {
    suppressed_ += notes_.size();
    notes_.clear();
  } else if (!notes_.empty()) {
    if (record.broker_timestamp_ms > 0) batch_broker_ms_.push_back(record.broker_timestamp_ms);
    Queue(notes_);
  }
  pending_.push_back({r.rejected == RejectReason::kNone ? r.sequence : 0, r.event_time_ms, topic,
                      record.partition, record.offset, dead_letter});
  ++unflushed_records_;
}

void Runtime::MarkProcessed() {
  // Nothing is marked while notifications wait to be stored: they came from these records.
  if (!unstored_.empty()) return;
  const uint64_t evaluated_below = loaded_->engine->LowestUnevaluatedSequence();
  // Before any event the watermark is the lowest time there is; nothing is old enough then.
  const int64_t watermark = loaded_->engine->Watermark();
  const int64_t commit_before =
      watermark < INT64_MIN + state_horizon_ms_ ? INT64_MIN : watermark - state_horizon_ms_;
  // Records whose notifications still wait in batch_ stay unmarked until it is written.
  while (pending_.size() > unflushed_records_) {
    const Pending& p = pending_.front();
    if (p.sequence != 0 && p.sequence >= evaluated_below) break;
    if (p.sequence != 0 && p.event_time_ms > commit_before) break;
    // A dead-lettered message is handed over once the producer has an answer for it
    // (failures are logged by the producer and counted).
    if (p.dead_letter != 0 &&
        dead_letters_->delivered() + dead_letters_->failed() < p.dead_letter) {
      break;
    }
    mark_record_.topic.assign(topic_names_[p.topic]);  // reuses the string's capacity
    mark_record_.partition = p.partition;
    mark_record_.offset = p.offset;
    // With checkpoints, offsets are committed as checkpoints complete (Checkpoint): a
    // partition the last checkpoint does not cover must be read again from where it was.
    if (!state_) source_->MarkProcessed(mark_record_);
    pending_.pop_front();
  }
}

// While no events arrive, event time moves on at the pace of the wall clock from the newest
// event seen. A live stream (event time close to now) thus sees flatlines and resolves on time,
// and a backlog of old events being caught up is never made "late" by a pause between fetches.
void Runtime::Tick(int64_t now_ms) {
  if (dead_letters_) (void)dead_letters_->Flush(std::chrono::milliseconds(0));  // serve reports
  if (newest_event_ms_ == INT64_MIN) return;
  // A Kafka outage must not look like silence of the services being watched: while the
  // consumer reports connection trouble (and until a record arrives again), event time stands
  // still, so no flatline fires and no buffered event turns late.
  if (kafka_ != nullptr &&
      (!kafka_->assigned() || kafka_->counters().transient_errors != errors_at_last_record_)) {
    return;
  }
  // A partition not caught up yet (a backlog, or one paused for alignment) has events to come
  // that the wall clock must not overtake.
  if (partition_time_ && !partition_time_->AllIdle()) return;
  const int64_t event_now = newest_event_ms_ + std::max<int64_t>(0, now_ms - newest_event_wall_ms_);
  loaded_->engine->AdvanceTo(event_now, notes_);
  Queue(notes_);
  FlushNotifications();
}

void Runtime::EvaluateDecoded(bool all, bool wait) {
  bool block = all || wait;
  while (DecodePool::Batch* batch = decode_pool_->TakeDecoded(block)) {
    for (size_t i = 0; i < batch->size; ++i) {
      HandleRecord(batch->items[i]);
      // Sparklines follow event time, so a backlog read in seconds still draws its hours
      // (one comparison per record until the next step).
      if (value_history_.Sample(*loaded_->engine, loaded_->engine->Watermark())) {
        history_snapshot_.reset();
      }
      // Only queued notifications make the clock matter; offsets can wait for the count.
      if (batch_.size() >= kMaxBatchNotifications || unflushed_records_ >= kMaxBatchRecords ||
          (!batch_.empty() &&
           std::chrono::steady_clock::now() - batch_started_ >= kMaxBatchDelay)) {
        FlushNotifications();
      }
    }
    decode_pool_->Release(batch);
    Align();
    block = all;
  }
}

int Runtime::Run() {
  const auto tick = std::chrono::milliseconds(std::max<int64_t>(options_.idle_tick_ms, 10));
  auto last_snapshot = std::chrono::steady_clock::now();
  bool input_ended = false;
  int code = 0;
  connectors::Record record;
  // A consumer without partitions after this long is told why (a restart's usual wait).
  constexpr int64_t kAssignmentWaitLogMs = 5000;
  AssignmentWait assignment_wait(kAssignmentWaitLogMs,
                                 SessionTimeoutMs(options_.kafka.client.properties));
  while (!shutdown_requested_.load()) {
    // Notifications waiting to be stored refer to the current rules and actions: a reload
    // waits until they are stored.
    if (unstored_.empty() && reload_requested_.load()) {
      EvaluateDecoded(/*all=*/true, /*wait=*/true);  // decoded for the current rules
      FlushNotifications();                          // queued notifications refer to them too
    }
    if (unstored_.empty() && reload_requested_.exchange(false)) {
      // This reload answers every HTTP request made before it started.
      uint64_t covering = 0;
      {
        std::lock_guard<std::mutex> lock(reload_mu_);
        covering = reload_requests_;
      }
      Status st = Reload();
      PublishSnapshot();  // an answered reload shows in the next scrape
      std::lock_guard<std::mutex> lock(reload_mu_);
      reload_result_ = st;
      reload_done_ = covering;
      reload_cv_.notify_all();
    }
    // Only the run loop reads the clock: the future-timestamp bound moves with it.
    const int64_t now_ms = NowMs();
    clock_ms_ = now_ms;
    if (std::optional<std::string> w = ahead_of_clock_.Warning(now_ms, kAheadWarningIntervalMs)) {
      log_.Warn("events ahead of the clock", {{"detail", *w}});
    }
    loaded_->engine->SetMaxEventTime(now_ms > INT64_MAX - options_.future_limit_ms
                                         ? INT64_MAX
                                         : now_ms + options_.future_limit_ms);
    if (partition_time_) partition_time_->SetMaxTime(AheadBound(now_ms));
    if (scale_out_) {  // both stages of scale-out in place of the source and the engine
      if (!ScaleOutPass(now_ms, tick, last_snapshot)) {
        code = 1;
        break;
      }
      continue;
    }
    // Read what the source has into free batches for the decoders; wait for input only when
    // nothing is in flight.
    connectors::NextStatus last = connectors::NextStatus::kRecord;
    bool waited = false;  // `last` is kIdle after a full tick of waiting
    bool failed = false;
    // Back-pressure: while notifications the outbox refused wait, no record is read (event
    // time stands still), so memory stays bounded however long the outbox refuses. Records
    // already read are evaluated; the pass waits for the next retry or at most a tick.
    const bool held = !unstored_.empty();
    if (held) {
      std::this_thread::sleep_for(std::chrono::milliseconds(
          clock_.MaxBlockMs(std::clamp<int64_t>(unstored_retry_at_ms_ - now_ms, 1, tick.count()))));
    }
    while (!held && decode_pool_->HasFree() && last == connectors::NextStatus::kRecord && !failed) {
      DecodePool::Batch* batch = decode_pool_->Open();
      while (!batch->full()) {
        const bool wait = batch->size == 0 && decode_pool_->InFlight() == 0;
        Result<connectors::NextStatus> next =
            source_->Next(wait ? tick : std::chrono::milliseconds(0), &record);
        if (!next.ok()) {
          log_.Error("source failed", {{"error", next.status().message()}});
          code = 1;
          failed = true;
          break;
        }
        if (*next == connectors::NextStatus::kPartition) {
          batch->AddPartitionEvent(record);  // in stream order with the records
          continue;
        }
        if (*next != connectors::NextStatus::kRecord) {
          last = *next;
          waited = wait;
          break;
        }
        batch->Add(record, source_->Hold());  // the copy is made by a decode worker
      }
      if (batch->size == 0) {
        decode_pool_->Cancel(batch);
      } else {
        decode_pool_->Submit(batch);
      }
    }
    // Evaluate in input order: everything when the source has nothing more right now (time may
    // move on next), otherwise what is decoded, waiting only when every batch is in use.
    EvaluateDecoded(/*all=*/last != connectors::NextStatus::kRecord || failed,
                    /*wait=*/!decode_pool_->HasFree());
    if (failed) break;
    ExpireIdlePartitions();
    if (kafka_ != nullptr) LogAssignmentWait(assignment_wait, kafka_->assigned(), now_ms, log_);
    if (last == connectors::NextStatus::kEnd) {
      // A file without follow mode: evaluate what is held back, deliver, and stop.
      evaluator_->Finish(std::nullopt, notes_);
      Queue(notes_);
      FlushNotifications();
      input_ended = true;
    } else if (last == connectors::NextStatus::kIdle) {
      FlushNotifications();
      // Idle for a whole tick: the stream is caught up, so the wall clock moves event time
      // on; flatlines and resolves go out on time while nothing arrives.
      if (waited) Tick(NowMs());
    }
    RetryUnstored(/*now_regardless=*/false);
    MarkProcessed();
    SaveProgress(false);
    const auto now = std::chrono::steady_clock::now();
    if (state_ && checkpoint_due_) {
      Checkpoint("stored");  // the first checkpoint after an outbox failure, right away
    } else if (state_ && NowMs() - checkpoint_at_ms_ >= options_.checkpoint_interval_ms) {
      Checkpoint("interval");
    }
    if (now - last_snapshot >= std::chrono::milliseconds(200) || input_ended) {
      PublishSnapshot();
      last_snapshot = now;
    }
    if (input_ended) break;
  }
  EvaluateDecoded(/*all=*/true, /*wait=*/true);  // records already read are evaluated
  FlushNotifications();
  if (std::optional<std::string> w = ahead_of_clock_.Warning(NowMs(), 0)) {
    log_.Warn("events ahead of the clock", {{"detail", *w}});
  }
  // One more try for notifications the outbox refused: what is not stored now is computed
  // again only by re-reading the records behind it at the next start.
  if (!RetryUnstored(/*now_regardless=*/true)) {
    log_.Error(
        "notifications could not be stored in the outbox; the next start evaluates their "
        "records again from the last checkpoint (or the restore horizon) and sends them then; "
        "notifications delivered since then may be sent again",
        {{"notifications", std::to_string(unstored_.size())},
         {"last_checkpoint", checkpoint_time_ms_ > 0 ? FormatTimeMs(checkpoint_time_ms_) : "none"},
         {"error", unstored_error_}});
    code = 1;
  }
  // The state at the last record read, and where each partition goes on: the next start
  // continues exactly here, so nothing is evaluated (or notified) twice.
  if (state_ && unstored_.empty() && !Checkpoint("shutdown")) {
    log_.Error(
        "the shutdown checkpoint was not saved (see the error above); the next start restores "
        "the last checkpoint and reads every partition again from its offsets: notifications "
        "delivered since then may be sent again",
        {{"path", state_->path()},
         {"last_checkpoint",
          checkpoint_time_ms_ > 0 ? FormatTimeMs(checkpoint_time_ms_) : "none"}});
    code = 1;
  }
  // Graceful shutdown: readiness drops first, consumption stops, the outbox drains, offsets
  // are committed.
  stopping_.store(true);
  reload_cv_.notify_all();
  log_.Info("shutting down", {{"drain_timeout", FormatDurationMs(options_.drain_timeout_ms)}});
  const bool drained = dispatcher_->Drain(options_.drain_timeout_ms);
  if (!drained) {
    log_.Warn(
        "outbox not drained before the timeout; undelivered notifications stay in the "
        "outbox for the next start");
  }
  dispatcher_->Stop();
  if (dead_letters_) {
    if (Status st = dead_letters_->Flush(std::chrono::seconds(5)); !st.ok()) {
      log_.Error("dead-letter flush failed", {{"error", st.message()}});
    }
  }
  MarkProcessed();
  SaveProgress(true);
  if (scale_out_) StopScaleOut();
  if (source_ != nullptr) {
    if (Status st = source_->Commit(); !st.ok()) {
      log_.Error("offset commit failed", {{"error", st.message()}});
    }
    if (Status st = source_->Close(); !st.ok()) {
      log_.Error("source close failed", {{"error", st.message()}});
    }
  }
  PublishSnapshot();
  if (admin_) admin_->Stop();
  log_.Info("stopped");
  return code;
}

std::string Runtime::ProgressPath() const { return options_.outbox_path + ".progress"; }

void Runtime::LoadProgress() {
  Result<HandedOffsets> offsets = LoadProgressFile(ProgressPath());
  if (!offsets.ok()) {
    log_.Warn("ignoring an unreadable progress file", {{"path", ProgressPath()}});
    return;
  }
  evaluated_before_ = std::move(offsets).value();
  evaluated_ = evaluated_before_;
}

void Runtime::SaveProgress(bool force) {
  if (kafka_ == nullptr || !progress_dirty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - progress_saved_at_ < std::chrono::seconds(1)) return;
  if (Status st = SaveProgressFile(ProgressPath(), evaluated_); !st.ok()) {
    log_.Error("cannot write the progress file", {{"error", st.message()}});
    return;
  }
  progress_dirty_ = false;
  progress_saved_at_ = now;
}

void Runtime::PublishSnapshot() {
  auto s = std::make_shared<RuntimeSnapshot>();
  s->start_time_ms = start_time_ms_;
  const Engine& engine = *loaded_->engine;
  s->stats = engine.Stats();
  s->alerts = engine.ActiveAlerts();
  s->watermark_ms = engine.Watermark();
  s->held_events = engine.HeldEvents();
  s->rules = loaded_->rules;  // a copy of the rule set, shared, never changed
  s->rule_files = rule_files_;
  s->rule_sha256 = rule_sha256_;
  s->last_reload_successful = last_reload_successful_;
  s->last_reload_success_ms = last_reload_success_ms_;
  s->counters = {dead_lettered_,       notifications_submitted_,
                 submit_failures_,     suppressed_,
                 oversized_,           checkpoints_,
                 checkpoint_failures_, checkpoint_bytes_,
                 checkpoint_seconds_,  checkpoint_time_ms_,
                 unstored_.size()};
  if (dispatcher_) {
    s->has_dispatcher = true;
    s->dispatcher = dispatcher_->Stats();
  }
  s->source_ready = kafka_ == nullptr || kafka_->assigned();
  if (scale_out_) {
    s->has_scale_out = true;
    scale_out_->Snapshot(s->scale_out);
    s->alerts.clear();
    scale_out_->CollectRules(s->stats.rules, s->alerts);
    scale_out_->EngineFigures(s->stats, s->watermark_ms, s->held_events);
    s->counters.dead_lettered = scale_out_->route_counters().dead_lettered;
  }
  if (kafka_ != nullptr) {
    s->has_kafka = true;
    s->kafka.lag = kafka_->Lag();
    s->kafka.assigned_partitions = kafka_->assigned_partitions();
    s->kafka.pauses = kafka_->counters().pauses;
    s->kafka.skipped_by_type = skipped_by_type_;
    s->kafka.resumes = kafka_->counters().resumes;
    s->kafka.resume_wait_seconds = kafka_->counters().resume_wait_seconds;
  }
  if (partition_time_) {
    s->kafka.partitions = partition_time_->partitions();
    s->kafka.topic_names = topic_names_;
    s->kafka.partitions_paused = partition_time_->paused();
  }
  s->has_state_store = state_ != nullptr;
  if (sentry_) {
    s->has_ingest = true;
    s->ingest = sentry_->metrics().Totals();
  }
  if (value_history_.Sample(engine, s->watermark_ms) || !history_snapshot_) {
    history_snapshot_ = std::make_shared<const std::map<std::string, std::vector<report::Point>>>(
        value_history_.All());
  }
  s->history = history_snapshot_;
  s->history_span_ms = value_history_.span_ms();
  if (dispatcher_) s->recent = dispatcher_->RecentNotifications();
  if (delivery_ && delivery_->silencer) {
    s->has_silencer = true;
    s->silences = delivery_->silencer->Stats(NowMs());
  }
  board_.Publish(std::move(s));
}

// The Sentry ingestion endpoint of a `sentry:` block (ingest/), producing to Kafka or queueing.
Status Runtime::StartSentry(const connectors::KafkaClientOptions* kafka) {
  if (!options_.sentry) return Status::Ok();
  Result<ingest::SentryIngestOptions> options = options_.sentry(kafka);
  if (!options.ok()) return options.status();
  Result<std::unique_ptr<ingest::SentryIngest>> sentry =
      ingest::SentryIngest::Start(std::move(options).value());
  if (!sentry.ok()) return sentry.status();
  sentry_ = std::move(sentry).value();
  log_.Info("sentry endpoint listening", {{"port", std::to_string(sentry_->port())}});
  return Status::Ok();
}

// A silence form of the status page: "new" (matchers one per line, duration, author, comment)
// or "expire" (id). The answer is shown once on the page.
std::string Runtime::SilenceForm(const std::string& form,
                                 const std::map<std::string, std::string>& fields) {
  auto field = [&fields](const char* k) {
    auto it = fields.find(k);
    return it == fields.end() ? std::string() : it->second;
  };
  actions::Silencer& silencer = *delivery_->silencer;
  const int64_t now = NowMs();
  if (form == "expire") {
    const Status st = silencer.Expire(field("id"), now);
    if (st.ok()) log_.Info("silence expired from the status page", {{"id", field("id")}});
    return st.ok() ? "Silence " + field("id") + " expired." : "Not done: " + st.message();
  }
  actions::Silence silence;
  std::string problems;
  if (Result<std::vector<actions::SilenceMatcher>> m = actions::ParseMatchers(field("matchers"));
      m.ok()) {
    silence.matchers = std::move(m).value();
  } else {
    problems = m.status().message();
  }
  Result<int64_t> duration = ParseDurationMs(field("duration"));
  if (!duration.ok() || *duration <= 0) {
    problems +=
        std::string(problems.empty() ? "" : "; ") + "duration: a positive duration such as 2h";
  }
  if (!problems.empty()) return "Not done: " + problems;
  silence.starts_at_ms = now;
  silence.ends_at_ms = now + *duration;
  silence.created_by = field("created_by");
  silence.comment = field("comment");
  Result<actions::Silence> added = silencer.Add(std::move(silence), now);
  if (!added.ok()) return "Not done: " + added.status().message();
  log_.Info("silence added from the status page",
            {{"id", added->id}, {"created_by", added->created_by}});
  return "Silence " + added->id + " added until " + FormatTimeMs(added->ends_at_ms) + ".";
}

}  // namespace klaxon::service
