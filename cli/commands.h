// The klaxon subcommands. Each takes its arguments (without the subcommand name) and the
// streams to write to, and returns the process exit code, as promtool's: 0 ok, 1 problems
// found (invalid rules, failing tests, a refused notification), 2 usage or I/O error (a bad
// flag, a file that cannot be read or written). One file per subcommand; main.cpp only
// dispatches.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "engine/status.h"

namespace klaxon::cli {

using Args = std::vector<std::string>;

constexpr int kExitOk = 0;
constexpr int kExitProblems = 1;
constexpr int kExitUsage = 2;  // also I/O errors

// kExitUsage for a file that is missing or unreadable, kExitProblems for anything else.
inline int ExitCodeFor(const Status& s) {
  return s.code() == StatusCode::kNotFound || s.code() == StatusCode::kIoError ? kExitUsage
                                                                               : kExitProblems;
}

int RunCheck(const Args& args, std::ostream& out, std::ostream& err);    // check_command.cpp
int RunFmt(const Args& args, std::ostream& out, std::ostream& err);      // fmt_command.cpp
int RunReplay(const Args& args, std::ostream& out, std::ostream& err);   // replay_command.cpp
int RunTest(const Args& args, std::ostream& out, std::ostream& err);     // test_command.cpp
int RunNotify(const Args& args, std::ostream& out, std::ostream& err);   // notify_command.cpp
int RunService(const Args& args, std::ostream& out, std::ostream& err);  // run_command.cpp
int RunImport(const Args& args, std::ostream& out, std::ostream& err);   // import_command.cpp
int RunSilence(const Args& args, std::ostream& out, std::ostream& err);  // silence_command.cpp

}  // namespace klaxon::cli
