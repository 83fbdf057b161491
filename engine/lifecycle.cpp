#include "engine/lifecycle.h"

#include <algorithm>

namespace klaxon {

namespace {

void StartEpisode(LifecycleStep& step, int64_t t) {
  step.next.life = Life::kFiring;
  step.next.since = t;
  step.next.repeat_index = 0;
  step.next.false_since = kNone;
  step.transition = Transition::kFiring;
  step.at = t;
}

}  // namespace

LifecycleStep StepLifecycle(const Lifecycle& now, const LifecycleRule& rule, bool cond, int64_t t,
                            int64_t horizon) {
  LifecycleStep step;
  step.next = now;
  Lifecycle& l = step.next;
  switch (now.life) {
    case Life::kInactive:
      if (!cond) break;
      if (rule.pending_ms > 0) {
        l.life = Life::kPending;
        l.since = t;
        step.transition = Transition::kPending;
        break;
      }
      StartEpisode(step, t);
      break;
    case Life::kPending:
      if (!cond) {
        l.life = Life::kInactive;
        step.transition = Transition::kCancelled;
      } else if (t >= SatAdd(l.since, rule.pending_ms)) {
        StartEpisode(step, t);
      }
      break;
    case Life::kFiring:
      if (cond) {
        l.false_since = kNone;
      } else {
        if (l.false_since == kNone) l.false_since = t;
        if (t >= SatAdd(l.false_since, rule.keep_firing_ms)) {
          l.life = Life::kInactive;
          l.false_since = kNone;
          step.transition = Transition::kResolved;
          step.at = t;
        }
      }
      break;
  }
  if (l.life == Life::kFiring && rule.repeat_ms > 0 && step.transition == Transition::kNone &&
      l.repeat_index < UINT32_MAX - 1) {
    const int64_t due = (t - l.since) / rule.repeat_ms;  // repeat times reached by t
    if (due > static_cast<int64_t>(l.repeat_index)) {
      // A step of time that passes more than kMaxRepeatsPerStep repeat times (a gap of days in
      // a log, a clock jump) sends only the last of them: reminders must not flood receivers
      // or memory. Below that every reminder goes out at its time, as in a live stream, so
      // replay and the service agree whatever their steps.
      const int64_t last = (horizon - l.since) / rule.repeat_ms;
      // Below the cap, so that the last repeat is still sent once; a skip that would not move
      // the count (at the cap) sends that last repeat instead.
      const int64_t skip_to = std::min<int64_t>(last - 1, UINT32_MAX - 2);
      if (last - static_cast<int64_t>(l.repeat_index) > kMaxRepeatsPerStep && last > due &&
          skip_to > static_cast<int64_t>(l.repeat_index)) {
        l.repeat_index = static_cast<uint32_t>(skip_to);
      } else {
        l.repeat_index = static_cast<uint32_t>(std::min<int64_t>(due, UINT32_MAX - 1));
        step.transition = Transition::kRepeat;
        step.at = l.since + static_cast<int64_t>(l.repeat_index) * rule.repeat_ms;
      }
    }
  }
  if (l.life == Life::kPending) step.next_due = SatAdd(l.since, rule.pending_ms);
  if (l.life == Life::kFiring) {
    // The repeat count saturates (uint32): past it an episode sends no more repeats. Scheduling
    // the next one then would name a time already passed and step time a millisecond at a time
    // forever (a 1970 event before a current one, with `repeat every 100ms`).
    if (rule.repeat_ms > 0 && l.repeat_index < UINT32_MAX - 1) {
      step.next_due =
          std::min(step.next_due,
                   SatAdd(l.since, static_cast<int64_t>(l.repeat_index + 1) * rule.repeat_ms));
    }
    if (l.false_since != kNone) {
      step.next_due = std::min(step.next_due, SatAdd(l.false_since, rule.keep_firing_ms));
    }
  }
  return step;
}

}  // namespace klaxon
