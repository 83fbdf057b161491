#include "service/scale_out.h"

#include <algorithm>
#include <utility>

#include "connectors/kafka_admin.h"

namespace klaxon::service {

Result<std::unique_ptr<ScaleOut>> ScaleOut::Open(const RuntimeOptions& options,
                                                 const RuleSet& rules, LogSink& log) {
  const ScaleOutOptions& so = options.scale_out;
  const connectors::KafkaClientOptions& client = options.kafka.client;
  const std::string repartition = so.application_id + "-repartition";
  Result<std::unique_ptr<connectors::KafkaAdmin>> admin = connectors::KafkaAdmin::Open(client);
  if (!admin.ok()) return admin.status();
  connectors::TopicSpec spec{
      .name = repartition, .partitions = so.partitions, .configs = {{"cleanup.policy", "delete"}}};
  if (Status st = (*admin)->EnsureTopic(spec); !st.ok()) {
    return Status(st.code(), "scale_out: " + st.message());
  }
  // Stage 2 waits for every partition of the input topics, owned by whichever instance.
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
  eval.repartition = options.kafka;
  eval.repartition.topics = {repartition};
  eval.repartition.group_id = so.application_id + "-eval";
  eval.future_limit_ms = options.future_limit_ms;

  RouteStageOptions route;
  route.input = options.kafka;
  route.input.group_id = so.application_id;
  route.producer = client;
  route.repartition_topic = repartition;
  route.partitions = so.partitions;
  route.allowed_lateness_ms = options.engine.allowed_lateness_ms;
  route.idle_after_ms = options.partition_idle_timeout_ms > 0
                            ? options.partition_idle_timeout_ms
                            : std::max<int64_t>(options.engine.allowed_lateness_ms, 1000);

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
            {"eval_group", so.application_id + "-eval"}});
  return scale_out;
}

Status ScaleOut::Pass(int64_t now_ms, std::chrono::milliseconds wait,
                      std::vector<Notification>& out) {
  // Each stage waits for half the tick at most: neither keeps the other's input waiting long.
  const auto half = std::max(wait / 2, std::chrono::milliseconds(1));
  if (Status st = route_->Pass(now_ms, half); !st.ok()) return st;
  return eval_->Pass(now_ms, half, out);
}

Status ScaleOut::Close() {
  Status routed = route_->Close();
  Status evaluated = eval_->Close();
  return routed.ok() ? evaluated : routed;
}

}  // namespace klaxon::service
