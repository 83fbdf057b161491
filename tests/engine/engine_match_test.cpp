// Engine::MatchRules: the rules an event matches and its group in each, as evaluation finds
// them, without touching window state (scale-out's routing).
#include <doctest/doctest.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "engine/event_decoder.h"
#include "tests/engine/engine_test_util.h"

namespace klaxon {
namespace {

using namespace std::string_view_literals;
using namespace testing;
using Group = std::vector<std::optional<std::string_view>>;

std::vector<Rule> Rules() {
  Rule by_env = CountRule("by-env", Match(Level(), {"error"}), CompareOp::kGt, 3, 60000);
  by_env.group_by = {TagField("environment")};
  Rule all = EveryRule("all", Predicate{});
  Rule two = CountRule("two-fields", Predicate{}, CompareOp::kGt, 3, 60000);
  two.group_by = {Service(), PathField("user.id", {"user", "id"})};
  Rule warnings = CountRule("warnings", Match(Level(), {"warning"}), CompareOp::kGt, 3, 60000);
  // Not indexable: its filter runs.
  Rule slow = CountRule("slow", Cmp(PathField("duration", {"duration"}), CompareOp::kGt, 5),
                        CompareOp::kGt, 3, 60000);
  Rule off = EveryRule("off", Predicate{});
  off.enabled = false;
  // Events outside a ratio's denominator still go to its group (they move its clock).
  Rule ratio =
      RatioRule("ratio", Match(Level(), {"fatal"}), Match(Level(), {"warning"}), 50, 60000);
  ratio.group_by = {TagField("environment")};
  return {by_env, all, two, warnings, slow, off, ratio};
}

struct Matched {
  std::string rule;
  Group group;
  bool operator==(const Matched&) const = default;
};

std::vector<Matched> Listed(Engine& engine, const DecodedEvent& ev,
                            std::vector<RuleMatch>& scratch) {
  const size_t n = engine.MatchRules(ev, scratch);
  std::vector<Matched> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back({engine.Rules().rules[scratch[i].rule].name, scratch[i].group});
  }
  return out;
}

TEST_CASE("MatchRules lists each matching rule with the group the event falls in") {
  Harness h(Rules());
  REQUIRE(h.engine);
  auto decoder = h.engine->NewDecoder();
  std::vector<RuleMatch> scratch;

  const std::string first =
      Ev(kT0, R"("level":"error","tags":{"environment":"prod","service":"api"},"duration":9)");
  DecodedEvent ev;
  REQUIRE(decoder->Decode(first, ev) == RejectReason::kNone);
  const std::vector<Matched> matched = Listed(*h.engine, ev, scratch);
  CHECK(matched == std::vector<Matched>{{"by-env", Group{"prod"sv}},
                                        {"all", Group{}},
                                        {"two-fields", Group{"api"sv, std::nullopt}},
                                        {"slow", Group{}},
                                        {"ratio", Group{"prod"sv}}});

  // Nothing was counted, no group made, time did not move.
  for (const RuleStats& s : h.engine->Stats().rules) {
    CHECK(s.groups == 0);
    CHECK(s.matches == 0);
  }
  CHECK(h.engine->Watermark() == Harness(Rules()).engine->Watermark());

  // Evaluating the same event makes one group in exactly the rules listed.
  h.Send(first);
  h.Flush();
  const std::vector<RuleStats>& stats = h.engine->Stats().rules;
  for (size_t i = 0; i < stats.size(); ++i) {
    const std::string& name = h.engine->Rules().rules[i].name;
    const bool listed = std::any_of(matched.begin(), matched.end(),
                                    [&](const Matched& m) { return m.rule == name; });
    CHECK_MESSAGE(stats[i].groups == (listed ? 1u : 0u), name);
  }

  // Fewer matches the next time: the count says how many; the rest are kept for their buffers.
  DecodedEvent warning;
  REQUIRE(decoder->Decode(Ev(kT0, R"("level":"warning","user":{"id":"u1"})"), warning) ==
          RejectReason::kNone);
  CHECK(Listed(*h.engine, warning, scratch) ==
        std::vector<Matched>{{"all", Group{}},
                             {"two-fields", Group{std::nullopt, "u1"sv}},
                             {"warnings", Group{}},
                             {"ratio", Group{std::nullopt}}});
  CHECK(scratch.size() == 5);
}

TEST_CASE("MatchRules gives what each kind counts: unique and new values, ratio sides") {
  Rule uniq = CountRule("uniq", Predicate{}, CompareOp::kGt, 2, 60000);
  uniq.condition.kind = Condition::Kind::kUnique;
  uniq.condition.field = PathField("user.id", {"user", "id"});
  Rule fresh = EveryRule("fresh", Predicate{});
  fresh.condition.kind = Condition::Kind::kNewValue;
  fresh.condition.field = ExceptionType();
  Rule ratio =
      RatioRule("ratio", Match(Level(), {"fatal"}), Match(Level(), {"fatal", "error"}), 50, 60000);
  Rule count = CountRule("count", Predicate{}, CompareOp::kGt, 3, 60000);
  Harness h({uniq, fresh, ratio, count});
  REQUIRE(h.engine);
  auto decoder = h.engine->NewDecoder();
  std::vector<RuleMatch> out;
  const auto match = [&](const std::string& extra) {
    DecodedEvent ev;
    REQUIRE(decoder->Decode(Ev(kT0, extra), ev) == RejectReason::kNone);
    const size_t n = h.engine->MatchRules(ev, out);
    REQUIRE(n == 4);
    // The views outlive `ev` in this lambda only as copies.
    std::vector<std::vector<std::string>> values;
    std::vector<std::pair<bool, bool>> sides;
    for (size_t i = 0; i < n; ++i) {
      values.emplace_back(out[i].values.begin(), out[i].values.end());
      sides.emplace_back(out[i].denominator, out[i].numerator);
    }
    return std::make_pair(values, sides);
  };
  using Values = std::vector<std::vector<std::string>>;
  using Sides = std::vector<std::pair<bool, bool>>;

  auto [values, sides] = match(
      R"("level":"fatal","user":{"id":"u7"},"exception":{"values":[{"type":"A"},{"type":"B"}]})");
  CHECK(values == Values{{"u7"}, {"A", "B"}, {}, {}});
  CHECK(sides == Sides{{false, false}, {false, false}, {true, true}, {false, false}});

  std::tie(values, sides) = match(R"("level":"error")");
  CHECK(values == Values{{}, {}, {}, {}});
  CHECK(sides == Sides{{false, false}, {false, false}, {true, false}, {false, false}});

  // Outside the denominator: routed (the group's clock), counted on neither side.
  std::tie(values, sides) = match(R"("level":"info","user":{"id":{"nested":1}})");
  CHECK(values == Values{{}, {}, {}, {}});  // a value without text is not counted
  CHECK(sides == Sides{{false, false}, {false, false}, {false, false}, {false, false}});
}

}  // namespace
}  // namespace klaxon
