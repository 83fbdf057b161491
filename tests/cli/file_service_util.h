// `klaxon run` over a file source in follow mode, for tests that drive a running service:
// DIR/rules.rules and DIR/events.jsonl, the outbox in DIR, the admin server on 127.0.0.1:0.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cli/config.h"
#include "cli/logger.h"
#include "cli/runtime_options.h"
#include "cli/secrets.h"
#include "clock/clock.h"
#include "service/runtime.h"

namespace klaxon::cli::testing {

inline std::unique_ptr<service::Runtime> StartFileService(const std::filesystem::path& dir,
                                                          bool enable_reload, Logger& log,
                                                          const Clock& clock) {
  const std::string yaml = std::string(
                               "rules: [rules.rules]\n"
                               "source: file\n"
                               "file: {path: events.jsonl, follow: true}\n"
                               "outbox: {path: outbox.db, drain_timeout: 2s}\n"
                               "admin: {listen: \"127.0.0.1:0\", enable_reload: ") +
                           (enable_reload ? "true" : "false") + "}\n";
  const EnvLookup env = [](const std::string&) { return std::optional<std::string>(); };
  Result<Config> config = ParseConfig(yaml, {}, env, ReadSecretFile);
  REQUIRE_MESSAGE(config.ok(), config.status().message());
  config->base_dir = dir.string();
  Result<service::RuntimeOptions> options = RuntimeOptionsFrom(*config, env);
  REQUIRE_MESSAGE(options.ok(), options.status().message());
  auto service = std::make_unique<service::Runtime>(std::move(options).value(), log, clock);
  const Status started = service->Start();
  REQUIRE_MESSAGE(started.ok(), started.message());
  return service;
}

}  // namespace klaxon::cli::testing
