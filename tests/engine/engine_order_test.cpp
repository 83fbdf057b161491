// Lateness, ordering, the rule index and reload.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "engine/event_decoder.h"
#include "tests/engine/engine_test_util.h"

namespace klaxon {
namespace {

using namespace klaxon::testing;

FieldRef User() { return PathField("user.id", {"user", "id"}); }

std::vector<Rule> MixedRules() {
  std::vector<Rule> rules;
  Rule c = CountRule("count", Predicate(), CompareOp::kGt, 3, 2000);
  c.group_by = {Service()};
  c.pending_ms = 300;
  c.keep_firing_ms = 200;
  c.repeat_ms = 700;
  rules.push_back(c);
  Rule flat = CountRule("flat", Predicate(), CompareOp::kLt, 1, 1500);
  flat.group_by = {Service()};
  rules.push_back(flat);
  Rule u;
  u.name = "unique";
  u.condition.kind = Condition::Kind::kUnique;
  u.condition.field = User();
  u.condition.op = CompareOp::kGt;
  u.condition.threshold = 2;
  u.condition.window_ms = 3000;
  rules.push_back(u);
  rules.push_back(RatioRule("ratio", Match(Level(), {"error"}), Predicate(), 60, 2000));
  Rule every = EveryRule("every", Match(Level(), {"fatal"}));
  every.repeat_ms = 500;
  every.group_by = {Service()};
  rules.push_back(every);
  Rule chg;
  chg.name = "change";
  chg.condition.kind = Condition::Kind::kChange;
  chg.condition.op = CompareOp::kGt;
  chg.condition.threshold = 150;
  chg.condition.window_ms = 1000;
  chg.condition.offset_ms = 2000;
  rules.push_back(chg);
  Rule nv;
  nv.name = "new";
  nv.condition.kind = Condition::Kind::kNewValue;
  nv.condition.field = User();
  rules.push_back(nv);
  rules.push_back(CountRule("burst", Match(Level(), {"error"}), CompareOp::kGe, 2, 500));
  return rules;
}

struct TimedEvent {
  int64_t time;
  std::string json;
};

std::vector<TimedEvent> RandomEvents(std::mt19937_64& rng, int n) {
  std::vector<TimedEvent> out;
  int64_t t = kT0;
  const char* services[] = {"a", "b", "c"};
  const char* levels[] = {"info", "error", "fatal", "error"};
  for (int i = 0; i < n; ++i) {
    t += 1 + static_cast<int64_t>(rng() % 400);
    std::string extra = "\"tags\":[[\"service\",\"" + std::string(services[rng() % 3]) +
                        "\"]],\"level\":\"" + levels[rng() % 4] + "\",\"user\":{\"id\":\"u" +
                        std::to_string(rng() % 6) + "\"}";
    out.push_back({t, Ev(t, extra)});
  }
  return out;
}

std::vector<std::string> Full(const std::vector<Notification>& v) {
  std::vector<std::string> out;
  for (const auto& n : v) {
    out.push_back(Show(n) + " ep=" + std::to_string(n.episode_start_ms) +
                  " ri=" + std::to_string(n.repeat_index) + " json=" + n.event_json);
  }
  return out;
}

TEST_CASE("shuffled within the allowed lateness gives the same notifications as sorted") {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    auto events = RandomEvents(rng, 300);
    Harness sorted(MixedRules(), Harness::Lateness(0));
    for (const auto& e : events) sorted.Send(e.json);
    sorted.Flush();

    const int64_t lateness = 5000;
    std::vector<std::pair<int64_t, size_t>> keys;
    for (size_t i = 0; i < events.size(); ++i) {
      keys.emplace_back(events[i].time + static_cast<int64_t>(rng() % (lateness + 1)), i);
    }
    std::stable_sort(keys.begin(), keys.end());
    Harness shuffled(MixedRules(), Harness::Lateness(lateness));
    int64_t max_seen = 0;
    for (const auto& [key, i] : keys) {
      auto r = shuffled.Send(events[i].json);
      REQUIRE_FALSE(r.late);
      max_seen = std::max(max_seen, events[i].time);
      if (rng() % 7 == 0) shuffled.Advance(max_seen);  // the wall clock may tick too
    }
    shuffled.Flush();
    INFO("seed " << seed);
    REQUIRE(sorted.out.size() > 10);
    CHECK(Full(sorted.out) == Full(shuffled.out));
    CHECK(shuffled.engine->Stats().late == 0);
    for (size_t i = 1; i < shuffled.out.size(); ++i) {
      CHECK(shuffled.out[i - 1].at_ms <= shuffled.out[i].at_ms);
    }
  }
}

TEST_CASE("events decoded apart (NewDecoder, ProcessDecoded) give exactly what Process gives") {
  std::mt19937_64 rng(7);
  auto events = RandomEvents(rng, 400);
  // Rejects, late events and explain ids go through the same path.
  events.insert(events.begin() + 50, {0, "{not json"});
  events.insert(events.begin() + 120, {0, Ev(kT0, R"("level":"fatal")")});  // late by then
  events.insert(events.begin() + 200, {0, R"({"level":"fatal"})"});         // no timestamp
  EngineOptions options = Harness::Lateness(1000);
  options.explain = true;
  Harness direct(MixedRules(), options);
  Harness apart(MixedRules(), options);
  std::unique_ptr<EventDecoder> decoder = apart.engine->NewDecoder();
  DecodedEvent scratch;
  for (const auto& e : events) {
    const ProcessResult a = direct.Send(e.json);
    EventDecoder::ReserveRaw(e.json, scratch);
    const RejectReason reason = decoder->DecodeInPlace(scratch);
    const ProcessResult b = apart.engine->ProcessDecoded(scratch, reason, apart.out);
    CHECK(a.rejected == b.rejected);
    CHECK(a.late == b.late);
    CHECK(a.sequence == b.sequence);
  }
  direct.Flush();
  apart.Flush();
  REQUIRE(direct.out.size() > 10);
  CHECK(Full(direct.out) == Full(apart.out));
  CHECK(direct.engine->Stats().late == 1);
  CHECK(apart.engine->Stats().late == 1);
  for (size_t i = 0; i < direct.out.size() && i < apart.out.size(); ++i) {
    CHECK(direct.out[i].event_ids == apart.out[i].event_ids);
  }
}

TEST_CASE("late events are counted, skipped, and never produce notifications in the past") {
  Harness h({EveryRule("all", Predicate())}, Harness::Lateness(1000));
  h.At(kT0 + 5000);
  h.Advance(kT0 + 5000);
  CHECK(h.engine->Watermark() == kT0 + 4000);
  auto r = h.At(kT0 + 3000);
  CHECK(r.late);
  CHECK(r.sequence == 2);
  CHECK(h.engine->Stats().late == 1);
  auto ok = h.At(kT0 + 4500);  // older than the newest, but within the lateness
  CHECK_FALSE(ok.late);
  h.Flush();
  REQUIRE(h.out.size() == 2);
  CHECK(h.out[0].at_ms == kT0 + 4500);
  CHECK(h.out[1].at_ms == kT0 + 5000);
}

TEST_CASE("held events, watermark and the lowest unevaluated sequence") {
  Harness h({EveryRule("all", Predicate())}, Harness::Lateness(1000));
  h.At(kT0 + 1000);
  h.At(kT0 + 1500);
  CHECK(h.out.empty());
  CHECK(h.engine->LowestUnevaluatedSequence() == 1);
  h.At(kT0 + 2600);  // watermark 1600 releases the first two
  CHECK(h.out.size() == 2);
  CHECK(h.engine->LowestUnevaluatedSequence() == 3);
  h.Advance(kT0 + 3600);
  CHECK(h.out.size() == 3);
  CHECK(h.engine->LowestUnevaluatedSequence() == 4);
  // Ties in time keep arrival order.
  h.At(kT0 + 4000, "\"n\":1");
  h.At(kT0 + 4000, "\"n\":2");
  h.Flush();
  REQUIRE(h.out.size() == 5);
  CHECK(h.out[3].event_json == Ev(kT0 + 4000, "\"n\":1"));
  CHECK(h.out[4].event_json == Ev(kT0 + 4000, "\"n\":2"));
}

// Random filters over a few fields; OR-wrapping a filter keeps its meaning but hides it from
// the index, so both rule sets must agree on every event.
Predicate RandomFilter(std::mt19937_64& rng, int depth) {
  static const char* kServices[] = {"orders-api", "payments", "search", "orders-*"};
  static const char* kTypes[] = {"DatabaseError", "KeyError", "Timeout", "*Error"};
  static const char* kLevels[] = {"error", "warning", "fatal"};
  auto leaf = [&]() {
    switch (rng() % 4) {
      case 0:
        return Match(Service(), {kServices[rng() % 4]});
      case 1:
        return Match(ExceptionType(), {kTypes[rng() % 4], kTypes[rng() % 3]});
      case 2:
        return Match(Level(), {kLevels[rng() % 3]});
      default:
        return Match(TagField("environment"), {rng() % 2 ? "production" : "staging"});
    }
  };
  if (depth == 0) return leaf();
  switch (rng() % 5) {
    case 0:
      return Or({RandomFilter(rng, depth - 1), RandomFilter(rng, depth - 1)});
    case 1:
      return Not(RandomFilter(rng, depth - 1));
    case 2:
      return rng() % 2 ? leaf() : And({leaf(), leaf()});
    default:
      return And({leaf(), RandomFilter(rng, depth - 1), leaf()});
  }
}

TEST_CASE("the rule index gives the same result as testing every rule") {
  std::mt19937_64 rng(7);
  std::vector<Rule> indexed, plain;
  for (int i = 0; i < 300; ++i) {
    Rule r = EveryRule("r" + std::to_string(i), RandomFilter(rng, 2));
    indexed.push_back(r);
    r.filter = Or({r.filter});
    plain.push_back(r);
  }
  Harness a(indexed), b(plain);
  static const char* kServices[] = {"orders-api", "payments", "search", "orders-web"};
  static const char* kTypes[] = {"DatabaseError", "KeyError", "Timeout", "ValueError"};
  static const char* kLevels[] = {"error", "warning", "fatal"};
  for (int i = 0; i < 500; ++i) {
    std::string extra = "\"level\":\"" + std::string(kLevels[rng() % 3]) + "\",";
    extra += rng() % 2 ? "\"service\":\"" + std::string(kServices[rng() % 4]) + "\","
                       : "\"tags\":{\"service\":\"" + std::string(kServices[rng() % 4]) + "\"},";
    extra += "\"exception\":{\"values\":[{\"type\":\"" + std::string(kTypes[rng() % 4]) +
             "\"},{\"type\":\"" + kTypes[rng() % 4] + "\"}]}";
    if (rng() % 2) extra += ",\"tags\":[[\"environment\",\"production\"]]";
    a.At(kT0 + i, extra);
    b.At(kT0 + i, extra);
  }
  CHECK(a.out.size() > 1000);
  CHECK(ShowAll(a.out) == ShowAll(b.out));
  for (size_t i = 0; i < indexed.size(); ++i) {
    CHECK(a.engine->Stats().rules[i].matches == b.engine->Stats().rules[i].matches);
  }
}

TEST_CASE("reload keeps the state of unchanged rules and resets changed ones") {
  Rule kept = CountRule("kept", Predicate(), CompareOp::kGt, 2, 10000);
  Rule changed = CountRule("changed", Predicate(), CompareOp::kGt, 2, 10000);
  Harness h({kept, changed});
  h.At(kT0);
  h.At(kT0 + 1);
  CHECK(ComputeRuleId(kept) == ComputeRuleId(changed));

  Rule renamed = kept;
  renamed.name = "kept-renamed";
  renamed.summary = "new words";
  renamed.actions = {"slack"};
  CHECK(ComputeRuleId(renamed) == ComputeRuleId(kept));
  Rule changed2 = changed;
  changed2.condition.window_ms = 20000;
  CHECK(ComputeRuleId(changed2) != ComputeRuleId(changed));
  RuleSet rs;
  rs.rules = {changed2, renamed};
  auto next = Engine::Create(rs, Harness::Lateness(0), h.engine.get());
  REQUIRE(next.ok());
  std::vector<Notification> out;
  (*next)->Process(Ev(kT0 + 2), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].rule_name == "kept-renamed");
  CHECK(out[0].rule_index == 1);
  CHECK(out[0].value == 3);
  CHECK((*next)->Stats().accepted == 3);
  CHECK((*next)->Stats().rules[1].matches == 3);
  CHECK((*next)->Stats().rules[0].matches == 1);
  // Timers move too: the resolve still happens at the exact time.
  (*next)->AdvanceTo(kT0 + 20000, out);
  REQUIRE(out.size() == 2);
  CHECK(out[1].at_ms == kT0 + 10000);  // the event at T0 leaves
}

TEST_CASE("reload that turns explain on keeps counting, with ids for new events") {
  Rule r = CountRule("r", Predicate(), CompareOp::kGt, 2, 10000);
  r.group_by = {Service()};
  Harness h({r});
  h.At(kT0, R"("event_id":"a","service":"x")");
  h.At(kT0 + 1, R"("event_id":"b","service":"x")");
  EngineOptions explain = Harness::Lateness(0);
  explain.explain = true;
  RuleSet rs;
  rs.rules = {r};
  auto next = Engine::Create(rs, explain, h.engine.get());
  REQUIRE(next.ok());
  std::vector<Notification> out;
  (*next)->Process(Ev(kT0 + 2, R"("event_id":"c","service":"x")"), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].value == 3);
  // Events counted before explain was on have no id to report.
  CHECK(out[0].event_ids == std::vector<std::string>{"", "", "c"});
}

}  // namespace
}  // namespace klaxon
