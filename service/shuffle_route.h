// ShuffleRouter: the routing of scale-out's first stage (docs/scale_out.md): for a decoded
// event, every (rule, group) it falls in and the partition of the repartition topic that owns
// that (rule, group), so that one instance evaluates each group whole.
//
// Borrows the engine (Engine::MatchRules: the rule index and filters, no window state) and
// reuses its buffers: routing allocates nothing in steady state. Not thread-safe: one thread,
// as the engine's.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "service/shuffle_record.h"

namespace klaxon::service {

// The repartition partition of (rule id, group), in [0, partitions) for partitions >= 1:
// FNV-1a 64 (engine/hash.h) over the rule id, then per group value a tag byte (0 absent,
// 1 present) and, when present, its length as 8 little-endian bytes and its bytes; modulo
// `partitions`. Part of the repartition topic's contract: every instance sharing the topic,
// whatever its version, must compute the same partition, so this never changes without a new
// topic.
int32_t ShufflePartition(std::string_view rule_id,
                         std::span<const std::optional<std::string_view>> group,
                         int32_t partitions);

struct ShuffleRoute {
  uint32_t rule = 0;                 // index in the engine's rules
  std::string_view rule_id;          // Rule::id
  const RuleMatch* match = nullptr;  // the group and what the rule counts (views into the event)
  int32_t partition = 0;
};

// The repartition record of one route: the rule, the group, the event's time and id (decoded
// only with EngineOptions::explain, as evaluation needs it), what the rule counts of it, and
// the input record it came from. The event JSON is left out: whether the owner needs it is
// the caller's decision (docs/scale_out.md, "Open questions"). Views point into `route`, `ev`
// and `source`; the record's vectors keep their capacity.
void FillShuffleRecord(const ShuffleRoute& route, const DecodedEvent& ev,
                       const ShuffleSource& source, ShuffleRecord& record);

class ShuffleRouter {
 public:
  // `partitions`: the repartition topic's partition count (>= 1).
  ShuffleRouter(Engine* engine, int32_t partitions) : engine_(engine), partitions_(partitions) {}

  // The routes of `ev`, in rule order; valid until the next call and while `ev` is. Empty for
  // an event no rule matches (it is not sent on).
  std::span<const ShuffleRoute> Route(const DecodedEvent& ev);

 private:
  Engine* engine_;
  int32_t partitions_;
  std::vector<RuleMatch> matches_;    // reused
  std::vector<ShuffleRoute> routes_;  // reused
};

}  // namespace klaxon::service
