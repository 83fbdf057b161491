#include "service/eval_stage.h"

#include <algorithm>
#include <utility>

namespace klaxon::service {

namespace {

constexpr size_t kMaxMessagesPerPass = 4096;

}  // namespace

Result<std::unique_ptr<EvalStage>> EvalStage::Open(EvalStageOptions options, RuleSet rules,
                                                   const EngineOptions& engine, LogSink& log) {
  EngineOptions task_engine = engine;
  task_engine.advance_on_event = false;  // a task's watermark comes from ShuffleTime
  std::unique_ptr<EvalStage> stage(
      new EvalStage(std::move(options), std::move(rules), task_engine, log));
  for (size_t i = 0; i < stage->rules_.rules.size(); ++i) {
    stage->rule_index_.emplace(stage->rules_.rules[i].id, static_cast<uint32_t>(i));
  }
  connectors::KafkaSourceOptions source = stage->options_.repartition;
  source.partition_events = true;
  Result<std::unique_ptr<connectors::KafkaSource>> consumer = connectors::KafkaSource::Open(source);
  if (!consumer.ok()) return consumer.status();
  stage->repartition_ = std::move(consumer).value();
  return stage;
}

EvalStage::Counters EvalStage::counters() const {
  Counters c = counters_;
  c.tasks = tasks_.size();
  return c;
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

Status EvalStage::Evaluate(Task& task, uint32_t rule, std::string_view event,
                           std::vector<Notification>& out) {
  std::unique_ptr<Engine>& engine = task.engines[rule];
  if (!engine) {
    // One engine per rule: a record is one (rule, group), and the event it carries must count
    // for that rule only (its other rules' groups are owned elsewhere).
    RuleSet one;
    one.rules.push_back(rules_.rules[rule]);
    one.actions = rules_.actions;
    Result<std::unique_ptr<Engine>> created = Engine::Create(std::move(one), engine_);
    if (!created.ok()) return created.status();
    engine = std::move(created).value();
    engine->SetMaxEventTime(max_event_time_ms_);
    if (task.advanced_to != ShuffleTime::kNone) engine->AdvanceTo(task.advanced_to, notes_);
    notes_.clear();  // a new engine has no groups: nothing to say
  }
  const ProcessResult r = engine->Process(event, notes_);
  if (r.late) ++counters_.late;
  if (r.rejected != RejectReason::kNone) ++counters_.rejected;
  ++counters_.records;
  Append(rule, notes_, out);
  return Status::Ok();
}

void EvalStage::Advance(Task& task, int64_t to, std::vector<Notification>& out) {
  if (to == ShuffleTime::kNone || to <= task.advanced_to) return;
  task.advanced_to = to;
  for (size_t i = 0; i < task.engines.size(); ++i) {
    if (!task.engines[i]) continue;
    task.engines[i]->AdvanceTo(to, notes_);
    Append(static_cast<uint32_t>(i), notes_, out);
  }
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
  connectors::Record message;
  bool got_message = false;
  for (size_t n = 0; n < kMaxMessagesPerPass; ++n) {
    Result<connectors::NextStatus> next =
        repartition_->Next(n == 0 ? wait : std::chrono::milliseconds(0), &message);
    if (!next.ok()) return next.status();
    if (*next == connectors::NextStatus::kPartition) {
      if (message.partition_event == connectors::PartitionEvent::kAssigned) {
        Task& task = tasks_[message.partition];
        task.time.SetInputs(options_.inputs);
        task.engines.resize(rules_.rules.size());
        log_.Info("repartition partition assigned: evaluating its (rule, group)s here",
                  {{"partition", std::to_string(message.partition)}});
      } else if (message.partition_event == connectors::PartitionEvent::kRevoked) {
        if (tasks_.erase(message.partition) != 0) {
          log_.Warn(
              "repartition partition revoked: its windows are dropped (their state does not "
              "move between instances yet; docs/scale_out.md)",
              {{"partition", std::to_string(message.partition)}});
        }
      }
      continue;
    }
    if (*next != connectors::NextStatus::kRecord) break;
    got_message = true;
    Task* task = FindTask(message.partition);
    if (task == nullptr) continue;  // revoked meanwhile: counts for nothing
    unstored_.push_back(message);
    unstored_.back().payload = {};
    Result<ShuffleKind> kind = DecodeShuffle(message.payload, record_, mark_);
    if (!kind.ok()) {
      ++counters_.invalid;
      log_.Warn("skipping a repartition message", {{"partition", std::to_string(message.partition)},
                                                   {"offset", std::to_string(message.offset)},
                                                   {"error", kind.status().message()}});
      continue;
    }
    if (*kind == ShuffleKind::kMark) {
      ++counters_.marks;
      task->time.Mark(mark_);
    } else if (auto rule = rule_index_.find(record_.rule_id);
               rule == rule_index_.end() || !record_.event_json) {
      // Another rule set (an instance not restarted after a rule change), or a record without
      // the event this version evaluates from.
      ++counters_.invalid;
    } else if (!task->time.Accept(record_.source, rule->second)) {
      ++counters_.duplicates;
    } else if (Status st = Evaluate(*task, rule->second, *record_.event_json, out); !st.ok()) {
      return st;
    }
    const int64_t watermark = task->time.Watermark();
    if (watermark != ShuffleTime::kNone && watermark > task->newest) {
      task->newest = watermark;
      task->newest_wall_ms = now_ms;
    }
    Advance(*task, watermark, out);
  }
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

void EvalStage::Stored() {
  for (const connectors::Record& r : unstored_) repartition_->MarkProcessed(r);
  unstored_.clear();
}

Status EvalStage::Close() {
  Status committed = repartition_->Commit();
  Status closed = repartition_->Close();
  return committed.ok() ? closed : committed;
}

}  // namespace klaxon::service
