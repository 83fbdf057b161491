// The klaxon command: dispatches to one subcommand.
#include <iostream>
#include <string>
#include <string_view>

#include "cli/commands.h"

namespace {

constexpr std::string_view kUsage =
    "usage: klaxon <command> [options]\n"
    "\n"
    "commands:\n"
    "  check PATH...            check rule files and folders; errors as file:line:col\n"
    "  check --config FILE      check a service configuration and the rule files it names\n"
    "  fmt [--check] PATH...    rewrite rule files in the canonical layout\n"
    "  replay RULES... --events FILE\n"
    "                           dry-run rules over a recorded event log (JSON Lines)\n"
    "  test FILE...             run rule unit tests\n"
    "  notify RULES... --action NAME\n"
    "                           send one test notification through an action\n"
    "  run --config FILE        run the alerting service\n"
    "  import sentry|elastalert FILE\n"
    "                           print Klaxon rules equivalent to Sentry or ElastAlert2 rules\n"
    "  silence add|list|expire  mute alerts of a running service during maintenance\n"
    "  version                  print the version\n"
    "\n"
    "Run `klaxon <command> --help` for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  klaxon::cli::Args args(argv + 2, argv + argc);
  if (command == "check") return klaxon::cli::RunCheck(args, std::cout, std::cerr);
  if (command == "fmt") return klaxon::cli::RunFmt(args, std::cout, std::cerr);
  if (command == "replay") return klaxon::cli::RunReplay(args, std::cout, std::cerr);
  if (command == "test") return klaxon::cli::RunTest(args, std::cout, std::cerr);
  if (command == "notify") return klaxon::cli::RunNotify(args, std::cout, std::cerr);
  if (command == "run") return klaxon::cli::RunService(args, std::cout, std::cerr);
  if (command == "import") return klaxon::cli::RunImport(args, std::cout, std::cerr);
  if (command == "silence") return klaxon::cli::RunSilence(args, std::cout, std::cerr);
  if (command == "version" || command == "--version") {
    // `version` takes nothing: a typo in a deployment script must not look like success.
    if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
      std::cout << "usage: klaxon version\n  Prints the version.\n"
                   "  Exit status: 0 printed, 2 usage error (any argument).\n";
      return 0;
    }
    if (!args.empty()) {
      std::cerr << "klaxon version: unexpected argument '" << args[0]
                << "' (usage: klaxon version)\n";
      return 2;
    }
    std::cout << "klaxon " << KLAXON_VERSION_STRING << "\n";
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "klaxon: unknown command '" << command << "'\n\n" << kUsage;
  return 2;
}
