#include "service/restore_horizon.h"

#include <algorithm>

namespace klaxon::service {

int64_t RestoreHorizonMs(const RuleSet& rules, const EngineOptions& options, int64_t cap_ms) {
  int64_t horizon = 0;
  for (const Rule& r : rules.rules) {
    if (!r.enabled) continue;
    const Condition& c = r.condition;
    horizon = std::max(horizon, c.window_ms + c.offset_ms +
                                    std::max(r.pending_ms, r.keep_firing_ms) + r.repeat_ms);
  }
  return std::min(horizon + options.allowed_lateness_ms, cap_ms);
}

}  // namespace klaxon::service
