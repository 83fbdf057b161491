// The alert lifecycle of one (rule, group) as a pure step: inactive -> pending -> firing ->
// (keep firing) -> resolved, with repeats while firing (engine/README.md, "Lifecycle"). The step
// only computes; the engine applies what it returns (counters, the triggering event, the
// notification, the timer). Internal to the engine.
#pragma once

#include <cstdint>

#include "engine/time_math.h"

namespace klaxon {

enum class Life : uint8_t { kInactive, kPending, kFiring };

// The rule's lifecycle settings.
struct LifecycleRule {
  int64_t pending_ms = 0;
  int64_t keep_firing_ms = 0;
  int64_t repeat_ms = 0;
};

// A group's lifecycle state: what the step reads and replaces.
struct Lifecycle {
  Life life = Life::kInactive;
  int64_t since = 0;            // pending since, or the episode start while firing
  int64_t false_since = kNone;  // firing: since when the condition has been false
  uint32_t repeat_index = 0;    // firing: repeats sent in this episode
};

// What a step did. At most one transition per step (each needs the condition to change or time
// to pass since the previous one).
enum class Transition : uint8_t {
  kNone,
  kPending,    // inactive -> pending
  kCancelled,  // pending -> inactive: the condition went away before the pending time
  kFiring,     // inactive or pending -> firing: a `firing` notification at `at`
  kRepeat,     // firing: a `repeat` notification at `at`
  kResolved,   // firing -> inactive: a `resolved` notification at `at`
};

// Repeat notifications one step of time may send per group before it skips to the last.
inline constexpr int64_t kMaxRepeatsPerStep = 100;

struct LifecycleStep {
  Lifecycle next;
  Transition transition = Transition::kNone;
  int64_t at = 0;  // time of the notification (kFiring, kRepeat, kResolved)
  // When the lifecycle itself must be looked at again (pending deadline, next repeat, end of
  // keep firing); kNever when nothing is due. The window may need an earlier look.
  int64_t next_due = kNever;
};

// One step at time `t` with the condition `cond` evaluated at t. `horizon` is where the current
// advance of time ends (>= t): a step that passes more than kMaxRepeatsPerStep repeat times
// before it sends only the last of them.
LifecycleStep StepLifecycle(const Lifecycle& now, const LifecycleRule& rule, bool cond, int64_t t,
                            int64_t horizon);

}  // namespace klaxon
