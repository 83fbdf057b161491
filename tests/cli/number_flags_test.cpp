// Numbers and durations given as flags: out of range is a usage error (exit 2), never an
// uncaught std::out_of_range.
#include <doctest/doctest.h>

#include <sstream>

#include "cli/commands.h"

namespace klaxon::cli {
namespace {

struct Run {
  int code;
  std::string err;
};

Run Call(int (*command)(const Args&, std::ostream&, std::ostream&), const Args& args) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = command(args, out, err);
  return {code, err.str()};
}

TEST_CASE("replay --allowed-lateness out of range") {
  const Run r =
      Call(RunReplay, {"x.rules", "--events", "-", "--allowed-lateness", "99999999999999999999s"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--allowed-lateness: duration '99999999999999999999s' is out of range") !=
        std::string::npos);
  // The same units as rule files.
  const Run minutes =
      Call(RunReplay, {"/nonexistent.rules", "--events", "-", "--allowed-lateness", "5min"});
  CHECK(minutes.err.find("allowed-lateness") == std::string::npos);
}

TEST_CASE("notify --timeout out of range") {
  const Run r = Call(RunNotify, {"x.rules", "--action", "a", "--timeout", "9999999999999999w"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--timeout: duration '9999999999999999w' is out of range") != std::string::npos);
}

TEST_CASE("run: configuration flags out of range") {
  const Run lateness = Call(RunService, {"--engine.allowed_lateness=99999999999999999999s",
                                         "--rules=x.rules", "--kafka.topics=t"});
  CHECK(lateness.code == 2);
  CHECK(lateness.err.find("engine.allowed_lateness: duration '99999999999999999999s' is out of "
                          "range") != std::string::npos);
  const Run drain = Call(RunService, {"--outbox.drain_timeout", "99999999999999999999s",
                                      "--rules=x.rules", "--kafka.topics=t"});
  CHECK(drain.code == 2);
  CHECK(drain.err.find("outbox.drain_timeout: duration") != std::string::npos);
}

}  // namespace
}  // namespace klaxon::cli
