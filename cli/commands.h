// The klaxon subcommands. Each takes its arguments (without the subcommand name) and the
// streams to write to, and returns the process exit code: 0 ok, 1 findings/failure, 2 usage.
// One file per subcommand; main.cpp only dispatches.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace klaxon::cli {

using Args = std::vector<std::string>;

int RunCheck(const Args& args, std::ostream& out, std::ostream& err);    // check_command.cpp
int RunFmt(const Args& args, std::ostream& out, std::ostream& err);      // fmt_command.cpp
int RunReplay(const Args& args, std::ostream& out, std::ostream& err);   // replay_command.cpp
int RunTest(const Args& args, std::ostream& out, std::ostream& err);     // test_command.cpp
int RunNotify(const Args& args, std::ostream& out, std::ostream& err);   // notify_command.cpp
int RunService(const Args& args, std::ostream& out, std::ostream& err);  // run_command.cpp

}  // namespace klaxon::cli
