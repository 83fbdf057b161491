// Engine::ProcessRouted: an event one routing stage matched (scale-out's repartition record),
// evaluated without its fields, gives what the whole event gives an engine of that rule alone,
// across snapshots and reloads that catch events held for lateness.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/event_decoder.h"
#include "tests/engine/engine_test_util.h"

namespace klaxon {
namespace {

using namespace testing;

std::vector<Rule> Rules() {
  Rule by_env = CountRule("by-env", Match(Level(), {"error", "fatal"}), CompareOp::kGt, 3, 60000);
  by_env.group_by = {TagField("environment")};
  by_env.pending_ms = 20000;
  by_env.repeat_ms = 120000;
  // Grouped by the field it counts: one field gives both the group and the values.
  Rule users = CountRule("users", Predicate{}, CompareOp::kGt, 0, 120000);
  users.condition.kind = Condition::Kind::kUnique;
  users.condition.field = PathField("user.id", {"user", "id"});
  users.group_by = {PathField("user.id", {"user", "id"})};
  Rule users_by_service = CountRule("users-by-service", Predicate{}, CompareOp::kGt, 2, 60000);
  users_by_service.condition.kind = Condition::Kind::kUnique;
  users_by_service.condition.field = PathField("user.id", {"user", "id"});
  users_by_service.group_by = {Service()};
  Rule fresh = EveryRule("fresh", Predicate{});
  fresh.condition.kind = Condition::Kind::kNewValue;
  fresh.condition.field = ExceptionType();
  Rule ratio =
      RatioRule("ratio", Match(Level(), {"fatal"}), Match(Level(), {"fatal", "error"}), 40, 60000);
  ratio.group_by = {TagField("environment")};
  Rule fatal = EveryRule("fatal", Match(Level(), {"fatal"}));
  fatal.group_by = {Service()};
  Rule quiet = CountRule("quiet", Match(Level(), {"warning"}), CompareOp::kLt, 1, 60000);
  quiet.group_by = {Service()};
  return {by_env, users, users_by_service, fresh, ratio, fatal, quiet};
}

// A deterministic stream: times mostly rising with jitter inside the lateness (and a few late
// ones), values drawn from small sets so that groups fire, resolve and repeat.
std::vector<std::string> Events(size_t n) {
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  auto next = [&x](uint64_t m) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x % m;
  };
  const char* levels[] = {"error", "fatal", "warning", "info"};
  const char* envs[] = {"prod", "staging", nullptr};
  const char* users[] = {"\"u1\"", "\"u2\"", "\"u3\"", "{}", nullptr, "7"};
  const char* services[] = {"api", "web", "jobs"};
  const char* types[] = {"DatabaseError", "Timeout", "KeyError", "OSError"};
  std::vector<std::string> out;
  int64_t t = kT0;
  for (size_t i = 0; i < n; ++i) {
    t += static_cast<int64_t>(next(9000));
    const int64_t at = t - static_cast<int64_t>(next(i % 50 == 7 ? 90000 : 20000));
    std::string extra = "\"event_id\":\"e" + std::to_string(i) + "\",\"level\":\"" +
                        levels[next(4)] + "\",\"tags\":{\"service\":\"" + services[next(3)] + "\"";
    if (const char* env = envs[next(3)]) extra += std::string(",\"environment\":\"") + env + "\"";
    extra += "}";
    if (const char* user = users[next(6)]) extra += std::string(",\"user\":{\"id\":") + user + "}";
    const uint64_t k = next(3);
    if (k > 0) {
      extra += ",\"exception\":{\"values\":[";
      for (uint64_t j = 0; j < k; ++j) {
        extra += std::string(j ? "," : "") + "{\"type\":\"" + types[next(4)] + "\"}";
      }
      extra += "]}";
    }
    out.push_back(Ev(at, extra));
  }
  return out;
}

EngineOptions Options() {
  EngineOptions o;
  o.allowed_lateness_ms = 30000;
  o.advance_on_event = false;  // the caller moves time, as scale-out's stage 2 does
  o.explain = true;
  return o;
}

std::unique_ptr<Engine> OneRule(const Rule& rule, Engine* previous = nullptr) {
  RuleSet one;
  one.rules.push_back(rule);
  auto created = Engine::Create(std::move(one), Options(), previous);
  REQUIRE(created.ok());
  return std::move(created).value();
}

// Everything a notification says, the event it carries included.
std::string Full(const Notification& n) {
  std::string s = Show(n) + " ep=" + std::to_string(n.episode_start_ms) +
                  " rep=" + std::to_string(n.repeat_index) + " one=" + (n.one_shot ? "1" : "0") +
                  " ids=";
  for (const std::string& id : n.event_ids) s += id + ",";
  return s + " ev=" + n.event_json;
}

struct Run {
  std::vector<std::vector<std::string>> by_rule;  // Full() per rule, in order
  uint64_t late = 0;
};

// The reference: each rule alone in an engine given every whole event.
Run Whole(const std::vector<std::string>& events) {
  const std::vector<Rule> rules = Rules();
  Run run;
  run.by_rule.resize(rules.size());
  for (size_t r = 0; r < rules.size(); ++r) {
    std::unique_ptr<Engine> engine = OneRule(rules[r]);
    std::vector<Notification> out;
    int64_t newest = 0;
    for (const std::string& e : events) {
      const ProcessResult p = engine->Process(e, out);
      REQUIRE(p.rejected == RejectReason::kNone);
      newest = std::max(newest, p.event_time_ms);
      engine->AdvanceTo(newest, out);
    }
    engine->Flush(out);
    for (const Notification& n : out) run.by_rule[r].push_back(Full(n));
    run.late += engine->Stats().late;
  }
  return run;
}

enum class Break { kNone, kSnapshot, kReload };

// Routed: one engine matches (as stage 1), each rule's own engine evaluates what it was sent.
// `with_json`: the record carries the event. `at_break`: where the engines are saved and
// restored into new ones, or reloaded.
Run Routed(const std::vector<std::string>& events, bool with_json, Break kind, size_t at_break) {
  const std::vector<Rule> rules = Rules();
  RuleSet all;
  all.rules = rules;
  EngineOptions router_options = Options();
  router_options.explain = false;
  router_options.decode_event_id = true;
  auto router = Engine::Create(std::move(all), router_options);
  REQUIRE(router.ok());
  auto decoder = (*router)->NewDecoder();
  std::vector<std::unique_ptr<Engine>> engines;
  for (const Rule& r : rules) engines.push_back(OneRule(r));
  std::vector<std::vector<Notification>> out(rules.size());
  std::vector<RuleMatch> matches;
  DecodedEvent ev;
  int64_t newest = 0;
  size_t held_at_break = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i == at_break && kind != Break::kNone) {
      for (size_t r = 0; r < rules.size(); ++r) {
        held_at_break += engines[r]->HeldEvents();
        if (kind == Break::kReload) {
          engines[r] = OneRule(rules[r], engines[r].get());
          continue;
        }
        std::string saved;
        REQUIRE(engines[r]->SaveState(saved).ok());
        engines[r] = OneRule(rules[r]);
        REQUIRE(engines[r]->RestoreState(saved).ok());
      }
      CHECK(held_at_break > 0);  // the break catches routed events waiting for lateness
    }
    REQUIRE(decoder->Decode(events[i], ev) == RejectReason::kNone);
    newest = std::max(newest, ev.time_ms);
    const size_t n = (*router)->MatchRules(ev, matches);
    for (size_t m = 0; m < n; ++m) {
      const RuleMatch& match = matches[m];
      RoutedEvent routed{.rule = 0,
                         .time_ms = ev.time_ms,
                         .event_id = ev.EventId(),
                         .group = match.group,
                         .values = match.values,
                         .denominator = match.denominator,
                         .numerator = match.numerator,
                         .raw = with_json ? ev.Raw() : std::string_view()};
      const ProcessResult p = engines[match.rule]->ProcessRouted(routed, out[match.rule]);
      REQUIRE(p.rejected == RejectReason::kNone);
    }
    for (size_t r = 0; r < rules.size(); ++r) engines[r]->AdvanceTo(newest, out[r]);
  }
  Run run;
  run.by_rule.resize(rules.size());
  for (size_t r = 0; r < rules.size(); ++r) {
    engines[r]->Flush(out[r]);
    for (const Notification& n : out[r]) run.by_rule[r].push_back(Full(n));
    run.late += engines[r]->Stats().late;
  }
  return run;
}

