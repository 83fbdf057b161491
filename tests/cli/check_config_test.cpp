// `klaxon check --config FILE` and the preflight of `klaxon run`: every problem at once.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/preflight.h"

namespace klaxon::cli {
namespace {

namespace fs = std::filesystem;

struct Dir {
  fs::path path = fs::temp_directory_path() / "klaxon-check-config-test";
  Dir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Dir() { fs::remove_all(path); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

constexpr const char* kRules = R"(action chat = slack(webhook: env("KLAXON_TEST_UNSET_A"))
action pager = pagerduty(routing_key: env("KLAXON_TEST_UNSET_B"))
action hook = webhook(url: "https://example.com/h", secret: file("missing-secret"))

rule r {
  when frequency > 5/min
  then chat, pager, hook
}
)";

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome Check(const Args& args) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = RunCheck(args, out, err);
  return {code, out.str(), err.str()};
}

TEST_CASE("check --config reports every missing secret, not one per start") {
  Dir dir;
  dir.Write("a.rules", kRules);
  const std::string config = dir.Write("klaxon.yaml", "rules: [a.rules]\nkafka: {topics: [t]}\n");
  const Outcome o = Check({"--config", config});
  CHECK(o.code == 1);
  CAPTURE(o.err);
  CHECK(o.err.find(config + ": 3 problems:") != std::string::npos);
  CHECK(o.err.find("a.rules:1:30: action chat, webhook: environment variable KLAXON_TEST_UNSET_A "
                   "is not set") != std::string::npos);
  CHECK(o.err.find("a.rules:2:39: action pager, routing_key: environment variable "
                   "KLAXON_TEST_UNSET_B is not set") != std::string::npos);
  CHECK(o.err.find("action hook, secret: cannot read secret file missing-secret") !=
        std::string::npos);
}

TEST_CASE("run reports every missing secret before starting anything") {
  // Before: the service stopped at the first action whose secret was missing.
  Dir dir;
  dir.Write("a.rules", kRules);
  const std::string config = dir.Write("klaxon.yaml", "rules: [a.rules]\nkafka: {topics: [t]}\n");
  std::ostringstream out;
  std::ostringstream err;
  CHECK(RunService({"--config", config}, out, err) == 2);
  CHECK(err.str().find("klaxon run: cannot start:") == 0);
  CHECK(err.str().find("KLAXON_TEST_UNSET_A") != std::string::npos);
  CHECK(err.str().find("KLAXON_TEST_UNSET_B") != std::string::npos);
  CHECK(err.str().find("missing-secret") != std::string::npos);
}

TEST_CASE("check --config: a valid configuration, a broken one, usage and I/O errors") {
  Dir dir;
  dir.Write("ok.rules",
            "action out = log(path: \"-\")\nrule r {\n  when frequency > 5/min\n"
            "  then out\n}\n");
  const std::string good = dir.Write("good.yaml", "rules: [ok.rules]\nkafka: {topics: [t]}\n");
  Outcome o = Check({"--config=" + good});
  CHECK(o.code == 0);
  CHECK(o.out == good + ": OK\n");

  const std::string bad =
      dir.Write("bad.yaml", "rules: [ok.rules]\nkafka: {topics: [t]}\nengine: {max_depth: 0}\n");
  o = Check({"--config", bad});
  CHECK(o.code == 1);
  CHECK(o.err.find(bad + ":3:21: engine.max_depth: '0' is out of range") != std::string::npos);

  const std::string broken_rules =
      dir.Write("rules.yaml", "rules: [nope.rules]\nkafka: {topics: [t]}\n");
  CHECK(Check({"--config", broken_rules}).code == 1);

  CHECK(Check({"--config", (dir.path / "absent.yaml").string()}).code == 2);
  CHECK(Check({"--config"}).code == 2);
  CHECK(Check({"--config", good, "x.rules"}).code == 2);
}

TEST_CASE("check --config takes run's --SECTION.KEY flags and judges them as run does") {
  // Before: check refused them, so a deployment's flags could not be checked before a start.
  Dir dir;
  dir.Write("ok.rules",
            "action out = log(path: \"-\")\nrule r {\n  when frequency > 5/min\n"
            "  then out\n}\n");
  const std::string config = dir.Write("fl.yaml", "rules: [ok.rules]\nkafka: {topics: [t]}\n");
  Outcome o = Check({"--config", config, "--engine.max_depth=0", "--log.format", "json"});
  CAPTURE(o.err);
  CHECK(o.code == 1);
  CHECK(o.err.find(config + ": 1 problem:\n  --engine.max_depth: '0' is out of range") == 0);
  o = Check({"--config", config, "--engine.max_depth=8", "--kafka.group_id=alerts"});
  CHECK(o.code == 0);
  CHECK(o.out == config + ": OK\n");
  o = Check({"--config", config, "--kafka.nope=1"});
  CHECK(o.code == 1);
  CHECK(o.err.find("--kafka.nope: unknown key") != std::string::npos);
  // Without --config there is nothing for them to set.
  o = Check({"--engine.max_depth=8", "ok.rules"});
  CHECK(o.code == 2);
  CHECK(o.err.find("klaxon check: --engine.max_depth sets a key of --config FILE") == 0);
}

TEST_CASE("a bad flag value is reported against the flag, not the file's line") {
  // Before: `--outbox.drain_timeout=abc` was reported as fl.yaml:6:18, where the file had 3s.
  Dir dir;
  dir.Write("ok.rules",
            "action out = log(path: \"-\")\nrule r {\n  when frequency > 5/min\n"
            "  then out\n}\n");
  const std::string config =
      dir.Write("fl.yaml", "rules: [ok.rules]\nsource: file\noutbox:\n  drain_timeout: 3s\n");
  std::ostringstream out;
  std::ostringstream err;
  CHECK(RunService({"--config", config, "--outbox.drain_timeout=abc"}, out, err) == 2);
  CAPTURE(err.str());
  CHECK(err.str().find("  --outbox.drain_timeout: invalid duration 'abc'") != std::string::npos);
  CHECK(err.str().find("fl.yaml:4") == std::string::npos);
  // A flag for a key the file does not have is named as the flag too.
  std::ostringstream err2;
  CHECK(RunService({"--config", config, "--engine.max_depth=0"}, out, err2) == 2);
  CHECK(err2.str().find("  --engine.max_depth: '0' is out of range") != std::string::npos);
}

}  // namespace
}  // namespace klaxon::cli
