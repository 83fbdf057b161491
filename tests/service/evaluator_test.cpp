// The evaluation stage shared by run, replay and test: one ordered input follows its events;
// with partition time the engine waits for the slowest partition; Finish releases what
// lateness holds and runs event time on to `until`.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/engine.h"
#include "engine/event_decoder.h"
#include "rules-dsl/rules_dsl.h"
#include "service/evaluator.h"
#include "service/partition_time.h"

namespace klaxon::service {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kLatenessMs = 1000;

std::unique_ptr<Engine> MakeEngine(bool advance_on_event) {
  rules_dsl::LoadResult loaded = rules_dsl::ParseAndCheck({{"t.rules", R"(action hook = log()
rule errors {
  when frequency > 2/min for service:api
  then hook
}
)"}});
  REQUIRE(loaded.ok());
  EngineOptions options;
  options.allowed_lateness_ms = kLatenessMs;
  options.advance_on_event = advance_on_event;
  Result<std::unique_ptr<Engine>> engine = Engine::Create(loaded.rules, options);
  REQUIRE(engine.ok());
  return std::move(engine).value();
}

ProcessResult Feed(Evaluator& evaluator, Engine& engine, int64_t at_ms, PartitionTime::Key key,
                   std::vector<Notification>& out) {
  const std::string raw =
      fmt::format(R"({{"timestamp": {:.3f}, "tags": {{"service": "api"}}}})", at_ms / 1000.0);
  std::unique_ptr<EventDecoder> decoder = engine.NewDecoder();
  DecodedEvent event;
  const RejectReason reason = decoder->Decode(raw, event);
  return evaluator.Event(event, reason, false, key, out);
}

TEST_CASE("one ordered input: the watermark follows the events; Finish releases the rest") {
  std::unique_ptr<Engine> engine = MakeEngine(true);
  Evaluator evaluator(engine.get(), nullptr, kLatenessMs);
  std::vector<Notification> out;
  for (int64_t t : {kT0, kT0 + 100, kT0 + 200}) {
    CHECK(Feed(evaluator, *engine, t, {}, out).rejected == RejectReason::kNone);
  }
  CHECK(out.empty());  // held back for lateness
  evaluator.Finish(std::nullopt, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].state == AlertState::kFiring);
  out.clear();
  evaluator.Finish(kT0 + 120000, out);  // two minutes on: the window is empty
  REQUIRE(out.size() == 1);
  CHECK(out[0].state == AlertState::kResolved);
}

TEST_CASE("a truncated record is rejected as too large without evaluation") {
  std::unique_ptr<Engine> engine = MakeEngine(true);
  Evaluator evaluator(engine.get(), nullptr, kLatenessMs);
  std::vector<Notification> out;
  DecodedEvent event;
  CHECK(evaluator.Event(event, RejectReason::kNone, true, {}, out).rejected ==
        RejectReason::kTooLarge);
}

TEST_CASE("with partition time the engine waits for the slowest partition") {
  std::unique_ptr<Engine> engine = MakeEngine(false);
  PartitionTime partitions(60000, 1000);
  const PartitionTime::Key a{0, 0};
  const PartitionTime::Key b{0, 1};
  partitions.Assign(a);
  partitions.Assign(b);
  Evaluator evaluator(engine.get(), &partitions, kLatenessMs);
  std::vector<Notification> out;
  // Partition a runs ahead; b has delivered nothing, so time stands still.
  for (int64_t t : {kT0, kT0 + 100, kT0 + 200, kT0 + 30000}) Feed(evaluator, *engine, t, a, out);
  CHECK(out.empty());
  CHECK(engine->Watermark() < kT0);
  // b catches up past the three events (plus lateness): they are evaluated, the rule fires.
  Feed(evaluator, *engine, kT0 + 5000, b, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].state == AlertState::kFiring);
}

}  // namespace
}  // namespace klaxon::service