TEST_CASE("A routed event counts as the whole event does, for every kind of rule") {
  const std::vector<std::string> events = Events(3000);
  const Run whole = Whole(events);
  const std::vector<Rule> rules = Rules();
  for (size_t r = 0; r < rules.size(); ++r) {
    CAPTURE(rules[r].name);
    CHECK(whole.by_rule[r].size() >= 2);  // the stream exercises every rule
  }

  for (Break kind : {Break::kNone, Break::kSnapshot, Break::kReload}) {
    CAPTURE(static_cast<int>(kind));
    const Run routed = Routed(events, /*with_json=*/true, kind, events.size() / 2);
    for (size_t r = 0; r < rules.size(); ++r) {
      CAPTURE(rules[r].name);
      CHECK(routed.by_rule[r] == whole.by_rule[r]);
    }
    CHECK(routed.late > 0);  // late events are judged alike (their notifications agree)
  }
}

TEST_CASE("Without the event, notifications differ only in the event they carry") {
  const std::vector<std::string> events = Events(1500);
  const Run whole = Whole(events);
  const Run routed = Routed(events, /*with_json=*/false, Break::kSnapshot, events.size() / 3);
  const auto strip = [](std::vector<std::string> v) {
    for (std::string& s : v) s = s.substr(0, s.find(" ev="));
    return v;
  };
  for (size_t r = 0; r < whole.by_rule.size(); ++r) {
    CHECK(strip(routed.by_rule[r]) == strip(whole.by_rule[r]));
    for (const std::string& s : routed.by_rule[r]) CHECK(s.ends_with(" ev="));
  }
}

