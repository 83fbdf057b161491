// ScaleOut: both stages of scale-out in one `klaxon run` instance (docs/scale_out.md): the
// internal topic created and checked (KafkaAdmin), stage 1 (RouteStage) routing the input to
// <application_id>-repartition, stage 2 (EvalStage) evaluating the repartition partitions
// assigned here. Every instance runs both; Kafka's group protocol decides who owns what.
//
// Not thread-safe: the run loop's thread drives it. Reads no clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/notification.h"
#include "service/eval_stage.h"
#include "service/log_sink.h"
#include "service/route_stage.h"
#include "service/runtime_options.h"
#include "service/runtime_snapshot.h"

namespace klaxon::service {

class ScaleOut {
 public:
  // Creates <application_id>-repartition (or checks its partition count and cleanup policy),
  // reads the input topics' partition counts (they must exist) and joins both consumer groups.
  // `options.engine` as the runtime uses it; `options.kafka.client` has the log set.
  static Result<std::unique_ptr<ScaleOut>> Open(const RuntimeOptions& options, const RuleSet& rules,
                                                LogSink& log);

  // One pass of both stages; notifications are appended to `out`.
  Status Pass(int64_t now_ms, std::chrono::milliseconds wait, std::vector<Notification>& out);
  // The notifications so far are in the outbox (EvalStage::Stored): stage 2 checkpoints every
  // commit interval (now with `force`). An error means this instance was fenced and must stop.
  Status Stored(int64_t now_ms, bool force = false) { return eval_->Stored(now_ms, force); }
  Status Close();

  bool assigned() const { return route_->assigned() || eval_->assigned(); }
  bool restoring() const { return eval_->restoring(); }
  // Both stages' totals and stage 2's tasks, for the run loop's snapshot.
  void Snapshot(ScaleOutSnapshot& out) const;
  // Stage 2's rules statistics and active alerts (EvalStage::CollectRules), in place of the
  // single-stage engine's, which evaluates nothing in this mode.
  void CollectRules(std::vector<RuleStats>& rules, std::vector<ActiveAlert>& alerts) {
    eval_->CollectRules(rules, alerts);
  }
  // The engine-level figures of the run loop's snapshot: events read and rejected by stage 1,
  // evaluated late or refused by stage 2, the lowest task watermark and the events held.
  void EngineFigures(EngineStats& stats, int64_t& watermark_ms, uint64_t& held) const;
  const RouteStage::Counters& route_counters() const { return route_->counters(); }
  EvalStage::Counters eval_counters() const { return eval_->counters(); }

 private:
  std::unique_ptr<RouteStage> route_;
  std::unique_ptr<EvalStage> eval_;
};

}  // namespace klaxon::service
