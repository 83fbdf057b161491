#include <doctest/doctest.h>

#include "tests/engine/engine_test_util.h"

namespace klaxon {
namespace {

using namespace klaxon::testing;
using V = std::vector<std::string>;

std::string Svc(const std::string& s) { return "\"tags\":{\"service\":\"" + s + "\"}"; }

TEST_CASE("window boundary: an event exactly W old is outside") {
  Harness h({CountRule("r", Predicate(), CompareOp::kGt, 2, 1000)});
  h.At(kT0);
  h.At(kT0 + 100);
  h.At(kT0 + 1000);  // (T0, T0+1000]: T0 is out, count 2
  CHECK(h.out.empty());
  h.At(kT0 + 1099);  // (99, 1099]: 100, 1000, 1099 -> 3
  REQUIRE(h.out.size() == 1);
  CHECK(Show(h.out[0]) == std::to_string(kT0 + 1099) + " r firing v=3 g=");

  Harness h2({CountRule("r", Predicate(), CompareOp::kGt, 2, 1000)});
  h2.At(kT0);
  h2.At(kT0 + 100);
  h2.At(kT0 + 999);  // T0 still in: 3
  CHECK(h2.out.size() == 1);
}

TEST_CASE("exactly N events vs N+1 for > and >=") {
  for (int n : {1, 2, 5}) {
    Harness gt({CountRule("gt", Predicate(), CompareOp::kGt, n, 60000)});
    Harness ge({CountRule("ge", Predicate(), CompareOp::kGe, n, 60000)});
    for (int i = 0; i < n; ++i) {
      gt.At(kT0 + i);
      ge.At(kT0 + i);
    }
    CHECK(gt.out.empty());
    REQUIRE(ge.out.size() == 1);
    CHECK(ge.out[0].at_ms == kT0 + n - 1);
    CHECK(ge.out[0].value == n);
    gt.At(kT0 + n);
    REQUIRE(gt.out.size() == 1);
    CHECK(gt.out[0].value == n + 1);
    CHECK(gt.out[0].threshold == n);
    CHECK(gt.out[0].window_ms == 60000);
    CHECK(gt.out[0].window_start_ms == kT0 + n - 60000);
    CHECK(gt.out[0].window_end_ms == kT0 + n);
  }
}

TEST_CASE("resolve time is exact: the leaving event's time plus W, driven by AdvanceTo") {
  Harness h({CountRule("r", Predicate(), CompareOp::kGt, 2, 1000)});
  h.At(kT0);
  h.At(kT0 + 100);
  h.At(kT0 + 200);
  REQUIRE(h.out.size() == 1);
  h.Advance(kT0 + 999);
  CHECK(h.out.size() == 1);
  h.Advance(kT0 + 5000);
  REQUIRE(h.out.size() == 2);
  CHECK(Show(h.out[1]) == std::to_string(kT0 + 1000) + " r resolved v=2 g=");
  CHECK(h.out[1].episode_start_ms == kT0 + 200);

  // >= resolves when the count goes below the threshold.
  Harness ge({CountRule("r", Predicate(), CompareOp::kGe, 2, 1000)});
  ge.At(kT0);
  ge.At(kT0 + 100);
  ge.At(kT0 + 300);
  ge.Advance(kT0 + 5000);
  REQUIRE(ge.out.size() == 2);
  CHECK(ge.out[1].at_ms == kT0 + 1100);
  CHECK(ge.out[1].value == 1);
}

TEST_CASE("a resolve due at t happens before an event stamped t is counted") {
  Harness h({CountRule("r", Predicate(), CompareOp::kGt, 2, 1000)});
  h.At(kT0);
  h.At(kT0 + 100);
  h.At(kT0 + 200);
  h.At(kT0 + 1000);
  CHECK(ShowAll(h.out) == V{std::to_string(kT0 + 200) + " r firing v=3 g=",
                            std::to_string(kT0 + 1000) + " r resolved v=2 g=",
                            std::to_string(kT0 + 1000) + " r firing v=3 g="});
}

TEST_CASE("lifecycle: pending, then firing at the deadline; pending cancelled") {
  Rule r = CountRule("p", Predicate(), CompareOp::kGt, 2, 1000);
  r.pending_ms = 500;
  Harness h({r});
  h.At(kT0);
  h.At(kT0 + 100);
  h.At(kT0 + 200);
  CHECK(h.out.empty());
  CHECK(h.engine->Stats().rules[0].pending == 1);
  auto active = h.engine->ActiveAlerts();
  REQUIRE(active.size() == 1);
  CHECK_FALSE(active[0].firing);
  h.Advance(kT0 + 699);
  CHECK(h.out.empty());
  h.Advance(kT0 + 700);
  REQUIRE(h.out.size() == 1);
  CHECK(h.out[0].at_ms == kT0 + 700);
  CHECK(h.out[0].episode_start_ms == kT0 + 700);
  CHECK(h.engine->Stats().rules[0].firing == 1);
  CHECK(h.engine->Stats().rules[0].pending == 0);
  CHECK(h.engine->ActiveAlerts()[0].firing);
  // The trigger event is the one that started the pending period.
  CHECK(h.out[0].event_json == Ev(kT0 + 200));

  r.pending_ms = 900;  // the count drops at T0+1000 before the deadline T0+1100
  Harness c({r});
  c.At(kT0);
  c.At(kT0 + 100);
  c.At(kT0 + 200);
  c.Advance(kT0 + 10000);
  CHECK(c.out.empty());
  CHECK(c.engine->Stats().rules[0].pending == 0);
}

TEST_CASE("lifecycle: keep firing for") {
  Rule r = CountRule("k", Predicate(), CompareOp::kGt, 2, 1000);
  r.keep_firing_ms = 300;
  Harness h({r});
  h.At(kT0);
  h.At(kT0 + 100);
  h.At(kT0 + 200);
  h.Advance(kT0 + 1299);
  CHECK(h.out.size() == 1);
  h.Advance(kT0 + 1300);
  REQUIRE(h.out.size() == 2);
  CHECK(h.out[1].state == AlertState::kResolved);
  CHECK(h.out[1].at_ms == kT0 + 1300);

  // Condition back within the keep period: no resolve, no new firing.
  Harness b({r});
  b.At(kT0);
  b.At(kT0 + 100);
  b.At(kT0 + 200);
  b.At(kT0 + 1100);
  b.At(kT0 + 1150);
  b.At(kT0 + 1250);  // (250, 1250]: 1100, 1150, 1250 = 3 > 2
  b.Advance(kT0 + 1999);
  CHECK(b.out.size() == 1);
  b.Advance(kT0 + 10000);
  REQUIRE(b.out.size() == 2);
  // Count drops to 2 at 1100+1000=2100; resolved 300 ms later.
  CHECK(b.out[1].at_ms == kT0 + 2400);
}

TEST_CASE("lifecycle: repeat every, then resolve") {
  Rule r = CountRule("rep", Predicate(), CompareOp::kGt, 0, 1000);
  r.repeat_ms = 300;
  Harness h({r});
  h.At(kT0);
  h.At(kT0 + 900);
  h.Advance(kT0 + 5000);
  // Firing at 0; repeats at 300, 600, 900, 1200, 1500, 1800; the count reaches 0 at 1900.
  V expect = {std::to_string(kT0) + " rep firing v=1 g="};
  for (int i = 1; i <= 6; ++i) {
    expect.push_back(std::to_string(kT0 + 300 * i) + " rep repeat v=1 g=");
  }
  expect.push_back(std::to_string(kT0 + 1900) + " rep resolved v=0 g=");
  CHECK(ShowAll(h.out) == expect);
  CHECK(h.out[3].repeat_index == 3);
  CHECK(h.out.back().repeat_index == 6);
  CHECK(h.engine->Stats().rules[0].notifications == 8);
  CHECK(h.engine->Stats().rules[0].firing == 0);
}

TEST_CASE("group by: one state per group, missing field is null") {
  Rule r = CountRule("g", Predicate(), CompareOp::kGt, 1, 1000);
  r.group_by = {Service(), TagField("environment")};
  Harness h({r});
  h.At(kT0, Svc("a"));
  h.At(kT0 + 1, Svc("b"));
  h.At(kT0 + 2, Svc("a"));
  h.At(kT0 + 3);
  h.At(kT0 + 4);
  REQUIRE(h.out.size() == 2);
  CHECK(Show(h.out[0]) == std::to_string(kT0 + 2) + " g firing v=2 g=a,null,");
  CHECK(Show(h.out[1]) == std::to_string(kT0 + 4) + " g firing v=2 g=null,null,");
  CHECK(h.engine->Stats().rules[0].groups == 3);
}

TEST_CASE("group cap: idle groups are evicted, otherwise new groups are refused and counted") {
  Rule r = CountRule("cap", Predicate(), CompareOp::kGt, 1, 1000);
  r.group_by = {Service()};
  EngineOptions o = Harness::Lateness(0);
  o.max_groups_per_rule = 2;
  Harness h({r}, o);
  h.At(kT0, Svc("a"));
  h.At(kT0 + 10, Svc("b"));
  h.At(kT0 + 20, Svc("c"));  // a and b still have events in their window: refused
  CHECK(h.engine->Stats().rules[0].groups == 2);
  CHECK(h.engine->Stats().rules[0].groups_dropped == 1);
  h.At(kT0 + 1005, Svc("d"));  // a idle since T0+1000: evicted
  CHECK(h.engine->Stats().rules[0].groups == 2);
  CHECK(h.engine->Stats().rules[0].groups_dropped == 2);
  h.At(kT0 + 1006, Svc("d"));
  REQUIRE(h.out.size() == 1);
  CHECK(h.out[0].group[0] == "d");
  // b is idle now but d is firing: b goes, d stays.
  h.At(kT0 + 1500, Svc("e"));
  h.At(kT0 + 1501, Svc("d"));
  h.At(kT0 + 1502, Svc("f"));  // e has events, d firing: refused
  CHECK(h.engine->Stats().rules[0].groups_dropped == 4);
  CHECK(h.engine->Stats().rules[0].groups == 2);
}

TEST_CASE("evicting idle groups loses nothing: many groups churning through a small cap") {
  Rule r = CountRule("churn", Predicate(), CompareOp::kGt, 1, 100);
  r.group_by = {Service()};
  EngineOptions small = Harness::Lateness(0);
  small.max_groups_per_rule = 64;
  Harness a({r}, small), b({r});
  uint32_t x = 99;
  for (int i = 0; i < 20000; ++i) {
    x = x * 1664525 + 1013904223;
    const std::string svc = "s" + std::to_string((x >> 8) % 500);
    a.At(kT0 + i * 5, Svc(svc));
    b.At(kT0 + i * 5, Svc(svc));
  }
  a.Flush();
  b.Flush();
  CHECK(a.out.size() > 100);
  CHECK(ShowAll(a.out) == ShowAll(b.out));
  CHECK(a.engine->Stats().rules[0].groups <= 64);
  CHECK(a.engine->Stats().rules[0].groups_dropped > 1000);  // evictions, all of idle groups
  CHECK(b.engine->Stats().rules[0].groups_dropped == 0);
}

TEST_CASE("absence: groups seen before fire when their count drops below the threshold") {
  Rule r = CountRule("flat", Predicate(), CompareOp::kLt, 1, 1000);
  r.group_by = {Service()};
  Harness h({r});
  h.At(kT0, Svc("a"));
  h.At(kT0 + 500, Svc("b"));
  h.Advance(kT0 + 999);
  CHECK(h.out.empty());
  h.Advance(kT0 + 1600);
  CHECK(ShowAll(h.out) == V{std::to_string(kT0 + 1000) + " flat firing v=0 g=a,",
                            std::to_string(kT0 + 1500) + " flat firing v=0 g=b,"});
  h.At(kT0 + 1700, Svc("a"));
  REQUIRE(h.out.size() == 3);
  CHECK(Show(h.out[2]) == std::to_string(kT0 + 1700) + " flat resolved v=1 g=a,");

  Harness k({CountRule("flat3", Predicate(), CompareOp::kLt, 3, 1000)});
  for (int i = 0; i < 4; ++i) k.At(kT0 + 100 * i);
  k.Advance(kT0 + 1099);
  CHECK(k.out.empty());
  k.Advance(kT0 + 1100);
  REQUIRE(k.out.size() == 1);
  CHECK(k.out[0].value == 2);
  CHECK(k.out[0].at_ms == kT0 + 1100);
}

TEST_CASE("filter-only rules notify on each event; repeat suppresses per group") {
  Rule r = EveryRule("each", Match(Level(), {"fatal"}));
  r.repeat_ms = 500;
  r.group_by = {Service()};
  Harness h({r});
  h.At(kT0, "\"level\":\"fatal\"," + Svc("a"));
  h.At(kT0 + 100, "\"level\":\"fatal\"," + Svc("a"));
  h.At(kT0 + 150, "\"level\":\"fatal\"," + Svc("b"));
  h.At(kT0 + 200, "\"level\":\"info\"," + Svc("b"));
  h.At(kT0 + 500, "\"level\":\"fatal\"," + Svc("a"));
  CHECK(ShowAll(h.out) == V{std::to_string(kT0) + " each firing v=1 g=a,",
                            std::to_string(kT0 + 150) + " each firing v=1 g=b,",
                            std::to_string(kT0 + 500) + " each firing v=1 g=a,"});
  CHECK(h.out[0].event_json == Ev(kT0, "\"level\":\"fatal\"," + Svc("a")));
  CHECK(h.engine->Stats().rules[0].matches == 4);
}

TEST_CASE("invalid rules are refused with the rule's name") {
  RuleSet rs;
  rs.rules.push_back(CountRule("bad", Predicate(), CompareOp::kGt, 1, 0));
  auto e = Engine::Create(rs, EngineOptions());
  REQUIRE_FALSE(e.ok());
  CHECK(e.status().message().find("'bad'") != std::string::npos);
  EngineOptions o;
  o.allowed_lateness_ms = -1;
  CHECK_FALSE(Engine::Create(RuleSet(), o).ok());
  Rule u;
  u.name = "too-unique";
  u.condition.kind = Condition::Kind::kUnique;
  u.condition.field = TagField("user");
  u.condition.threshold = 1e6;
  u.condition.window_ms = 1000;
  RuleSet big;
  big.rules.push_back(u);
  CHECK_FALSE(Engine::Create(big, EngineOptions()).ok());
}

TEST_CASE("active alerts name their triggering event by its title, per episode") {
  Rule r = CountRule("t", Predicate(), CompareOp::kGt, 1, 1000);
  Harness h({r});
  const std::string boom =
      R"("exception":{"values":[{"type":"DatabaseError","value":"connection refused\nat db"}]})";
  h.At(kT0, boom);
  h.At(kT0 + 100, R"("message":"second")");
  auto active = h.engine->ActiveAlerts();
  REQUIRE(active.size() == 1);
  CHECK(active[0].firing);
  // The event that made it fire (the second), titled as Sentry titles issues.
  CHECK(active[0].trigger == "second");
  CHECK(h.engine->ActiveAlerts()[0].trigger == "second");  // listed again: the same
  h.Advance(kT0 + 2000);                                   // resolved
  CHECK(h.engine->ActiveAlerts().empty());
  h.At(kT0 + 3000, R"("message":"third")");
  h.At(kT0 + 3100, boom);
  active = h.engine->ActiveAlerts();
  REQUIRE(active.size() == 1);
  CHECK(active[0].trigger == "DatabaseError: connection refused");  // a new episode, a new title
}

TEST_CASE("the measured value of a small count rule saturates at what the rule needs") {
  CHECK(ValueSaturation(CountRule("a", Predicate(), CompareOp::kGt, 5, 60000)) == 6u);
  CHECK(ValueSaturation(CountRule("b", Predicate(), CompareOp::kLt, 1, 60000)) == 1u);
  CHECK_FALSE(ValueSaturation(CountRule("c", Predicate(), CompareOp::kGt, 1000, 60000)));
  // What the engine reports agrees: 40 events, `> 5` says 6.
  Harness h({CountRule("a", Predicate(), CompareOp::kGt, 5, 60000)});
  for (int i = 0; i < 40; ++i) h.At(kT0 + i);
  REQUIRE(!h.engine->ActiveAlerts().empty());
  CHECK(h.engine->ActiveAlerts()[0].value == 6);
}

}  // namespace
}  // namespace klaxon
