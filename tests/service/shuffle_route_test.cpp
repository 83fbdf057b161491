// Scale-out's routing: every (rule, group) has one repartition partition, the same on every
// instance, and an event goes to the partitions of the (rule, group)s it falls in.
#include "service/shuffle_route.h"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/event_decoder.h"
#include "tests/engine/engine_test_util.h"

namespace klaxon::service {
namespace {

using namespace std::string_view_literals;
using Group = std::vector<std::optional<std::string_view>>;

TEST_CASE("ShufflePartition is stable, in range and spreads groups evenly") {
  // The repartition topic's contract: these values must never change (instances of two
  // versions share the topic during an upgrade, and would split a group between owners). They
  // were computed from the algorithm in shuffle_route.h by a separate Python implementation.
  CHECK(ShufflePartition("a1b2c3d4e5f60718", Group{"production"sv}, 1000003) == 809355);
  CHECK(ShufflePartition("a1b2c3d4e5f60718", Group{}, 1000003) == 612370);
  CHECK(ShufflePartition("a1b2c3d4e5f60718", Group{std::nullopt, "api"sv}, 1000003) == 807257);

  // One partition: everything there; never out of range.
  CHECK(ShufflePartition("r", Group{"x"sv}, 1) == 0);
  std::map<int32_t, int> per_partition;
  for (int i = 0; i < 16000; ++i) {
    const std::string value = "group-" + std::to_string(i);
    const int32_t p = ShufflePartition("rule", Group{std::string_view(value)}, 8);
    REQUIRE(p >= 0);
    REQUIRE(p < 8);
    ++per_partition[p];
    CHECK(ShufflePartition("rule", Group{std::string_view(value)}, 8) == p);
  }
  REQUIRE(per_partition.size() == 8);
  for (const auto& [partition, count] : per_partition) {
    CHECK_MESSAGE(count > 1700, partition);  // 2000 each when even
    CHECK_MESSAGE(count < 2300, partition);
  }
}

TEST_CASE("ShufflePartition tells apart groups whose bytes run together") {
  constexpr int32_t kMany = 1000003;  // large and prime: equal results would mean equal input
  const auto p = [](std::string_view rule, const Group& g) {
    return ShufflePartition(rule, g, kMany);
  };
  CHECK(p("r", Group{"ab"sv, "c"sv}) != p("r", Group{"a"sv, "bc"sv}));
  CHECK(p("r", Group{""sv}) != p("r", Group{std::nullopt}));
  CHECK(p("r", Group{std::nullopt, "x"sv}) != p("r", Group{"x"sv, std::nullopt}));
  CHECK(p("r1", Group{"x"sv}) != p("r2", Group{"x"sv}));
  CHECK(p("r", Group{}) != p("r", Group{std::nullopt}));
}

TEST_CASE("ShuffleRouter sends an event to the partition of each (rule, group) it falls in") {
  using namespace klaxon::testing;
  Rule by_env = CountRule("by-env", Match(Level(), {"error"}), CompareOp::kGt, 3, 60000);
  by_env.group_by = {TagField("environment")};
  Rule all = EveryRule("all", Predicate{});
  Rule by_service = CountRule("by-service", Predicate{}, CompareOp::kGt, 3, 60000);
  by_service.group_by = {Service()};
  EngineOptions options = Harness::Lateness(0);
  options.explain = true;  // the decoder reads event ids only then
  Harness h({by_env, all, by_service}, options);
  REQUIRE(h.engine);
  const std::vector<Rule>& rules = h.engine->Rules().rules;
  auto decoder = h.engine->NewDecoder();
  ShuffleRouter router(h.engine.get(), 8);

  DecodedEvent ev;
  REQUIRE(
      decoder->Decode(
          Ev(kT0,
             R"("event_id":"e1","level":"error","tags":{"environment":"prod","service":"api"})"),
          ev) == RejectReason::kNone);
  const auto routes = router.Route(ev);
  REQUIRE(routes.size() == 3);
  const std::vector<Group> groups = {Group{"prod"sv}, Group{}, Group{"api"sv}};
  for (size_t i = 0; i < routes.size(); ++i) {
    CHECK(routes[i].rule == i);
    CHECK(routes[i].rule_id == rules[i].id);
    CHECK(routes[i].match->group == groups[i]);
    CHECK(routes[i].partition == ShufflePartition(rules[i].id, groups[i], 8));
  }

  // The record of a route: what the owner evaluates, from the input record it came from.
  ShuffleRecord record;
  record.event_json = "stale"sv;
  const ShuffleSource source{
      .topic = "errors", .partition = 2, .offset = 41, .partition_time_ms = kT0 + 7};
  FillShuffleRecord(routes[0], ev, source, record);
  CHECK(record.rule_id == rules[0].id);
  CHECK(record.group == groups[0]);
  CHECK(record.event_time_ms == kT0);
  CHECK(record.event_id == "e1");
  CHECK(record.source.topic == "errors");
  CHECK(record.source.offset == 41);
  CHECK(record.source.partition_time_ms == kT0 + 7);
  CHECK(record.values.empty());
  CHECK_FALSE(record.numerator);
  CHECK_FALSE(record.event_json.has_value());
  // It survives the repartition topic.
  std::string bytes;
  EncodeShuffleRecord(record, bytes);
  ShuffleRecord decoded;
  ShuffleMark mark;
  REQUIRE(DecodeShuffle(bytes, decoded, mark).ok());
  CHECK(decoded.group == groups[0]);
  CHECK(decoded.rule_id == rules[0].id);

  // Another event of the same groups, with other fields: the same partitions.
  std::vector<int32_t> first;
  for (const ShuffleRoute& r : routes) first.push_back(r.partition);
  DecodedEvent other;
  REQUIRE(decoder->Decode(Ev(kT0 + 5000, R"("level":"error","message":"other",)"
                                         R"("tags":{"environment":"prod","service":"api"})"),
                          other) == RejectReason::kNone);
  std::vector<int32_t> second;
  for (const ShuffleRoute& r : router.Route(other)) second.push_back(r.partition);
  CHECK(second == first);

  // The groups of one rule go to several partitions: the work is split by group.
  std::set<int32_t> partitions;
  for (int i = 0; i < 64; ++i) {
    DecodedEvent e;
    REQUIRE(decoder->Decode(Ev(kT0, R"("tags":{"service":"svc-)" + std::to_string(i) + R"("})"),
                            e) == RejectReason::kNone);
    const auto r = router.Route(e);
    REQUIRE(r.size() == 2);  // all, by-service
    partitions.insert(r[1].partition);
  }
  CHECK(partitions.size() == 8);
}

}  // namespace
}  // namespace klaxon::service
