// Evaluator: the one evaluation stage of `klaxon run`, `klaxon replay` and `klaxon test`: an
// event (decoded, or raw) -> its partition's event time -> the engine -> notifications, and
// the end of the input (what lateness holds back, then event time run on to a chosen time).
// The three commands differ in where events come from and where notifications go, not in how
// they are evaluated.
//
// With a PartitionTime (Kafka), each event's time is observed for its partition and the engine
// is moved to the watermark the partitions allow (EngineOptions::advance_on_event is false);
// without one (a file, stdin, a test case) the input is one ordered partition and the engine's
// watermark follows its events. Borrows the engine and the partition time; one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/notification.h"
#include "service/partition_time.h"

namespace klaxon::service {

class Evaluator {
 public:
  // `partition_time` may be null (one ordered input); `allowed_lateness_ms` is the engine's.
  Evaluator(Engine* engine, PartitionTime* partition_time, int64_t allowed_lateness_ms)
      : engine_(engine), partition_time_(partition_time), lateness_ms_(allowed_lateness_ms) {}

  // After a reload: the new engine carries the old one's state, and event time goes on.
  void SetEngine(Engine* engine) { engine_ = engine; }

  // A decoded event of partition `key` (`key` is ignored without partition time). A truncated
  // record (larger than the source's limit) is rejected as too large without evaluation.
  // Inline: it is the per-event path of replay, which must cost what calling the engine costs.
  ProcessResult Event(DecodedEvent& event, RejectReason decoded, bool truncated,
                      PartitionTime::Key key, std::vector<Notification>& out) {
    if (truncated) {
      ProcessResult r;
      r.rejected = RejectReason::kTooLarge;
      return r;
    }
    const ProcessResult r = engine_->ProcessDecoded(event, decoded, out);
    if (partition_time_ != nullptr && r.rejected == RejectReason::kNone) {
      partition_time_->Observe(key, r.event_time_ms);
      AdvanceToPartitionTime(out);
    }
    return r;
  }
  // An event as text, decoded here (one ordered input).
  ProcessResult Raw(std::string_view raw, std::vector<Notification>& out) {
    return engine_->Process(raw, out);
  }
  // Moves the engine to the event time the partitions allow, when it moved on.
  void AdvanceToPartitionTime(std::vector<Notification>& out);
  // The input ended: evaluates what lateness holds back, then, with `until_ms`, runs event time
  // on to it (resolves and flatlines due by then).
  void Finish(std::optional<int64_t> until_ms, std::vector<Notification>& out);

 private:
  Engine* engine_;
  PartitionTime* partition_time_;
  int64_t lateness_ms_;
  int64_t advanced_to_ = INT64_MIN;  // what the engine was last advanced to from partition time
};

}  // namespace klaxon::service
