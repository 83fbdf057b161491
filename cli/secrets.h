// How the CLI resolves env("NAME") and file("path") values of action definitions: from the
// process environment and the filesystem. The resolved text is handed to the action and never
// logged; errors name the variable or file, never a value.
#pragma once

#include <string>

#include "actions/action.h"
#include "cli/config.h"

namespace klaxon::cli {

// `base_dir` resolves relative file("...") paths.
actions::SecretResolver MakeSecretResolver(EnvLookup env, std::string base_dir);

// Secrets are short; the cap keeps a mistaken path (/dev/zero, a log file) from exhausting
// memory.
constexpr size_t kMaxSecretBytes = 64 * 1024;

// Reads a secret file (env("...") / file("...") values, `KEY_file` config keys): NotFound or
// IoError when unreadable, InvalidArgument when larger than kMaxSecretBytes.
Result<std::string> ReadSecretFile(const std::string& path);

// getenv, for the composition root.
EnvLookup ProcessEnv();

}  // namespace klaxon::cli
