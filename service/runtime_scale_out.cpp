// The run loop's scale-out mode (docs/scale_out.md): both stages in place of the source and the
// engine. Kept apart from runtime.cpp: the single-stage path does not change with it.
#include "service/runtime.h"
#include "service/scale_out.h"

namespace klaxon::service {

Status Runtime::StartScaleOut(const RuleSet& rules) {
  options_.kafka.client.log = [this](LogLevel level, std::string_view message) {
    log_.Log(level, "kafka", {{"detail", std::string(message)}});
  };
  Result<std::unique_ptr<ScaleOut>> scale_out = ScaleOut::Open(options_, rules, log_);
  if (!scale_out.ok()) return scale_out.status();
  scale_out_ = std::move(scale_out).value();
  return StartSentry(&options_.kafka.client);
}

bool Runtime::ScaleOutPass(int64_t now_ms, std::chrono::milliseconds wait,
                           std::chrono::steady_clock::time_point& last_snapshot) {
  if (Status st = scale_out_->Pass(now_ms, wait, notes_); !st.ok()) {
    // A repartition record not acknowledged may be lost: its input offset must not be
    // committed, and the next start reads it again.
    log_.Error("scale-out stopped", {{"error", st.message()}});
    return false;
  }
  Queue(notes_);
  FlushNotifications();
  // The records behind what the outbox holds may be committed; not while some wait.
  if (RetryUnstored(/*now_regardless=*/false)) {
    if (Status st = scale_out_->Stored(now_ms); !st.ok()) {
      log_.Error("scale-out stopped: this instance can no longer checkpoint",
                 {{"error", st.message()}});
      return false;
    }
  }
  const auto now = std::chrono::steady_clock::now();
  // While tasks wait to be restored (the next pass restores them), the snapshot says so at once:
  // readiness is false and the metrics show them.
  if (now - last_snapshot >= std::chrono::milliseconds(200) || scale_out_->restoring()) {
    PublishSnapshot();
    last_snapshot = now;
  }
  return true;
}

void Runtime::StopScaleOut() {
  if (unstored_.empty()) {
    if (Status st = scale_out_->Stored(clock_.NowMs(), /*force=*/true); !st.ok()) {
      log_.Error(
          "scale-out: the last checkpoint was not committed; the next owner evaluates "
          "again from the one before",
          {{"error", st.message()}});
    }
  }
  const RouteStage::Counters& r = scale_out_->route_counters();
  const EvalStage::Counters e = scale_out_->eval_counters();
  log_.Info("scale-out totals", {{"input_records", std::to_string(r.records)},
                                 {"input_rejected", std::to_string(r.rejected)},
                                 {"routed", std::to_string(r.routed)},
                                 {"routed_bytes", std::to_string(r.routed_bytes)},
                                 {"routed_events", std::to_string(r.routed_events)},
                                 {"dead_lettered", std::to_string(r.dead_lettered)},
                                 {"marks_sent", std::to_string(r.marks)},
                                 {"route_transactions", std::to_string(r.transactions)},
                                 {"route_aborts", std::to_string(r.aborted)},
                                 {"evaluated", std::to_string(e.records)},
                                 {"duplicates", std::to_string(e.duplicates)},
                                 {"late", std::to_string(e.late)},
                                 {"rejected", std::to_string(e.rejected)},
                                 {"invalid", std::to_string(e.invalid)},
                                 {"tasks", std::to_string(e.tasks)},
                                 {"restores", std::to_string(e.restores)},
                                 {"standby_restores", std::to_string(e.standby_restores)},
                                 {"standby_records", std::to_string(e.standby_records)},
                                 {"local_records", std::to_string(e.local_records)},
                                 {"checkpoints", std::to_string(e.commits)},
                                 {"checkpoint_failures", std::to_string(e.commit_failures)},
                                 {"changelog_records", std::to_string(e.changelog_records)},
                                 {"changelog_bytes", std::to_string(e.changelog_bytes)}});
  if (Status st = scale_out_->Close(); !st.ok()) {
    log_.Error("scale-out close failed", {{"error", st.message()}});
  }
}

}  // namespace klaxon::service
