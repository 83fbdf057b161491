#include "service/evaluator.h"

namespace klaxon::service {

void Evaluator::AdvanceToPartitionTime(std::vector<Notification>& out) {
  const int64_t to = partition_time_->Watermark();
  if (to == PartitionTime::kNone || to <= advanced_to_) return;
  advanced_to_ = to;
  engine_->AdvanceTo(to, out);
}

void Evaluator::Finish(std::optional<int64_t> until_ms, std::vector<Notification>& out) {
  engine_->Flush(out);
  if (until_ms) engine_->AdvanceTo(*until_ms + lateness_ms_, out);
}

}  // namespace klaxon::service
