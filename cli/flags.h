// The flag parser of the klaxon subcommands, one for all so that every command reads flags the
// same way: `--name VALUE` or `--name=VALUE` for a flag with a value, `--name` for a switch,
// `-h`/`--help` for the usage, `-` alone as a positional argument (stdin). Any other argument
// starting with `-` is a usage error. Usage errors exit 2, as promtool's do.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "engine/status.h"

namespace klaxon::cli {

class FlagParser {
 public:
  // Checks and stores a value; a non-OK Status is reported as `--NAME: message`.
  using SetValue = std::function<Status(const std::string& value)>;
  // For flags not declared (klaxon run's `--SECTION.KEY=VALUE` overrides): NAME without `--`.
  using SetOther = std::function<Status(const std::string& name, const std::string& value)>;

  // `command` names the subcommand in messages ("replay"); `usage` is printed for --help and
  // after an unknown flag.
  FlagParser(std::string command, std::string_view usage);

  void Value(std::string name, SetValue set);  // name with its dashes: "--events"
  void Switch(std::string name, bool* on);
  // A duration (engine/duration.h), stored in milliseconds.
  void Duration(std::string name, int64_t* ms);
  void Other(SetOther set);

  // Parses `args`, appending positional arguments to `positional`. Returns nullopt to go on,
  // else the exit status after having written the usage (0 for --help) or the error (2).
  std::optional<int> Parse(const Args& args, std::vector<std::string>& positional,
                           std::ostream& out, std::ostream& err) const;

  // Writes "klaxon COMMAND: message" and the usage; returns 2, for the command's own usage
  // checks after parsing.
  int UsageError(const std::string& message, std::ostream& err) const;

 private:
  struct Flag {
    std::string name;
    SetValue set;  // null for a switch
    bool* on = nullptr;
  };
  std::string command_;
  std::string_view usage_;
  std::vector<Flag> flags_;
  SetOther other_;
};

}  // namespace klaxon::cli
