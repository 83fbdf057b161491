#include "cli/flags.h"

#include <doctest/doctest.h>

#include <map>
#include <sstream>

#include "cli/commands.h"

namespace klaxon::cli {
namespace {

struct Parsed {
  std::optional<int> done;
  std::string out;
  std::string err;
};

TEST_CASE("flags: values in both spellings, switches, positionals, usage errors exit 2") {
  std::string events;
  bool explain = false;
  std::vector<std::string> positional;
  FlagParser flags("replay", "usage: klaxon replay\n");
  flags.Value("--events", [&](const std::string& v) {
    events = v;
    return v == "bad" ? Status::InvalidArgument("no good") : Status::Ok();
  });
  flags.Switch("--explain", &explain);
  auto parse = [&](const Args& args) {
    std::ostringstream out;
    std::ostringstream err;
    positional.clear();
    const std::optional<int> done = flags.Parse(args, positional, out, err);
    return Parsed{done, out.str(), err.str()};
  };

  Parsed p = parse({"a.rules", "--events", "e.jsonl", "-", "--explain"});
  CHECK_FALSE(p.done);
  CHECK(events == "e.jsonl");
  CHECK(explain);
  CHECK(positional == std::vector<std::string>{"a.rules", "-"});
  CHECK_FALSE(parse({"--events=x=y"}).done);
  CHECK(events == "x=y");

  p = parse({"--help"});
  CHECK(p.done == 0);
  CHECK(p.out == "usage: klaxon replay\n");
  const std::pair<Args, std::string> usage_errors[] = {
      {{"--evnets", "x"}, "klaxon replay: unknown flag --evnets\nusage: klaxon replay\n"},
      {{"--events"}, "klaxon replay: --events needs a value\n"},
      {{"--events", "bad"}, "klaxon replay: --events: no good\n"},
  };
  for (const auto& [args, message] : usage_errors) {
    p = parse(args);
    CHECK(p.done == 2);
    CHECK(p.err == message);
  }
  CHECK(parse({"--explain=yes"}).done == 2);
}

TEST_CASE("flags: undeclared --SECTION.KEY flags go to the Other handler") {
  std::map<std::string, std::string> overrides;
  FlagParser flags("run", "usage\n");
  flags.Other([&](const std::string& k, const std::string& v) {
    overrides[k] = v;
    return Status::Ok();
  });
  std::vector<std::string> positional;
  std::ostringstream out;
  std::ostringstream err;
  CHECK_FALSE(
      flags.Parse({"--log.format=json", "--kafka.brokers", "k:9092"}, positional, out, err));
  CHECK(overrides.at("log.format") == "json");
  CHECK(overrides.at("kafka.brokers") == "k:9092");
  CHECK(flags.Parse({"-x"}, positional, out, err) == 2);
}

TEST_CASE("flags: klaxon check and klaxon test keep their usage exits on the shared parser") {
  auto run = [](int (*command)(const Args&, std::ostream&, std::ostream&), const Args& args) {
    std::ostringstream out;
    std::ostringstream err;
    const int code = command(args, out, err);
    return Parsed{code, out.str(), err.str()};
  };
  CHECK(run(&RunCheck, {"--help"}).done == 0);
  CHECK(run(&RunTest, {"-h"}).done == 0);
  const Args check_usage_errors[] = {
      {},
      {"--format", "yaml", "a.rules"},
      {"--format"},
      {"--config="},
      {"--config", "k.yaml", "a.rules"},
      {"--config", "k.yaml", "--format=json"},
      {"--strict", "a.rules"},
  };
  for (const Args& args : check_usage_errors) {
    const Parsed p = run(&RunCheck, args);
    CHECK(p.done == 2);
    CHECK(p.err.starts_with("klaxon check: "));
  }
  for (const Args& args : {Args{}, Args{"--verbose", "a.yaml"}, Args{"-"}}) {
    CHECK(run(&RunTest, args).done == 2);
  }
  CHECK(run(&RunTest, {"-"}).err.starts_with("klaxon test: unknown flag -\n"));
}

}  // namespace
}  // namespace klaxon::cli
