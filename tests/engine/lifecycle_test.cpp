// The lifecycle step on its own (engine/lifecycle.h): explicit states, conditions and times, no
// engine, no events.
#include "engine/lifecycle.h"

#include <doctest/doctest.h>

namespace klaxon {
namespace {

constexpr int64_t kMin = 60000;

// Runs one step and checks its transition, notification time and next due time.
Lifecycle Step(const Lifecycle& now, const LifecycleRule& rule, bool cond, int64_t t,
               Transition transition, int64_t next_due, int64_t at = -1, int64_t horizon = -1) {
  const LifecycleStep step = StepLifecycle(now, rule, cond, t, horizon < 0 ? t : horizon);
  CHECK(step.transition == transition);
  CHECK(step.next_due == next_due);
  if (at >= 0) CHECK(step.at == at);
  return step.next;
}

TEST_CASE("lifecycle: pending, firing, keep firing, resolved, with explicit times") {
  const LifecycleRule rule{5 * kMin, 2 * kMin, 0};  // pending 5m, keep firing 2m
  Lifecycle l;
  // The condition holds at 1m: pending until 6m.
  l = Step(l, rule, true, 1 * kMin, Transition::kPending, 6 * kMin);
  CHECK(l.life == Life::kPending);
  CHECK(l.since == 1 * kMin);
  // Still pending at 3m; the deadline stays.
  l = Step(l, rule, true, 3 * kMin, Transition::kNone, 6 * kMin);
  CHECK(l.life == Life::kPending);
  // At the deadline it fires; the episode starts then, not when pending began.
  l = Step(l, rule, true, 6 * kMin, Transition::kFiring, kNever, 6 * kMin);
  CHECK(l.life == Life::kFiring);
  CHECK(l.since == 6 * kMin);
  CHECK(l.repeat_index == 0);
  // The condition goes away at 7m: keep firing until 9m.
  l = Step(l, rule, false, 7 * kMin, Transition::kNone, 9 * kMin);
  CHECK(l.life == Life::kFiring);
  CHECK(l.false_since == 7 * kMin);
  // Back at 8m: keep firing is cancelled, nothing due.
  l = Step(l, rule, true, 8 * kMin, Transition::kNone, kNever);
  CHECK(l.false_since == kNone);
  // False again at 10m, still false at 11m: due at 12m, where it resolves.
  l = Step(l, rule, false, 10 * kMin, Transition::kNone, 12 * kMin);
  l = Step(l, rule, false, 11 * kMin, Transition::kNone, 12 * kMin);
  CHECK(l.false_since == 10 * kMin);
  l = Step(l, rule, false, 12 * kMin, Transition::kResolved, kNever, 12 * kMin);
  CHECK(l.life == Life::kInactive);
  CHECK(l.false_since == kNone);
  CHECK(l.since == 6 * kMin);  // the resolve reports the episode it ends
}

TEST_CASE("lifecycle: pending is cancelled when the condition goes away before its time") {
  const LifecycleRule rule{5 * kMin, 0, 0};
  Lifecycle l = Step({}, rule, true, 0, Transition::kPending, 5 * kMin);
  l = Step(l, rule, false, 4 * kMin, Transition::kCancelled, kNever);
  CHECK(l.life == Life::kInactive);
  // A new pending period starts from its own time.
  l = Step(l, rule, true, 4 * kMin + 1, Transition::kPending, 9 * kMin + 1);
}

TEST_CASE("lifecycle: without pending it fires at once, without keep firing it resolves at once") {
  const LifecycleRule rule{0, 0, 0};
  Lifecycle l = Step({}, rule, false, 1000, Transition::kNone, kNever);
  CHECK(l.life == Life::kInactive);
  l = Step(l, rule, true, 2000, Transition::kFiring, kNever, 2000);
  l = Step(l, rule, false, 3000, Transition::kResolved, kNever, 3000);
  CHECK(l.life == Life::kInactive);
}

TEST_CASE("lifecycle: repeats while firing, at episode start + n * repeat") {
  const LifecycleRule rule{0, 1 * kMin, 10 * kMin};  // keep firing 1m, repeat 10m
  Lifecycle l = Step({}, rule, true, 0, Transition::kFiring, 10 * kMin, 0);
  l = Step(l, rule, true, 5 * kMin, Transition::kNone, 10 * kMin);
  l = Step(l, rule, true, 10 * kMin, Transition::kRepeat, 20 * kMin, 10 * kMin);
  CHECK(l.repeat_index == 1);
  // Looked at late (25m): the repeat due at 20m goes out with its own time.
  l = Step(l, rule, true, 25 * kMin, Transition::kRepeat, 30 * kMin, 20 * kMin);
  CHECK(l.repeat_index == 2);
  // Repeats go on during keep firing: the repeat at 30m comes before its end at 30m30s.
  l = Step(l, rule, false, 29 * kMin + 30000, Transition::kNone, 30 * kMin);
  l = Step(l, rule, false, 30 * kMin, Transition::kRepeat, 30 * kMin + 30000, 30 * kMin);
  CHECK(l.repeat_index == 3);
  l = Step(l, rule, false, 30 * kMin + 30000, Transition::kResolved, kNever, 30 * kMin + 30000);
  CHECK(l.life == Life::kInactive);
  CHECK(l.repeat_index == 3);  // the resolve carries the episode's count
  // A new episode counts its repeats from 0 again.
  l = Step(l, rule, true, 40 * kMin, Transition::kFiring, 50 * kMin, 40 * kMin);
  CHECK(l.repeat_index == 0);
}

TEST_CASE("lifecycle: a step of time past more than 100 repeats sends only the last") {
  const LifecycleRule rule{0, 0, kMin};
  Lifecycle l = Step({}, rule, true, 0, Transition::kFiring, kMin, 0);
  // Time jumps 1000 minutes in one step: the first look (at 1m) skips silently to the repeat
  // before the last, and the look at the end sends the last one.
  l = Step(l, rule, true, kMin, Transition::kNone, 1000 * kMin, -1, 1000 * kMin);
  CHECK(l.repeat_index == 999);
  l = Step(l, rule, true, 1000 * kMin, Transition::kRepeat, 1001 * kMin, 1000 * kMin, 1000 * kMin);
  CHECK(l.repeat_index == 1000);
  // Up to 100 repeats in one step are each sent at their time.
  Lifecycle m = Step({}, rule, true, 0, Transition::kFiring, kMin, 0);
  m = Step(m, rule, true, kMin, Transition::kRepeat, 2 * kMin, kMin, 100 * kMin);
  CHECK(m.repeat_index == 1);
}

// Before: past 2^32 repeats the count saturated, the next repeat was due in the past, and the
// engine stepped time one millisecond at a time forever (a 1970 event before a current one).
TEST_CASE("lifecycle: the repeat count saturates once, then no repeat is due") {
  const LifecycleRule rule{0, 0, 100};               // repeat every 100ms
  const int64_t far = 500LL * 365 * 24 * 60 * kMin;  // 500 years
  const int64_t cap = static_cast<int64_t>(UINT32_MAX - 1) * 100;
  Lifecycle l = Step({}, rule, true, 0, Transition::kFiring, 100, 0);
  l = Step(l, rule, true, 100, Transition::kNone, cap, -1, far);
  CHECK(l.repeat_index == UINT32_MAX - 2);
  // Looked at when the capped repeat is due, with the step's end still far ahead: the skip
  // cannot move the count any more, so the last repeat goes out (before: re-run every ms).
  l = Step(l, rule, true, cap, Transition::kRepeat, kNever, cap, far);
  CHECK(l.repeat_index == UINT32_MAX - 1);
  l = Step(l, rule, true, far + kMin, Transition::kNone, kNever, -1, far + kMin);
  CHECK(l.repeat_index == UINT32_MAX - 1);
}

TEST_CASE("lifecycle: the step is pure: the same input gives the same output") {
  const LifecycleRule rule{kMin, kMin, kMin};
  const Lifecycle firing{Life::kFiring, 0, 30000, 2};
  const LifecycleStep a = StepLifecycle(firing, rule, false, 3 * kMin, 3 * kMin);
  const LifecycleStep b = StepLifecycle(firing, rule, false, 3 * kMin, 3 * kMin);
  CHECK(a.transition == Transition::kResolved);
  CHECK(a.transition == b.transition);
  CHECK(a.at == b.at);
  CHECK(a.next_due == b.next_due);
  CHECK(a.next.life == b.next.life);
  // A resolve wins over a repeat due at the same instant.
  CHECK(a.next.repeat_index == 2);
}

}  // namespace
}  // namespace klaxon
