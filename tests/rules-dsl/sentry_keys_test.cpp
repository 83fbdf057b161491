// Sentry's search keys, event shapes and issues against events captured from real SDKs
// (tests/engine/fixtures/sentry/, made by scripts/capture-sentry-fixtures/capture.sh).
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "engine/engine.h"
#include "engine/event_decoder.h"
#include "rules-dsl/fields.h"
#include "rules-dsl/rules_dsl.h"

namespace klaxon {
namespace {

std::string Fixture(const std::string& name) {
  const char* dir = std::getenv("KLAXON_SOURCE_DIR");
  const std::string path =
      std::string(dir != nullptr ? dir : ".") + "/tests/engine/fixtures/sentry/" + name + ".json";
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing fixture " << path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Values of each key in one event, decoded with all `keys` loaded together (as rules would).
using Values = std::map<std::string, std::vector<std::string>>;
Values Decode(const std::string& event, const std::vector<std::string>& keys) {
  std::vector<FieldRef> fields;
  for (const std::string& k : keys) fields.push_back(rules_dsl::ResolveField(k, nullptr));
  EventDecoder decoder(fields, EngineOptions{});
  DecodedEvent out;
  const RejectReason r = decoder.Decode(event, out);
  REQUIRE(r == RejectReason::kNone);
  Values v;
  for (size_t f = 0; f < keys.size(); ++f) {
    auto& list = v[keys[f]];
    list.clear();  // a key loaded twice: the last field's values
    for (const DecodedValue* d = out.Begin(static_cast<uint32_t>(f));
         d != out.End(static_cast<uint32_t>(f)); ++d) {
      list.emplace_back(out.Text(*d));
    }
  }
  return v;
}

std::vector<std::string> One(const std::string& event, const std::string& key) {
  return Decode(event, {key})[key];
}
std::string Issue(const std::string& event) {
  const auto v = One(event, "issue");
  REQUIRE(v.size() == 1);
  return v[0];
}

using List = std::vector<std::string>;

TEST_CASE("error.* keys read every exception of the chain, in both shapes") {
  const std::string py = Fixture("python-02");  // RuntimeError raised from a KeyError
  CHECK(One(py, "error.type") == List{"KeyError", "RuntimeError"});
  CHECK(One(py, "exception.type") == List{"KeyError", "RuntimeError"});
  CHECK(One(py, "error.value") == List{"'total'", "cannot charge order 8"});
  CHECK(One(py, "error.mechanism") == List{"generic", "generic"});
  // sentry-go sends a bare list: `"exception": [...]`.
  const std::string go = Fixture("go-02");
  CHECK(One(go, "error.type") == List{"*main.NotFoundError", "*fmt.wrapError"});
  CHECK(One(go, "exception.type") == List{"*main.NotFoundError", "*fmt.wrapError"});
  CHECK(One(go, "exception.value") ==
        List{"order 8 not found", "cannot charge order 8: order 8 not found"});
  CHECK(One(go, "error.mechanism") == List{"chained", "generic"});
  CHECK(One(Fixture("node-02"), "error.type") == List{"TypeError", "Error"});
}

TEST_CASE("error.handled and error.unhandled tell a crash from a handled error") {
  for (const char* handled : {"python-01", "node-01", "go-01"}) {
    INFO(handled);
    CHECK(One(Fixture(handled), "error.handled") == List{"true"});
    CHECK(One(Fixture(handled), "error.unhandled") == List{"false"});
  }
  for (const char* crash : {"python-08", "node-05"}) {
    INFO(crash);
    CHECK(One(Fixture(crash), "error.handled") == List{"false"});
    CHECK(One(Fixture(crash), "error.unhandled") == List{"true"});
  }
  CHECK(One(Fixture("python-08"), "error.mechanism") == List{"excepthook"});
  CHECK(One(Fixture("node-05"), "error.mechanism") == List{"auto.node.onuncaughtexception"});
  // sentry-go reports a recovered panic without a mechanism: handled, as Sentry reads it too.
  CHECK(One(Fixture("go-05"), "error.unhandled") == List{"false"});
  CHECK(One(Fixture("go-05"), "level") == List{"fatal"});
  // A message has no exception: handled (Sentry: no mechanism says handled: false).
  CHECK(One(Fixture("python-06"), "error.handled") == List{"true"});
}

TEST_CASE("stack.* keys read every frame of every exception") {
  const std::string py = Fixture("python-02");
  const auto functions = One(py, "stack.function");
  CHECK(functions == List{"charge", "load_order", "<module>", "charge"});
  CHECK(One(py, "stack.module") == List{"__main__", "__main__", "__main__", "__main__"});
  CHECK(One(py, "stack.in_app") == List{"true", "true", "true", "true"});
  CHECK(One(py, "stack.filename").size() == 4);
  CHECK(One(py, "stack.abs_path").size() == 4);
  const std::string go = Fixture("go-03");
  CHECK(One(go, "stack.function") == List{"main", "func2"});  // in the WithScope closure
  CHECK(One(go, "stack.module") == List{"main", "main"});
  CHECK(One(go, "stack.package").empty());
  const std::string node = Fixture("node-05");
  const auto node_functions = One(node, "stack.function");
  CHECK(node_functions.back() == "loadOrder");
  CHECK(One(node, "stack.module").back() == "app");
  CHECK(One(node, "stack.filename").front() == "node:internal/timers");
}

TEST_CASE("message also reads logentry; event.type, project, title") {
  const std::string log = Fixture("python-06");
  CHECK(One(log, "message") == List{"payment for order 12 failed after 3 tries",
                                    "payment for order %s failed after %d tries"});
  CHECK(One(log, "logger") == List{"orders.worker"});
  CHECK(One(log, "event.type") == List{"default"});
  CHECK(One(log, "title") == List{"payment for order 12 failed after 3 tries"});
  CHECK(One(Fixture("go-04"), "message") == List{"payment for order 12 failed after 3 tries"});
  CHECK(One(Fixture("go-04"), "event.type") == List{"default"});
  CHECK(One(Fixture("python-02"), "event.type") == List{"error"});
  CHECK(One(Fixture("python-02"), "title") == List{"RuntimeError: cannot charge order 8"});
  CHECK(One(Fixture("go-01"), "title") == List{"*main.NotFoundError: order 7 not found"});
  CHECK(One(Fixture("python-02"), "project").empty());
  CHECK(One(R"({"timestamp":1,"project":"orders-api","project_id":42})", "project") ==
        List{"orders-api"});
  CHECK(One(R"({"timestamp":1,"project":"orders-api","project_id":42})", "project.id") ==
        List{"42"});
  CHECK(One(R"({"timestamp":1,"type":"transaction"})", "event.type") == List{"transaction"});
}

TEST_CASE("user.id as a number (@sentry/node) or a string") {
  CHECK(One(Fixture("node-01"), "user.id") == List{"42"});
  CHECK(One(Fixture("python-01"), "user.id") == List{"42"});
  CHECK(One(Fixture("go-01"), "user.id") == List{"42"});
}

TEST_CASE("tags[k] and a bare key k each see the tag, whichever is loaded first") {
  const std::string py = Fixture("python-01");
  for (const auto& keys : {List{"service", "tags[service]"}, List{"tags[service]", "service"},
                           List{"tags[service]", "service", "tags[service]"}}) {
    const Values v = Decode(py, keys);
    CHECK(v.at("service") == List{"orders-api"});
    CHECK(v.at("tags[service]") == List{"orders-api"});
  }
  // The list-of-pairs form too.
  const std::string pairs = R"({"timestamp":1,"tags":[["service","a"],["env","b"]]})";
  const Values v = Decode(pairs, {"service", "tags[service]"});
  CHECK(v.at("service") == List{"a"});
  CHECK(v.at("tags[service]") == List{"a"});
}

TEST_CASE("issue: Sentry's default grouping") {
  const std::string first = Issue(Fixture("python-01"));  // KeyError in load_order
  CHECK(first.size() == 16);
  // The same error from another process (another event id, time, order number) is one issue.
  CHECK(Issue(Fixture("python-07")) == first);
  // The same exception type raised in another in-app frame is another issue.
  CHECK(Issue(Fixture("python-03")) != first);
  // A chained exception groups by the whole chain.
  CHECK(Issue(Fixture("python-02")) != first);
  // A custom fingerprint wins over the stack.
  const std::string custom = Issue(Fixture("python-04"));
  CHECK(custom != Issue(Fixture("python-02")));
  // `{{ default }}` expands to the default grouping: like python-01, but not the same issue.
  CHECK(Issue(Fixture("python-05")) != first);
  // Whatever the SDK, the fingerprint alone decides (project aside).
  CHECK(Issue(Fixture("node-03")) == custom);
  CHECK(Issue(Fixture("go-03")) == custom);
  CHECK(Issue(Fixture("go-01")) != Issue(Fixture("go-02")));
  // Messages group by their template (logentry.message), not the formatted text.
  const std::string a =
      R"({"timestamp":1,"logentry":{"message":"order %s failed","formatted":"order 1 failed"}})";
  const std::string b =
      R"({"timestamp":2,"logentry":{"message":"order %s failed","formatted":"order 2 failed"}})";
  CHECK(Issue(a) == Issue(b));
  CHECK(Issue(R"({"timestamp":1,"message":"order 1 failed"})") !=
        Issue(R"({"timestamp":1,"message":"order 2 failed"})"));
  // The project is part of the issue, as in Sentry.
  CHECK(Issue(R"({"timestamp":1,"message":"m","project":"a"})") !=
        Issue(R"({"timestamp":1,"message":"m","project":"b"})"));
}

TEST_CASE("issue: in-app frames only, all frames when none is in-app") {
  auto event = [](const std::string& frames) {
    return R"({"timestamp":1,"exception":{"values":[{"type":"E","value":"v","stacktrace":{"frames":[)" +
           frames + "]}}]}}";
  };
  const std::string lib = R"({"module":"lib","function":"call","in_app":false})";
  const std::string lib2 = R"({"module":"lib","function":"other","in_app":false})";
  const std::string app = R"({"module":"app","function":"handler","in_app":true})";
  // System frames do not change an issue that has in-app frames ...
  CHECK(Issue(event(lib + "," + app)) == Issue(event(lib2 + "," + app)));
  // ... but group when there is no in-app frame at all.
  CHECK(Issue(event(lib)) != Issue(event(lib2)));
  // The line number and the value are not part of it when frames group.
  CHECK(Issue(event(R"({"module":"app","function":"handler","in_app":true,"lineno":3})")) ==
        Issue(event(app)));
  // Without frames, the type and value group.
  CHECK(Issue(R"({"timestamp":1,"exception":[{"type":"E","value":"a"}]})") !=
        Issue(R"({"timestamp":1,"exception":[{"type":"E","value":"b"}]})"));
  // Scalars where Sentry's objects belong are not exceptions or frames.
  CHECK(Issue(R"({"timestamp":1,"exception":["E",{"type":"E","value":"a"}]})") ==
        Issue(R"({"timestamp":1,"exception":[{"type":"E","value":"a"}]})"));
  CHECK(One(R"({"timestamp":1,"exception":["E",7]})", "event.type") == List{"default"});
  // The two shapes of the exception interface are one issue.
  CHECK(Issue(R"({"timestamp":1,"exception":[{"type":"E","value":"a"}]})") ==
        Issue(R"({"timestamp":1,"exception":{"values":[{"type":"E","value":"a"}]}})"));
  // A fingerprint without `{{ default }}` ignores the exception; with it, does not.
  CHECK(Issue(R"({"timestamp":1,"fingerprint":["x"],"exception":[{"type":"E"}]})") ==
        Issue(R"({"timestamp":1,"fingerprint":["x"],"exception":[{"type":"F"}]})"));
  CHECK(
      Issue(R"({"timestamp":1,"fingerprint":["{{ default }}","x"],"exception":[{"type":"E"}]})") !=
      Issue(R"({"timestamp":1,"fingerprint":["{{ default }}","x"],"exception":[{"type":"F"}]})"));
  CHECK(Issue(R"({"timestamp":1,"fingerprint":["{{default}}"],"exception":[{"type":"E"}]})") ==
        Issue(R"({"timestamp":1,"fingerprint":["{{ default }}"],"exception":[{"type":"E"}]})"));
}

TEST_CASE("title: the main exception's first line, cut at 100 characters") {
  const std::string long_value(150, 'x');
  const auto t = One(
      R"({"timestamp":1,"exception":[{"type":"E","value":")" + long_value + R"(\nsecond line"}]})",
      "title");
  REQUIRE(t.size() == 1);
  CHECK(t[0] == "E: " + std::string(97, 'x') + "...");
  CHECK(One(R"({"timestamp":1})", "title") == List{"<unlabeled event>"});
}

// Firing notifications per rule of `rules` (after an action `log`) over the fixture events, in
// the order given.
std::map<std::string, int> Fired(const std::string& rules, const std::vector<const char*>& events) {
  const auto r = rules_dsl::ParseAndCheck({{"t.rules", "action log = log()\n" + rules}});
  std::string errors;
  for (const auto& d : r.diagnostics) errors += rules_dsl::FormatDiagnostic(d);
  INFO(errors);
  REQUIRE(r.ok());
  auto engine = Engine::Create(r.rules, EngineOptions{});
  REQUIRE(engine.ok());
  std::vector<Notification> out;
  for (const char* name : events) (*engine)->Process(Fixture(name), out);
  (*engine)->Flush(out);
  std::map<std::string, int> fired;
  for (const Notification& n : out) {
    if (n.state == AlertState::kFiring) ++fired[n.rule_name];
  }
  return fired;
}

TEST_CASE("group by issue counts per issue; new(issue) fires once per issue") {
  // In the order they were captured (event time order).
  auto fired = Fired(
      "rule per_issue {\n  when frequency >= 2 in 1h\n  group by issue\n  then log\n}\n"
      "rule new_issue {\n  when new(issue)\n  then log\n}\n",
      {"python-01", "python-02", "python-03", "python-06", "python-07"});
  CHECK(fired["per_issue"] == 1);  // python-01 and python-07 only
  CHECK(fired["new_issue"] == 4);  // four issues among five events
}

}  // namespace
}  // namespace klaxon

namespace klaxon {
namespace {

TEST_CASE("the shapes a built-in reads too do not change its rules' ids") {
  // A rule on exception.type / message written before they read the bare list and logentry
  // keeps its id, and so its window state, across the upgrade.
  for (const auto& [key, path, array_at] :
       {std::tuple<std::string, std::vector<std::string>, int>{
            "exception.type", {"exception", "values", "type"}, 2},
        {"message", {"message"}, -1}}) {
    Rule now;
    now.name = "r";
    now.filter.kind = Predicate::Kind::kMatch;
    now.filter.field = rules_dsl::ResolveField(key, nullptr);
    now.filter.values = {"x"};
    CHECK_FALSE(now.filter.field.more_paths.empty());
    Rule before = now;
    before.filter.field.more_paths.clear();
    CHECK(before.filter.field.path == path);
    CHECK(before.filter.field.array_at == array_at);
    CHECK(ComputeRuleId(now) == ComputeRuleId(before));
  }
}

TEST_CASE("a multi-valued Sentry key can match two values at once") {
  // `f:a AND f:b` is refused as unsatisfiable for a single-valued field only.
  for (const char* key : {"stack.function", "message", "error.type"}) {
    const auto r =
        rules_dsl::ParseAndCheck({{"t.rules", std::string("action log = log()\nrule r {\n  when ") +
                                                  key + ":a AND " + key + ":b\n  then log\n}\n"}});
    INFO(key);
    CHECK(r.ok());
  }
  const auto single = rules_dsl::ParseAndCheck(
      {{"t.rules", "action log = log()\nrule r {\n  when level:a AND level:b\n  then log\n}\n"}});
  CHECK_FALSE(single.ok());
}

}  // namespace
}  // namespace klaxon

namespace klaxon {
namespace {

// Firing notifications per rule over the handled (python-01) and the crash (python-08) events.
std::map<std::string, int> FiredOverHandledAndCrash(const std::string& rules) {
  return Fired(rules, {"python-01", "python-08"});
}

TEST_CASE("error.handled / error.unhandled take Sentry's spellings of true and false") {
  // Sentry's search reads 1/true/yes and 0/false/no, in any case, for its boolean keys.
  for (const char* yes : {"true", "1", "yes", "TRUE", "Yes", "\"true\""}) {
    for (const char* no : {"false", "0", "no", "False", "NO", "\"0\""}) {
      INFO(yes << " " << no);
      const auto fired = FiredOverHandledAndCrash(
          std::string("rule crash_u {\n  when error.unhandled:") + yes + "\n  then log\n}\n" +
          "rule crash_h {\n  when error.handled:" + no + "\n  then log\n}\n" +
          "rule fine_u {\n  when error.unhandled:" + no + "\n  then log\n}\n" +
          "rule fine_h {\n  when error.handled:" + yes + "\n  then log\n}\n");
      // One event each: python-08 is the crash, python-01 the handled error.
      CHECK(fired == std::map<std::string, int>{
                         {"crash_u", 1}, {"crash_h", 1}, {"fine_u", 1}, {"fine_h", 1}});
    }
  }
  // A list mixes spellings; it matches both events.
  CHECK(FiredOverHandledAndCrash("rule r {\n  when error.handled:[1, no]\n  then log\n}\n") ==
        std::map<std::string, int>{{"r", 2}});
}

TEST_CASE("error.handled with a value that is no boolean is an error") {
  const auto r = rules_dsl::ParseAndCheck(
      {{"t.rules", "action log = log()\nrule r {\n  when error.handled:maybe\n  then log\n}\n"}});
  REQUIRE_FALSE(r.ok());
  std::string errors;
  for (const auto& d : r.diagnostics) errors += rules_dsl::FormatDiagnostic(d);
  CHECK(errors.find("t.rules:3:22: error: `maybe` is not a boolean") != std::string::npos);
  CHECK(errors.find("write true or false (or 1/0, yes/no)") != std::string::npos);
  // Other keys keep their values as written.
  CHECK(rules_dsl::ParseAndCheck(
            {{"t.rules", "action log = log()\nrule r {\n  when level:yes\n  then log\n}\n"}})
            .ok());
}

}  // namespace
}  // namespace klaxon
