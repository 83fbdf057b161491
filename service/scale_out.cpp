#include "service/scale_out.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include <unistd.h>

#include <cstdio>

#include "connectors/kafka_admin.h"
#include "engine/hash.h"

namespace klaxon::service {

namespace {

// A stage's transactional producer names the instance: the same name after a restart fences the
// process before it and aborts its open transaction at once; two instances never share one. The
// static membership name when there is one; otherwise the host and the outbox (one `klaxon run`
// per outbox: InstanceLock). `stage` ("eval": the changelog's, "route": stage 1's with
// exactly_once) comes before the instance's name, so no instance's name can make one stage's id
// equal another instance's id of the other stage.
std::string TransactionalId(const RuntimeOptions& options, std::string_view stage) {
  std::string id = options.scale_out.application_id + "-" + std::string(stage) + "-";
  if (auto it = options.kafka.client.properties.find("group.instance.id");
      it != options.kafka.client.properties.end() && !it->second.empty()) {
    return id + it->second;
  }
  char host[256] = "";
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  char hash[17];
  std::snprintf(hash, sizeof(hash), "%016llx",
                static_cast<unsigned long long>(Fnv1a64(options.outbox_path)));
  return id + host + "-" + hash;
}

}  // namespace

Result<std::unique_ptr<ScaleOut>> ScaleOut::Open(const RuntimeOptions& options,
                                                 const RuleSet& rules, LogSink& log) {
  const ScaleOutOptions& so = options.scale_out;
  const connectors::KafkaClientOptions& client = options.kafka.client;
  const std::string repartition = so.application_id + "-repartition";
  Result<std::unique_ptr<connectors::KafkaAdmin>> admin = connectors::KafkaAdmin::Open(client);
  if (!admin.ok()) return admin.status();
  // Stage 2 waits for every partition of the input topics, owned by whichever instance. Read
  // first: a start refused for a missing input topic creates no internal topic.
  EvalStageOptions eval;
  for (const std::string& topic : options.kafka.topics) {
    Result<int> count = (*admin)->PartitionCount(topic);
    if (!count.ok()) {
      return Status(count.status().code(),
                    "scale_out: the partitions of input topic " + topic +
                        " (create it before starting): " + count.status().message());
    }
    eval.inputs.push_back({topic, *count});
  }
  connectors::TopicSpec spec{
      .name = repartition, .partitions = so.partitions, .configs = {{"cleanup.policy", "delete"}}};
  if (Status st = (*admin)->EnsureTopic(spec); !st.ok()) {
    return Status(st.code(), "scale_out: " + st.message());
  }
  // The tasks' state: one partition per repartition partition, compacted (the latest value of
  // each key is the state). Small segments let compaction keep up, since a restore reads the
  // whole partition.
  const std::string changelog = so.application_id + "-changelog";
  connectors::TopicSpec changelog_spec{
      .name = changelog,
      .partitions = so.partitions,
      .configs = {{"cleanup.policy", "compact"}},
      .created_with = {{"segment.ms", "600000"}, {"min.cleanable.dirty.ratio", "0.1"}}};
  if (Status st = (*admin)->EnsureTopic(changelog_spec); !st.ok()) {
    return Status(st.code(), "scale_out: " + st.message());
  }
  eval.repartition = options.kafka;
  eval.repartition.topics = {repartition};
  eval.repartition.group_id = so.application_id + "-eval";
  eval.future_limit_ms = options.future_limit_ms;
  eval.changelog_topic = changelog;
  eval.transactions.client = client;
  eval.transactions.transactional_id = TransactionalId(options, "eval");
  eval.warm_standby = so.warm_standby;
  eval.task_count = so.partitions;
  // Beside the outbox, which one process holds at a time (service/instance_lock.h).
  eval.cache_dir = options.outbox_path + ".changelog";

  RouteStageOptions route;
  route.input = options.kafka;
  route.input.group_id = so.application_id;
  route.producer = client;
  route.repartition_topic = repartition;
  route.dead_letter_topic = options.dead_letter_topic;
  route.partitions = so.partitions;
  route.allowed_lateness_ms = options.engine.allowed_lateness_ms;
  route.idle_after_ms = options.partition_idle_timeout_ms > 0
                            ? options.partition_idle_timeout_ms
                            : std::max<int64_t>(options.engine.allowed_lateness_ms, 1000);
  route.exactly_once = so.exactly_once;
  if (so.exactly_once) {
    route.transactions.client = client;
    route.transactions.transactional_id = TransactionalId(options, "route");
  }

  auto scale_out = std::unique_ptr<ScaleOut>(new ScaleOut());
  Result<std::unique_ptr<RouteStage>> route_stage =
      RouteStage::Open(std::move(route), rules, options.engine, log);
  if (!route_stage.ok()) return route_stage.status();
  scale_out->route_ = std::move(route_stage).value();
  Result<std::unique_ptr<EvalStage>> eval_stage =
      EvalStage::Open(std::move(eval), rules, options.engine, log);
  if (!eval_stage.ok()) return eval_stage.status();
  scale_out->eval_ = std::move(eval_stage).value();
  log.Info("scale-out: routing through the repartition topic",
           {{"topic", repartition},
            {"partitions", std::to_string(so.partitions)},
            {"group", so.application_id},
            {"eval_group", so.application_id + "-eval"},
            {"warm_standby", so.warm_standby ? "true" : "false"},
            {"exactly_once", so.exactly_once ? "true" : "false"}});
  return scale_out;
}

Status ScaleOut::Pass(int64_t now_ms, std::chrono::milliseconds wait,
                      std::vector<Notification>& out) {
  // Each stage waits for half the tick at most: neither keeps the other's input waiting long.
  const auto half = std::max(wait / 2, std::chrono::milliseconds(1));
  if (Status st = route_->Pass(now_ms, half); !st.ok()) return st;
  return eval_->Pass(now_ms, half, out);
}

void ScaleOut::Snapshot(ScaleOutSnapshot& out) const {
  const RouteStage::Counters& r = route_->counters();
  const EvalStage::Counters e = eval_->counters();
  out.input_records = r.records;
  out.input_rejected = r.rejected;
  out.routed = r.routed;
  out.routed_bytes = r.routed_bytes;
  out.routed_events = r.routed_events;
  out.marks_sent = r.marks;
  out.route_transactions = r.transactions;
  out.route_aborts = r.aborted;
  out.evaluated = e.records;
  out.duplicates = e.duplicates;
  out.marks = e.marks;
  out.invalid = e.invalid;
  out.late = e.late;
  out.rejected = e.rejected;
  out.restores = e.restores;
  out.restored_records = e.restored_records;
  out.checkpoints = e.commits;
  out.checkpoint_failures = e.commit_failures;
  out.changelog_records = e.changelog_records;
  out.changelog_bytes = e.changelog_bytes;
  out.restore_seconds = e.restore_seconds;
  out.tasks.clear();
  out.restoring = 0;
  for (const EvalStage::TaskInfo& t : eval_->Tasks()) {
    out.tasks.push_back({t.partition, t.restoring, t.watermark_ms, t.restore_lag});
    if (t.restoring) ++out.restoring;
  }
  out.standby_restores = e.standby_restores;
  out.standby_records = e.standby_records;
  out.standbys.clear();
  for (const EvalStage::StandbyInfo& s : eval_->Standbys()) {
    out.standbys.push_back({s.partition, s.lag, s.bytes});
  }
}

void ScaleOut::EngineFigures(EngineStats& stats, int64_t& watermark_ms, uint64_t& held) const {
  const RouteStage::Counters& r = route_->counters();
  const EvalStage::Counters e = eval_->counters();
  stats.received = r.records;
  stats.accepted = r.records - r.rejected;
  stats.late = e.late;
  for (int i = 0; i < static_cast<int>(RejectReason::kCount_); ++i) {
    stats.rejected[i] = r.rejected_by_reason[i];
  }
  const int64_t lowest = eval_->Watermark();
  watermark_ms = lowest == ShuffleTime::kNone ? INT64_MIN : lowest;
  held = eval_->HeldEvents();
}

Status ScaleOut::Close() {
  Status routed = route_->Close();
  Status evaluated = eval_->Close();
  return routed.ok() ? evaluated : routed;
}

}  // namespace klaxon::service
