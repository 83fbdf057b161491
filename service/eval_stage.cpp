#include "service/eval_stage.h"

#include <algorithm>
#include <utility>

#include "actions/event_use.h"
#include "connectors/kafka_partition_reader.h"
#include "service/task_changelog.h"

namespace klaxon::service {

namespace {

constexpr size_t kMaxMessagesPerPass = 4096;
// Changelog records a pass gives the standbys at most: following must not hold evaluation up.
constexpr size_t kMaxStandbyRecordsPerPass = 16384;
constexpr int64_t kFailureLogIntervalMs = 60000;

}  // namespace

Result<std::unique_ptr<EvalStage>> EvalStage::Open(EvalStageOptions options, RuleSet rules,
                                                   const EngineOptions& engine, LogSink& log) {
  EngineOptions task_engine = engine;
  task_engine.advance_on_event = false;  // a task's watermark comes from ShuffleTime
  std::unique_ptr<EvalStage> stage(
      new EvalStage(std::move(options), std::move(rules), task_engine, log));
  for (size_t i = 0; i < stage->rules_.rules.size(); ++i) {
    stage->rule_index_.emplace(stage->rules_.rules[i].id, static_cast<uint32_t>(i));
    stage->sent_event_.push_back(actions::RuleReadsEvent(stage->rules_.rules[i], stage->rules_));
  }
  // The transactional producer first: it fences an earlier process of this instance and aborts
  // its open transaction, so the committed offsets the consumer reads are stable sooner.
  Result<std::unique_ptr<connectors::KafkaTransactionalProducer>> producer =
      connectors::KafkaTransactionalProducer::Open(stage->options_.transactions);
  if (!producer.ok()) {
    return Status(producer.status().code(),
                  "scale_out: the changelog's transactions: " + producer.status().message());
  }
  stage->changelog_ = std::move(producer).value();
  connectors::KafkaSourceOptions source = stage->options_.repartition;
  source.partition_events = true;
  // Offsets are committed only in the changelog's transactions, and read only once stable.
  source.auto_commit_interval_ms = 0;
  source.client.properties["isolation.level"] = "read_committed";
  // Incremental rebalancing: an instance joining or leaving moves only the partitions that
  // change owner; the others keep their task (no restore, nothing evaluated again).
  source.client.properties.try_emplace("partition.assignment.strategy", "cooperative-sticky");
  Result<std::unique_ptr<connectors::KafkaSource>> consumer = connectors::KafkaSource::Open(source);
  if (!consumer.ok()) return consumer.status();
  stage->repartition_ = std::move(consumer).value();
  if (stage->options_.warm_standby) {
    Result<std::unique_ptr<connectors::PartitionReader>> reader = connectors::PartitionReader::Open(
        stage->options_.transactions.client, stage->options_.changelog_topic, "standby reader");
    if (!reader.ok()) return reader.status();
    stage->standby_reader_ = std::move(reader).value();
  }
  return stage;
}

Result<std::unique_ptr<Engine>> EvalStage::NewEngine(uint32_t rule) {
  // One engine per rule: a record is one (rule, group), and the event it carries must count
  // for that rule only (its other rules' groups are owned elsewhere).
  RuleSet one;
  one.rules.push_back(rules_.rules[rule]);
  one.actions = rules_.actions;
  Result<std::unique_ptr<Engine>> created = Engine::Create(std::move(one), engine_);
  if (!created.ok()) return created.status();
  (*created)->SetMaxEventTime(max_event_time_ms_);
  return created;
}

Status EvalStage::Restore(const std::vector<int32_t>& partitions, int64_t now_ms) {
  // Logged with how long the barrier and the read took: a failover's restore part.
  const auto started = std::chrono::steady_clock::now();
  auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::to_string(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
  };
  const std::string& topic = options_.repartition.topics.front();
  // The barrier: a committed offset is stable once no transaction that sent offsets for its
  // partition is open (a previous owner's last checkpoint is committed or aborted), and so is
  // the changelog written with them.
  Result<std::vector<int64_t>> committed =
      repartition_->CommittedOffsets(topic, partitions, options_.restore_timeout);
  if (!committed.ok()) return committed.status();
  const std::string barrier_seconds = seconds_since(started);
  const auto reading = std::chrono::steady_clock::now();
  // A warm standby has the partition up to its position: its reader, already following it,
  // reads on to the end; the other partitions are read whole.
  std::map<int32_t, ChangelogCollector> collectors;
  std::map<int32_t, int64_t> records;
  std::map<int32_t, int64_t> cold;  // read from the beginning
  std::vector<int32_t> tails;       // read on by the standby reader
  std::map<int32_t, int64_t> warm;  // partitions a standby had: the records it had read
  for (int32_t p : partitions) {
    auto standby = standbys_.find(p);
    // A standby that has read nothing yet is no help: the partition is read from its beginning.
    if (standby == standbys_.end() || standby_reader_->Position(p) < 0) {
      if (standby != standbys_.end()) standbys_.erase(standby);
      cold[p] = connectors::kFromBeginning;
      continue;
    }
    tails.push_back(p);
    collectors[p] = std::move(standby->second.collector);
    warm[p] = standby->second.records;
    standbys_.erase(standby);
  }
  standbys_stale_ = true;
  auto collect = [&](int32_t partition, int64_t, std::string_view key,
                     std::optional<std::string_view> value) {
    if (auto standby = standbys_.find(partition); standby != standbys_.end()) {
      standby->second.collector.Add(key, value);  // another standby's, read meanwhile
      ++standby->second.records;
      ++counters_.standby_records;
      return Status::Ok();
    }
    collectors[partition].Add(key, value);
    ++records[partition];
    return Status::Ok();
  };
  int64_t read = 0;
  if (!tails.empty()) {
    Result<int64_t> tail = standby_reader_->ReadToEnd(tails, options_.restore_timeout, collect);
    if (!tail.ok()) return tail.status();
    read += *tail;
  }
  Result<int64_t> whole =
      connectors::ReadPartitions(options_.transactions.client, options_.changelog_topic, cold,
                                 options_.restore_timeout, collect);
  if (!whole.ok()) return whole.status();
  read += *whole;
  std::string list;
  for (int32_t p : partitions) list += (list.empty() ? "" : ",") + std::to_string(p);
  log_.Info("repartition partitions read from the changelog",
            {{"partitions", list},
             {"from_standby", std::to_string(warm.size())},
             {"records", std::to_string(read)},
             {"barrier_seconds", barrier_seconds},
             {"read_seconds", seconds_since(reading)}});
  for (size_t i = 0; i < partitions.size(); ++i) {
    auto standby = warm.find(partitions[i]);
    if (Status st = RestoreTask(partitions[i], (*committed)[i], collectors[partitions[i]],
                                records[partitions[i]],
                                standby == warm.end() ? -1 : standby->second, now_ms);
        !st.ok()) {
      return st;
    }
  }
  return Status::Ok();
}

Status EvalStage::RestoreTask(int32_t partition, int64_t committed, ChangelogCollector& collector,
                              int64_t records, int64_t standby_records, int64_t now_ms) {
  const std::string where = std::to_string(partition);
  const Task* waiting = FindTask(partition);
  const int64_t lag = waiting != nullptr ? waiting->restore_lag : -1;  // as it was shown
  tasks_.erase(partition);
  Task& task = tasks_[partition];
  task.engines.resize(rules_.rules.size());
  task.logs.resize(rules_.rules.size());
  std::optional<TaskHead> head;
  std::map<std::string, RestoredEngine> engines;
  if (Status st = collector.Finish(head, engines); !st.ok()) {
    return Status(st.code(), "restoring repartition partition " + where + " from " +
                                 options_.changelog_topic + ": " + st.message());
  }
  if (!head) {
    if (committed >= 0) {
      log_.Warn(
          "repartition partition assigned with committed offsets but nothing in its changelog "
          "(the changelog topic was deleted or recreated?): its windows start empty",
          {{"partition", where}, {"committed_offset", std::to_string(committed)}});
    }
    task.time.SetInputs(options_.inputs);
    log_.Info("repartition partition assigned: evaluating its (rule, group)s here",
              {{"partition", where}, {"restored", "nothing to restore"}});
    return Status::Ok();
  }
  if (Status st = task.time.RestoreState(head->shuffle_time); !st.ok()) {
    return Status(st.code(), "restoring repartition partition " + where + ": " + st.message());
  }
  task.time.SetInputs(options_.inputs);
  task.next_offset = committed;
  task.advanced_to = head->advanced_to;
  task.newest = head->newest;
  task.newest_wall_ms = now_ms;
  if (committed != head->next_offset) {
    log_.Warn(
        "the changelog's offset and the group's committed offset differ (offsets reset by "
        "hand?): evaluating from the committed offset",
        {{"partition", where},
         {"changelog_offset", std::to_string(head->next_offset)},
         {"committed_offset", std::to_string(committed)}});
  }
  size_t groups = 0;
  for (auto& [rule_id, restored] : engines) {
    auto index = rule_index_.find(rule_id);
    if (index == rule_index_.end()) continue;  // a rule no longer in the rule set
    Result<std::unique_ptr<Engine>> engine = NewEngine(index->second);
    if (!engine.ok()) return engine.status();
    if (Status st = (*engine)->RestoreChanges(restored.head, restored.rows); !st.ok()) {
      return Status(st.code(), "restoring repartition partition " + where + ", rule " + rule_id +
                                   ": " + st.message());
    }
    EngineLog& log = task.logs[index->second];
    log.generation = restored.generation;
    if ((*engine)->ContinueChanges(restored.last_rank)) {
      for (const StateGroupView& row : restored.rows) {
        if (row.slot >= log.rank_by_slot.size()) log.rank_by_slot.resize(row.slot + 1, 0);
        log.rank_by_slot[row.slot] = row.rank;
      }
    }
    groups += restored.rows.size();
    task.counted.resize(rules_.rules.size());
    task.counted[index->second] = (*engine)->Stats().rules[0];  // counted by its earlier owner
    task.engines[index->second] = std::move(engine).value();
  }
  ++counters_.restores;
  if (standby_records >= 0) ++counters_.standby_restores;  // state restored from a standby
  counters_.restored_records += static_cast<uint64_t>(records);
  log_.Info(
      "repartition partition assigned: restored from the changelog",
      {{"partition", where},
       {"offset", std::to_string(head->next_offset)},
       {"engines", std::to_string(engines.size())},
       {"groups", std::to_string(groups)},
       {"changelog_records", std::to_string(records)},
       {"restore_lag", std::to_string(lag)},
       {"standby_records", standby_records < 0 ? "no standby" : std::to_string(standby_records)},
       {"state_bytes", std::to_string(collector.bytes())}});
  return Status::Ok();
}

Status EvalStage::Checkpoint() {
  std::vector<connectors::CommitOffset> offsets;
  for (const auto& [partition, task] : tasks_) {
    if (task.dirty && task.next_offset >= 0) {
      offsets.push_back({options_.repartition.topics.front(), partition, task.next_offset});
    }
  }
  if (offsets.empty()) return Status::Ok();
  Status st = changelog_->Begin();
  uint64_t records = 0;
  uint64_t bytes = 0;
  auto produce = [&](int32_t partition, std::optional<std::string_view> value) {
    auto emit = [&](std::string_view key, std::optional<std::string_view> v) {
      ++records;
      bytes += key.size() + (v ? v->size() : 0);
      return changelog_->Produce(options_.changelog_topic, partition, key, v);
    };
    if (!value) return emit(key_, std::nullopt);
    return EmitChangelogValue(
        key_, *value, kMaxChangelogValue,
        [&](std::string_view key, std::string_view v) { return emit(key, v); });
  };
  for (auto& [partition, task] : tasks_) {
    if (!st.ok()) break;
    if (!task.dirty || task.next_offset < 0) continue;
    for (size_t i = 0; i < task.engines.size() && st.ok(); ++i) {
      Engine* engine = task.engines[i].get();
      if (engine == nullptr) continue;
      EngineLog& log = task.logs[i];
      if (st = engine->SaveStateChanges(changes_); !st.ok()) break;
      if (changes_.full) {
        ++log.generation;  // rows of earlier generations are void from here on
        log.rank_by_slot.clear();
      }
      const std::string& rule_id = rules_.rules[i].id;
      for (size_t g = 0; g < changes_.group_count && st.ok(); ++g) {
        const StateGroupRow& row = changes_.groups[g];
        key_ = RowKey(rule_id, row.slot);
        if (row.slot >= log.rank_by_slot.size()) log.rank_by_slot.resize(row.slot + 1, 0);
        uint64_t& rank = log.rank_by_slot[row.slot];
        if (row.bytes.empty()) {
          rank = 0;
          st = produce(partition, std::nullopt);
          continue;
        }
        if (row.rank != 0) rank = row.rank;
        EncodeRow(log.generation, rank, row.bytes, value_);
        st = produce(partition, value_);
      }
      if (!st.ok()) break;
      key_ = EngineHeadKey(rule_id);
      EncodeEngineHead(log.generation, changes_.head, value_);
      st = produce(partition, value_);
    }
    if (!st.ok()) break;
    TaskHead head{task.next_offset, task.advanced_to, task.newest, {}};
    task.time.SaveState(head.shuffle_time);
    key_ = TaskHeadKey();
    EncodeTaskHead(head, value_);
    st = produce(partition, value_);
  }
  if (st.ok())
    st = changelog_->Commit(offsets, *repartition_, std::chrono::seconds(30));
  else if (Status aborted = changelog_->Abort(std::chrono::seconds(30)); !aborted.ok())
    st = aborted;
  if (st.ok()) {
    ++counters_.commits;
    counters_.changelog_records += records;
    counters_.changelog_bytes += bytes;
    last_commit_bytes_ = bytes;
    for (auto& [partition, task] : tasks_) task.dirty = false;
    return Status::Ok();
  }
  // Nothing of this checkpoint is visible: the next one lists every group again.
  ++counters_.commit_failures;
  for (auto& [partition, task] : tasks_) {
    for (auto& engine : task.engines) {
      if (engine) engine->ResendAllChanges();
    }
  }
  return st;
}

EvalStage::Counters EvalStage::counters() const {
  Counters c = counters_;
  c.tasks = tasks_.size();
  return c;
}

void EvalStage::Count(Task& task) {
  totals_.resize(rules_.rules.size());
  task.counted.resize(rules_.rules.size());
  for (size_t i = 0; i < task.engines.size(); ++i) {
    if (!task.engines[i]) continue;
    const RuleStats& now = task.engines[i]->Stats().rules[0];
    RuleStats& before = task.counted[i];
    // A counter lower than before is a restored engine's own: counted from there on.
    auto add = [](uint64_t now_value, uint64_t before_value, uint64_t& total) {
      if (now_value > before_value) total += now_value - before_value;
    };
    add(now.matches, before.matches, totals_[i].matches);
    add(now.notifications, before.notifications, totals_[i].notifications);
    add(now.groups_dropped, before.groups_dropped, totals_[i].groups_dropped);
    before = now;
  }
}

void EvalStage::CollectRules(std::vector<RuleStats>& rules, std::vector<ActiveAlert>& alerts) {
  for (auto& [partition, task] : tasks_) Count(task);
  rules = totals_;  // the counters; the gauges are summed over the tasks here now
  for (auto& [partition, task] : tasks_) {
    for (size_t i = 0; i < task.engines.size(); ++i) {
      if (!task.engines[i]) continue;
      const RuleStats& now = task.engines[i]->Stats().rules[0];
      rules[i].groups += now.groups;
      rules[i].firing += now.firing;
      rules[i].pending += now.pending;
      for (ActiveAlert& alert : task.engines[i]->ActiveAlerts()) {
        alert.rule_index = static_cast<uint32_t>(i);
        if (!sent_event_[i]) alert.trigger.clear();  // the stub's title says nothing
        alerts.push_back(std::move(alert));
      }
    }
  }
}

void EvalStage::MeasureRestores() {
  for (int32_t p : to_restore_) {
    Task* task = FindTask(p);
    if (task == nullptr || task->restore_lag >= 0) continue;
    Result<std::pair<int64_t, int64_t>> offsets =
        repartition_->QueryOffsets(options_.changelog_topic, p, std::chrono::milliseconds(1000));
    if (!offsets.ok()) continue;  // the restore itself reports trouble
    int64_t from = offsets->first;
    if (standby_reader_ && standbys_.contains(p) && standby_reader_->Position(p) >= 0) {
      from = standby_reader_->Position(p);
    }
    task->restore_lag = std::max<int64_t>(0, offsets->second - from);
  }
}

int64_t EvalStage::Watermark() const {
  int64_t lowest = ShuffleTime::kNone;
  for (const auto& [partition, task] : tasks_) {
    if (task.restoring || task.advanced_to == ShuffleTime::kNone) continue;
    if (lowest == ShuffleTime::kNone || task.advanced_to < lowest) lowest = task.advanced_to;
  }
  return lowest;
}

uint64_t EvalStage::HeldEvents() const {
  uint64_t held = 0;
  for (const auto& [partition, task] : tasks_) {
    for (const auto& engine : task.engines) {
      if (engine) held += engine->HeldEvents();
    }
  }
  return held;
}

std::vector<EvalStage::StandbyInfo> EvalStage::Standbys() const {
  std::vector<StandbyInfo> out;
  for (const auto& [partition, standby] : standbys_) {
    out.push_back({partition, standby_reader_->Lag(partition), standby.collector.bytes()});
  }
  return out;
}

Status EvalStage::FollowStandbys() {
  if (!standby_reader_) return Status::Ok();
  if (standbys_stale_) {
    // Every task not assigned here (nor being restored); a task revoked from here is read again
    // from the beginning of its changelog partition.
    std::map<int32_t, Standby> standbys;
    std::map<int32_t, int64_t> from;
    for (int32_t p = 0; p < options_.task_count; ++p) {
      if (tasks_.contains(p)) continue;
      auto known = standbys_.find(p);
      if (known != standbys_.end()) {
        standbys[p] = std::move(known->second);
        from[p] = standby_reader_->Position(p);
      } else {
        standbys[p] = Standby{};
        from[p] = connectors::kFromBeginning;
      }
    }
    if (Status st = standby_reader_->Assign(from); !st.ok()) {
      log_.Warn("warm standby: changelog partitions not assigned; retried at the next pass",
                {{"error", st.message()}});
      return Status::Ok();
    }
    standbys_ = std::move(standbys);
    standbys_stale_ = false;
  }
  Result<int64_t> read = standby_reader_->Poll(
      std::chrono::milliseconds(0), kMaxStandbyRecordsPerPass,
      [&](int32_t partition, int64_t, std::string_view key, std::optional<std::string_view> value) {
        auto standby = standbys_.find(partition);
        if (standby == standbys_.end()) return Status::Ok();
        standby->second.collector.Add(key, value);
        ++standby->second.records;
        return Status::Ok();
      });
  if (!read.ok()) {
    // A standby is an optimisation: a restore without it reads the whole partition.
    log_.Warn("warm standby: changelog not followed; retried at the next pass",
              {{"error", read.status().message()}});
    return Status::Ok();
  }
  counters_.standby_records += static_cast<uint64_t>(*read);
  return Status::Ok();
}

std::vector<EvalStage::TaskInfo> EvalStage::Tasks() const {
  std::vector<TaskInfo> out;
  for (const auto& [partition, task] : tasks_) {
    out.push_back({partition, task.restoring, task.advanced_to, task.restore_lag});
  }
  return out;
}

EvalStage::Task* EvalStage::FindTask(int32_t partition) {
  auto it = tasks_.find(partition);
  return it == tasks_.end() ? nullptr : &it->second;
}

void EvalStage::Append(uint32_t rule, std::vector<Notification>& notes,
                       std::vector<Notification>& out) {
  for (Notification& n : notes) {
    n.rule_index = rule;
    out.push_back(std::move(n));
  }
  notes.clear();
}

namespace {

// What notifications of a rule whose records carry no event get as the event: its id alone,
// which is all they read of it (actions/event_use.h).
void EventIdStub(std::string_view id, std::string& out) {
  out.assign("{\"event_id\":\"");
  for (const char c : id) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out.append("\\u00");
      out.push_back(kHex[(c >> 4) & 0xf]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.append("\"}");
}

}  // namespace

Status EvalStage::Evaluate(Task& task, uint32_t rule, std::vector<Notification>& out) {
  std::unique_ptr<Engine>& engine = task.engines[rule];
  if (!engine) {
    Result<std::unique_ptr<Engine>> created = NewEngine(rule);
    if (!created.ok()) return created.status();
    engine = std::move(created).value();
    if (task.advanced_to != ShuffleTime::kNone) engine->AdvanceTo(task.advanced_to, notes_);
    notes_.clear();  // a new engine has no groups: nothing to say
  }
  std::string_view raw;
  if (record_.event_json) {
    raw = *record_.event_json;
  } else if (!record_.event_id.empty()) {
    EventIdStub(record_.event_id, stub_);
    raw = stub_;
  }
  const RoutedEvent routed{.rule = 0,  // the engine holds this rule alone
                           .time_ms = record_.event_time_ms,
                           .event_id = record_.event_id,
                           .group = record_.group,
                           .values = record_.values,
                           .denominator = record_.denominator,
                           .numerator = record_.numerator,
                           .raw = raw};
  const ProcessResult r = engine->ProcessRouted(routed, notes_);
  if (r.late) ++counters_.late;
  if (r.rejected != RejectReason::kNone) ++counters_.rejected;
  ++counters_.records;
  Append(rule, notes_, out);
  return Status::Ok();
}

void EvalStage::Advance(Task& task, int64_t to, std::vector<Notification>& out) {
  if (to == ShuffleTime::kNone || to <= task.advanced_to) return;
  task.advanced_to = to;
  task.dirty = true;
  for (size_t i = 0; i < task.engines.size(); ++i) {
    if (!task.engines[i]) continue;
    task.engines[i]->AdvanceTo(to, notes_);
    Append(static_cast<uint32_t>(i), notes_, out);
  }
}

Status EvalStage::Handle(const connectors::Record& message, int64_t now_ms,
                         std::vector<Notification>& out) {
  Task* task = FindTask(message.partition);
  if (task == nullptr) return Status::Ok();  // revoked meanwhile: counts for nothing
  task->next_offset = message.offset + 1;
  task->dirty = true;
  Result<ShuffleKind> kind = DecodeShuffle(message.payload, record_, mark_);
  if (!kind.ok()) {
    ++counters_.invalid;
    log_.Warn("skipping a repartition message", {{"partition", std::to_string(message.partition)},
                                                 {"offset", std::to_string(message.offset)},
                                                 {"error", kind.status().message()}});
    return Status::Ok();
  }
  if (*kind == ShuffleKind::kMark) {
    ++counters_.marks;
    task->time.Mark(mark_);
  } else if (auto rule = rule_index_.find(record_.rule_id); rule == rule_index_.end()) {
    ++counters_.invalid;  // another rule set (an instance not restarted after a rule change)
  } else if (!task->time.Accept(record_.source, rule->second)) {
    ++counters_.duplicates;
  } else if (Status st = Evaluate(*task, rule->second, out); !st.ok()) {
    return st;
  }
  const int64_t watermark = task->time.Watermark();
  if (watermark != ShuffleTime::kNone && watermark > task->newest) {
    task->newest = watermark;
    task->newest_wall_ms = now_ms;
  }
  Advance(*task, watermark, out);
  return Status::Ok();
}

Status EvalStage::Pass(int64_t now_ms, std::chrono::milliseconds wait,
                       std::vector<Notification>& out) {
  const int64_t max_time =
      now_ms > INT64_MAX - options_.future_limit_ms ? INT64_MAX : now_ms + options_.future_limit_ms;
  if (max_time != max_event_time_ms_) {
    max_event_time_ms_ = max_time;
    for (auto& [partition, task] : tasks_) {
      for (auto& engine : task.engines) {
        if (engine) engine->SetMaxEventTime(max_time);
      }
    }
  }
  if (!to_restore_.empty()) {
    const auto start = std::chrono::steady_clock::now();
    if (Status st = Restore(to_restore_, now_ms); !st.ok()) return st;
    to_restore_.clear();
    counters_.restore_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  if (Status st = FollowStandbys(); !st.ok()) return st;
  bool got_message = false;
  if (pending_) {  // read before the restore: its task is ready now
    got_message = true;
    if (Status st = Handle(*pending_, now_ms, out); !st.ok()) return st;
    pending_.reset();
  }
  connectors::Record message;
  for (size_t n = 0; n < kMaxMessagesPerPass; ++n) {
    Result<connectors::NextStatus> next =
        repartition_->Next(n == 0 ? wait : std::chrono::milliseconds(0), &message);
    if (!next.ok()) return next.status();
    if (*next == connectors::NextStatus::kPartition) {
      if (message.partition_event == connectors::PartitionEvent::kAssigned) {
        // Restored at the start of the next pass, with every partition assigned with it.
        if (Task* known = FindTask(message.partition); known != nullptr) Count(*known);
        tasks_.erase(message.partition);
        tasks_[message.partition].restoring = true;
        to_restore_.push_back(message.partition);
        standbys_stale_ = true;
      } else if (message.partition_event == connectors::PartitionEvent::kRevoked) {
        std::erase(to_restore_, message.partition);
        standbys_stale_ = true;
        if (Task* revoked = FindTask(message.partition); revoked != nullptr) Count(*revoked);
        if (tasks_.erase(message.partition) != 0) {
          log_.Info("repartition partition revoked: its next owner restores it from the changelog",
                    {{"partition", std::to_string(message.partition)}});
        }
      }
      continue;
    }
    if (*next != connectors::NextStatus::kRecord) break;
    if (!to_restore_.empty()) {
      // Nothing is evaluated before the restore (the next pass): the pass ends here, so the
      // snapshot shows the tasks restoring. The message stays valid until the next Next().
      pending_ = message;
      break;
    }
    got_message = true;
    if (Status st = Handle(message, now_ms, out); !st.ok()) return st;
  }
  if (!to_restore_.empty()) MeasureRestores();  // shown until the next pass restores them
  // Caught up and quiet everywhere: event time follows the wall clock from the newest time,
  // so flatlines and resolves go out on time while nothing arrives (as in the single stage).
  // Not while the consumer reports Kafka trouble: an outage must not look like quiet.
  const int64_t errors = repartition_->counters().transient_errors;
  if (got_message) errors_at_last_message_ = errors;
  if (tasks_.empty() || errors != errors_at_last_message_) {
    return Status::Ok();
  }
  for (auto& [partition, task] : tasks_) {
    if (!task.time.AllIdle() || task.newest == ShuffleTime::kNone) continue;
    Advance(task, task.newest + std::max<int64_t>(0, now_ms - task.newest_wall_ms), out);
  }
  return Status::Ok();
}

Status EvalStage::Stored(int64_t now_ms, bool force) {
  // Every commit interval, or less often after a large checkpoint: each engine's head holds the
  // events waiting out the lateness and is written whole, so the interval grows with what the
  // last checkpoint wrote and the changelog is written at about changelog_bytes_per_second.
  const int64_t interval = std::max<int64_t>(
      options_.commit_interval_ms,
      static_cast<int64_t>(last_commit_bytes_ * 1000 /
                           std::max<uint64_t>(1, options_.changelog_bytes_per_second)));
  if (!force && last_commit_ms_ != INT64_MIN && now_ms - last_commit_ms_ < interval) {
    return Status::Ok();
  }
  last_commit_ms_ = now_ms;
  Status st = Checkpoint();
  if (st.ok()) {
    if (failures_unlogged_ > 0 || failure_logged_ms_ != INT64_MIN) {
      log_.Info("scale-out checkpoints committed again",
                {{"failed_since_last_line", std::to_string(failures_unlogged_)}});
    }
    failure_logged_ms_ = INT64_MIN;
    failures_unlogged_ = 0;
    return st;
  }
  if (st.code() == StatusCode::kFailedPrecondition) return st;  // fenced: another took over
  // Every interval fails while the brokers are away: one line a minute, with the count.
  if (failure_logged_ms_ == INT64_MIN || now_ms - failure_logged_ms_ >= kFailureLogIntervalMs) {
    log_.Warn(
        "scale-out checkpoint not committed; tried again at the next interval",
        {{"error", st.message()}, {"failed_since_last_line", std::to_string(failures_unlogged_)}});
    failure_logged_ms_ = now_ms;
    failures_unlogged_ = 0;
  } else {
    ++failures_unlogged_;
  }
  return Status::Ok();
}

Status EvalStage::Close() { return repartition_->Close(); }

}  // namespace klaxon::service
