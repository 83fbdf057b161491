// Time outliers and time ownership: a future-stamped event is rejected rather than moving event
// time; a step of time over many repeat intervals sends the last reminder only; with
// advance_on_event off, only AdvanceTo moves time (the service's per-partition event time).
#include <doctest/doctest.h>

#include "engine/event_decoder.h"
#include "tests/engine/engine_test_util.h"

namespace klaxon::testing {
namespace {

using V = std::vector<std::string>;

TEST_CASE("an event beyond the future bound is rejected and moves nothing") {
  EngineOptions o = Harness::Lateness(0);
  o.max_event_time_ms = kT0 + 3600'000;
  Rule flat = CountRule("flat", Predicate(), CompareOp::kLt, 1, 600'000);
  Harness h({flat}, o);
  h.At(kT0);
  const int64_t year_2999 = 32'503'680'000'000;
  const ProcessResult r = h.At(year_2999);
  CHECK(r.rejected == RejectReason::kFutureTimestamp);
  CHECK(h.engine->Stats().rejected[static_cast<int>(RejectReason::kFutureTimestamp)] == 1);
  CHECK(h.engine->Watermark() == kT0);
  // Later events are not late, and no flatline fired.
  CHECK_FALSE(h.At(kT0 + 1000).late);
  CHECK(h.out.empty());
  CHECK(std::string(RejectReasonName(RejectReason::kFutureTimestamp)) == "future_timestamp");
  // The bound moves with the caller's clock.
  h.engine->SetMaxEventTime(year_2999);
  CHECK(h.At(year_2999).rejected == RejectReason::kNone);
}

// The service dead-letters every rejected event with its bytes; a future timestamp is only
// found in ProcessDecoded, after the event was handed over, so the event must come back.
TEST_CASE("a decoded event ProcessDecoded rejects stays with the caller, bytes intact") {
  EngineOptions o = Harness::Lateness(0);
  o.max_event_time_ms = kT0 + 3600'000;
  Harness h({EveryRule("all", Predicate())}, o);
  std::unique_ptr<EventDecoder> decoder = h.engine->NewDecoder();
  DecodedEvent scratch;
  const auto send = [&](const std::string& json) {
    EventDecoder::ReserveRaw(json, scratch);
    const RejectReason reason = decoder->DecodeInPlace(scratch);
    return h.engine->ProcessDecoded(scratch, reason, h.out);
  };
  CHECK(send(Ev(kT0)).rejected == RejectReason::kNone);  // the pool now holds an event
  const std::string future = Ev(32'503'680'000'000, R"("message":"from 2999")");
  CHECK(send(future).rejected == RejectReason::kFutureTimestamp);
  CHECK(scratch.Raw() == future);
  const std::string bad = "{not json";
  CHECK(send(bad).rejected == RejectReason::kInvalidJson);
  CHECK(scratch.Raw() == bad);
  CHECK(send(Ev(kT0 + 1000)).rejected == RejectReason::kNone);
  h.Flush();
  CHECK(h.out.size() == 2);
}

TEST_CASE("two JSON values in one event are rejected as trailing content, never half-read") {
  Harness h({EveryRule("all", Predicate())});
  CHECK(h.Send(Ev(kT0) + Ev(kT0 + 1)).rejected == RejectReason::kTrailingContent);
  CHECK(h.Send(Ev(kT0) + "\n" + Ev(kT0 + 2)).rejected == RejectReason::kTrailingContent);
  CHECK(h.Send(Ev(kT0) + " 42").rejected == RejectReason::kInvalidJson);  // stage 1 sees it
  CHECK(h.Send(Ev(kT0) + " x").rejected == RejectReason::kInvalidJson);
  CHECK(h.Send(Ev(kT0) + " \n\t ").rejected == RejectReason::kNone);
  CHECK(std::string(RejectReasonName(RejectReason::kTrailingContent)) == "trailing_content");
  h.Flush();
  CHECK(h.out.size() == 1);
}

// Before: past 2^32 repeat times the count saturated and the engine stepped time one
// millisecond at a time forever (replay, test and the service hung; SIGTERM was not heard).
TEST_CASE("an event from 1970 before a current one, with a 100 ms repeat, ends at once") {
  Rule flat = CountRule("flat", Predicate(), CompareOp::kLt, 1, 1000);
  flat.repeat_ms = 100;
  Harness h({flat}, Harness::Lateness(0));
  h.At(1'000'000);  // 1970-01-01T00:16:40Z
  h.At(kT0);
  h.Flush();
  REQUIRE(h.out.size() == 3);
  CHECK(h.out[0].state == AlertState::kFiring);
  CHECK(h.out[1].state == AlertState::kRepeat);
  CHECK(h.out[1].repeat_index == UINT32_MAX - 1);
  CHECK(h.out[2].state == AlertState::kResolved);
}

TEST_CASE("a step over more than 100 repeat times sends only the last reminder") {
  Rule r = CountRule("rep", Predicate(), CompareOp::kGt, 0, 10 * 365 * 86'400'000LL);
  r.repeat_ms = 1'800'000;  // 30 minutes
  Harness h({r});
  h.At(kT0);
  // One year later in one step: 17,520 repeat times passed.
  const int64_t year = 365 * 86'400'000LL;
  h.Advance(kT0 + year);
  REQUIRE(h.out.size() == 2);
  CHECK(h.out[1].state == AlertState::kRepeat);
  CHECK(h.out[1].at_ms == kT0 + year);
  CHECK(h.out[1].repeat_index == 17'520);
  // Steps of up to 100 repeat times send every reminder at its time.
  h.out.clear();
  h.Advance(kT0 + year + 100 * r.repeat_ms);
  CHECK(h.out.size() == 100);
  CHECK(h.out.back().repeat_index == 17'620);
}

TEST_CASE("a gap of a few repeat intervals sends each reminder, as a live stream would") {
  Rule r = CountRule("rep", Predicate(), CompareOp::kGt, 0, 86'400'000);
  r.repeat_ms = 1'800'000;
  Harness h({r});
  h.At(kT0);
  h.At(kT0 + 7'200'000);  // two hours later: four repeat times passed in one step
  V got = ShowAll(h.out);
  REQUIRE(got.size() == 5);
  CHECK(h.out[4].at_ms == kT0 + 7'200'000);
}

TEST_CASE("with advance_on_event off, events wait for AdvanceTo") {
  EngineOptions o = Harness::Lateness(1000);
  o.advance_on_event = false;
  Harness h({EveryRule("all", Predicate())}, o);
  h.At(kT0 + 5000);
  h.At(kT0);
  CHECK(h.engine->HeldEvents() == 2);
  CHECK(h.out.empty());
  h.Advance(kT0 + 1000);  // minus the lateness: up to kT0
  REQUIRE(h.out.size() == 1);
  CHECK(h.out[0].at_ms == kT0);
  CHECK(h.engine->Watermark() == kT0);
  CHECK_FALSE(h.At(kT0 + 1).late);  // ahead of the watermark, not behind the newest event
  h.Advance(kT0 + 6000);
  CHECK(h.out.size() == 3);
  CHECK(h.engine->HeldEvents() == 0);
}

}  // namespace
}  // namespace klaxon::testing
