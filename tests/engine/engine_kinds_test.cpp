#include <doctest/doctest.h>

#include "tests/engine/engine_test_util.h"

namespace klaxon {
namespace {

using namespace klaxon::testing;
using V = std::vector<std::string>;

FieldRef User() { return PathField("user.id", {"user", "id"}); }
std::string U(const std::string& id) { return "\"user\":{\"id\":\"" + id + "\"}"; }
std::string T(int64_t ms) { return std::to_string(kT0 + ms); }

Rule UniqueRule(CompareOp op, double n, int64_t w) {
  Rule r;
  r.name = "uniq";
  r.condition.kind = Condition::Kind::kUnique;
  r.condition.field = User();
  r.condition.op = op;
  r.condition.threshold = n;
  r.condition.window_ms = w;
  return r;
}

TEST_CASE("distinct count: fires on the N+1th distinct value, resolves when one leaves") {
  Harness h({UniqueRule(CompareOp::kGt, 2, 1000)});
  h.At(kT0, U("a"));
  h.At(kT0 + 100, U("b"));
  h.At(kT0 + 200, U("a"));
  CHECK(h.out.empty());
  h.At(kT0 + 300, U("c"));
  h.At(kT0 + 400);  // no user: not a value
  h.Advance(kT0 + 5000);
  // Last seen: b 100, a 200, c 300: b leaves at 1100.
  CHECK(ShowAll(h.out) == V{T(300) + " uniq firing v=3 g=", T(1100) + " uniq resolved v=2 g="});
}

TEST_CASE("distinct count with many values stays exact up to the bound") {
  Harness h({UniqueRule(CompareOp::kGe, 50, 100000)});
  for (int i = 0; i < 49; ++i) h.At(kT0 + i, U("u" + std::to_string(i % 49)));
  for (int i = 0; i < 49; ++i) h.At(kT0 + 100 + i, U("u" + std::to_string(i)));
  CHECK(h.out.empty());
  h.At(kT0 + 200, U("new"));
  REQUIRE(h.out.size() == 1);
  CHECK(h.out[0].value == 50);
}

TEST_CASE("change against an earlier window; never before the history covers the offset") {
  Rule r;
  r.name = "chg";
  r.condition.kind = Condition::Kind::kChange;
  r.condition.op = CompareOp::kGt;
  r.condition.threshold = 200;
  r.condition.window_ms = 1000;
  r.condition.offset_ms = 1000;
  Harness h({r});
  h.At(kT0);
  h.At(kT0 + 1200);
  h.At(kT0 + 2100);
  h.At(kT0 + 2200);  // prev (200,1200] = 1, cur (1200,2200] = 2: 200%
  CHECK(h.out.empty());
  h.At(kT0 + 2300);  // prev (300,1300] = 1, cur = 3: 300%
  REQUIRE(h.out.size() == 1);
  CHECK(h.out[0].value == 300);
  h.Advance(kT0 + 10000);
  REQUIRE(h.out.size() == 2);
  CHECK(Show(h.out[1]) == T(3100) + " chg resolved v=100 g=");

  // A burst right at the start has no history to compare against.
  Harness early({r});
  early.At(kT0);
  for (int i = 1; i < 20; ++i) early.At(kT0 + 1000 + i);
  CHECK(early.out.empty());
}

TEST_CASE("ratio of two filters among events passing the rule filter") {
  Rule r = RatioRule("ratio", Match(Level(), {"error"}), Predicate(), 50, 1000);
  r.filter = Match(TagField("service"), {"api"});
  Harness h({r});
  const std::string api = "\"tags\":{\"service\":\"api\"},";
  h.At(kT0, api + "\"level\":\"info\"");
  h.At(kT0 + 100, api + "\"level\":\"error\"");                           // 50%
  h.At(kT0 + 150, "\"tags\":{\"service\":\"web\"},\"level\":\"error\"");  // filtered out
  CHECK(h.out.empty());
  h.At(kT0 + 200, api + "\"level\":\"error\"");  // 66%
  REQUIRE(h.out.size() == 1);
  CHECK(h.out[0].value == doctest::Approx(200.0 / 3));
  h.At(kT0 + 300, api + "\"level\":\"info\"");  // 2/4 = 50%: resolves
  REQUIRE(h.out.size() == 2);
  CHECK(Show(h.out[1]) == T(300) + " ratio resolved v=50 g=");
  h.At(kT0 + 1050, api + "\"level\":\"error\"");  // info@0 left: 3/4 = 75%
  REQUIRE(h.out.size() == 3);
  h.Advance(kT0 + 5000);
  // 1100: 2/3; 1200: 1/2 -> 50% resolves at 1200.
  REQUIRE(h.out.size() == 4);
  CHECK(Show(h.out[3]) == T(1200) + " ratio resolved v=50 g=");
}

TEST_CASE("a ratio rule matches the events of its denominator, not every event") {
  Harness h({RatioRule("share", Match(Level(), {"error"}), Match(TagField("service"), {"api"}), 50,
                       1000)});
  h.At(kT0, "\"tags\":{\"service\":\"api\"},\"level\":\"info\"");
  h.At(kT0 + 10, "\"tags\":{\"service\":\"web\"},\"level\":\"error\"");  // not in the ratio
  h.At(kT0 + 20, "\"tags\":{\"service\":\"api\"},\"level\":\"error\"");  // 1/2
  CHECK(h.out.empty());
  h.At(kT0 + 30, "\"tags\":{\"service\":\"api\"},\"level\":\"error\"");  // 2/3
  REQUIRE(h.out.size() == 1);
  CHECK(h.out[0].value == doctest::Approx(200.0 / 3));
  CHECK(h.engine->Stats().rules[0].matches == 3);
}

TEST_CASE("new value: the first occurrence per group notifies; the set of seen values is state") {
  Rule r;
  r.name = "new";
  r.condition.kind = Condition::Kind::kNewValue;
  r.condition.field = ExceptionType();
  r.group_by = {TagField("service")};
  Harness h({r});
  auto ev = [](const std::string& svc, const std::string& a, const std::string& b) {
    return "\"tags\":{\"service\":\"" + svc + "\"},\"exception\":{\"values\":[{\"type\":\"" + a +
           "\"},{\"type\":\"" + b + "\"}]}";
  };
  h.At(kT0, ev("s1", "A", "B"));
  h.At(kT0 + 1, ev("s1", "B", "A"));
  h.At(kT0 + 2, ev("s2", "A", "A"));
  h.At(kT0 + 3, ev("s1", "C", "A"));
  CHECK(ShowAll(h.out) == V{T(0) + " new firing v=1 g=s1,", T(0) + " new firing v=2 g=s1,",
                            T(2) + " new firing v=1 g=s2,", T(3) + " new firing v=3 g=s1,"});
}

TEST_CASE("count rules above the exact-ring size use merged runs and stay correct") {
  Harness h({CountRule("big", Predicate(), CompareOp::kGt, 100, 10000)});
  for (int i = 0; i < 100; ++i) h.At(kT0 + i * 10);
  CHECK(h.out.empty());
  h.At(kT0 + 1000);
  REQUIRE(h.out.size() == 1);
  CHECK(h.out[0].value == 101);
  h.Advance(kT0 + 20000);
  REQUIRE(h.out.size() == 2);
  CHECK(h.out[1].at_ms == kT0 + 10000);  // the first event leaves; merge width is 2 ms
}

TEST_CASE("explain lists the ids of the events in the window") {
  EngineOptions o = Harness::Lateness(0);
  o.explain = true;
  Harness h({CountRule("r", Predicate(), CompareOp::kGt, 1, 1000)}, o);
  h.At(kT0, "\"event_id\":\"e1\"");
  h.At(kT0 + 10, "\"event_id\":\"e2\"");
  REQUIRE(h.out.size() == 1);
  CHECK(h.out[0].event_ids == std::vector<std::string>{"e1", "e2"});
  CHECK(h.out[0].event_json == Ev(kT0 + 10, "\"event_id\":\"e2\""));
}

}  // namespace
}  // namespace klaxon