TEST_CASE("A routed event that cannot come from one event is refused, and nothing counts") {
  Rule users = Rules()[1];  // group by user.id, unique user.id
  std::unique_ptr<Engine> engine = OneRule(users);
  std::vector<Notification> out;
  const std::vector<std::optional<std::string_view>> group_u1 = {"u1"};
  const std::vector<std::optional<std::string_view>> no_group;
  const std::vector<std::string_view> values_u2 = {"u2"};
  const std::vector<std::string_view> values_u1 = {"u1", "u2"};
  RoutedEvent ok;
  ok.time_ms = kT0;
  ok.group = group_u1;
  ok.values = values_u1;
  RoutedEvent bad_rule = ok;
  bad_rule.rule = 1;
  RoutedEvent bad_group = ok;
  bad_group.group = no_group;
  RoutedEvent group_not_first = ok;  // the group is the field's first value
  group_not_first.values = values_u2;
  for (const RoutedEvent& e : {bad_rule, bad_group, group_not_first}) {
    CHECK(engine->ProcessRouted(e, out).rejected == RejectReason::kInvalidMessage);
  }
  CHECK(engine->Stats().rules[0].matches == 0);
  CHECK(engine->ProcessRouted(ok, out).rejected == RejectReason::kNone);
  engine->AdvanceTo(kT0 + 60000, out);
  CHECK(engine->Stats().rules[0].matches == 1);
  CHECK(engine->Stats().rules[0].groups == 1);

  // Values are refused for a kind that counts none.
  std::unique_ptr<Engine> count = OneRule(Rules()[0]);
  const std::vector<std::optional<std::string_view>> env = {"prod"};
  RoutedEvent counted;
  counted.time_ms = kT0;
  counted.group = env;
  counted.values = values_u2;
  CHECK(count->ProcessRouted(counted, out).rejected == RejectReason::kInvalidMessage);
}

}  // namespace
}  // namespace klaxon
