// The restart fallback without a state store: how much event time a restart re-reads to
// rebuild exact window state. Offsets are committed this far behind the watermark.
#pragma once

#include <cstdint>

#include "engine/engine.h"
#include "engine/rule.h"

namespace klaxon::service {

// The longest span any enabled rule looks back over (window, offset, the longer of pending and
// keep-firing, repeat), plus the allowed lateness, at most `cap_ms` (docs/operations.md).
int64_t RestoreHorizonMs(const RuleSet& rules, const EngineOptions& options, int64_t cap_ms);

}  // namespace klaxon::service
