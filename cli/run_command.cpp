// `klaxon run --config FILE`: the alerting service. Parses flags, loads the configuration,
// turns SIGHUP into a reload and SIGTERM/SIGINT into a graceful shutdown, and runs the runtime
// (service/runtime.h) with the options built from it.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/config.h"
#include "cli/flags.h"
#include "cli/logger.h"
#include "cli/preflight.h"
#include "cli/rule_files.h"
#include "cli/runtime_options.h"
#include "cli/secrets.h"
#include "clock/clock.h"
#include "service/instance_lock.h"
#include "service/runtime.h"

namespace klaxon::cli {
namespace {

constexpr std::string_view kRunUsage =
    "usage: klaxon run --config FILE [--fresh-state] [--SECTION.KEY=VALUE ...]\n"
    "\n"
    "Runs the alerting service: consumes events (Kafka, a file or stdin), evaluates the rules\n"
    "and delivers notifications from a durable outbox. Any configuration key can be set by a\n"
    "flag, e.g. --log.format=json --kafka.brokers=127.0.0.1:9092 --admin.listen=:9464\n"
    "(:PORT listens on every interface, HOST:PORT on one). Durations take the units of rule\n"
    "files (500ms, 30s, 5min, 1h30m). Unknown keys and every other problem of the\n"
    "configuration, the rule files and the actions' secrets are reported at once before\n"
    "anything starts (exit 2); `klaxon check --config FILE` reports them without running.\n"
    "See docs/config.md.\n"
    "\n"
    "--fresh-state   start with empty state although the outbox shows an earlier run whose\n"
    "                state store is missing (without it such a start is refused: the windows,\n"
    "                alerts and offsets of that run would be silently lost)\n"
    "\n"
    "One process per outbox: a second `klaxon run` on the same outbox (or state store)\n"
    "refuses to start (exit 2); OUTBOX.lock (and STATE.lock) hold the lock.\n"
    "\n"
    "signals: SIGHUP reloads the rules (a broken file keeps the old ones); SIGTERM or SIGINT\n"
    "stop consuming, drain the outbox, save a checkpoint, commit offsets and exit 0.\n"
    "\n"
    "Exit status: 0 stopped by a signal or the input ended (file, stdin), 1 the source failed\n"
    "while running or the shutdown could not save its work (notifications the outbox refused,\n"
    "a checkpoint not written: the next start re-reads from the last checkpoint), 2 usage error,\n"
    "a configuration, rule or secret problem, or a start failure (a port in use, an outbox that\n"
    "cannot be opened or is in use by another klaxon process, a missing state store).\n";

}  // namespace

int RunService(const Args& args, std::ostream& out, std::ostream& err) {
  std::string config_path;
  std::map<std::string, std::string> overrides;
  bool fresh_state = false;
  FlagParser flags("run", kRunUsage);
  flags.Switch("--fresh-state", &fresh_state);
  flags.Value("--config", [&](const std::string& v) {
    config_path = v;
    return Status::Ok();
  });
  flags.Other([&](const std::string& key, const std::string& value) {
    overrides[key] = value;
    return Status::Ok();
  });
  std::vector<std::string> positional;
  if (std::optional<int> done = flags.Parse(args, positional, out, err)) return *done;
  if (!positional.empty()) return flags.UsageError("unexpected argument " + positional[0], err);
  EnvLookup env = ProcessEnv();
  std::string text;
  if (!config_path.empty()) {
    Result<std::string> t = ReadConfigFile(config_path);
    if (!t.ok()) {
      err << "klaxon run: " << t.status().message() << "\n";
      return 2;
    }
    text = std::move(t).value();
  } else if (overrides.empty()) {
    err << kRunUsage;
    return 2;
  }
  // Every problem of the configuration, the rule files and the secrets at once, before
  // anything starts (the same list as `klaxon check --config`).
  Config config;
  if (std::vector<std::string> problems = StartProblems(text, overrides, config_path, env, config);
      !problems.empty()) {
    err << "klaxon run: cannot start:\n";
    for (const std::string& p : problems) err << "  " << p << "\n";
    return 2;
  }
  LogLevel level = LogLevel::kInfo;
  Logger::ParseLevel(config.log_level, &level);
  Logger log(err, config.log_format == "json", level);

  // Signals are blocked in every thread and taken by one waiter thread, which only sets the
  // service's flags: no work happens in a signal handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);  // wakes the waiter at exit
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Consumed messages are allocated by librdkafka's fetch thread and freed here; with glibc's
  // default thresholds the fetch thread's heap is trimmed and re-faulted over and over (a
  // third of its CPU at 200,000 messages/s). Keep up to 128 MiB of freed memory for reuse.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  Result<service::RuntimeOptions> options = RuntimeOptionsFrom(config, env);
  if (!options.ok()) {
    log.Error("cannot start", {{"error", options.status().message()}});
    return 2;
  }
  options->fresh_state = fresh_state;
  // One process per outbox, and per state store when state.path puts it elsewhere: held until
  // the process exits.
  std::vector<std::unique_ptr<service::InstanceLock>> locks;
  std::vector<std::string> lock_paths = {options->outbox_path};
  if (!options->state_path.empty() && options->state_path != options->outbox_path + ".state") {
    lock_paths.push_back(options->state_path);
  }
  for (const std::string& path : lock_paths) {
    Result<std::unique_ptr<service::InstanceLock>> lock = service::InstanceLock::Acquire(path);
    if (!lock.ok()) {
      err << "klaxon run: " << lock.status().message() << "\n";
      return 2;
    }
    locks.push_back(std::move(lock).value());
  }
  SystemClock clock;
  service::Runtime service(std::move(options).value(), log, clock);
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    while (!done.load()) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        log.Info("reload requested", {{"signal", "SIGHUP"}});
        service.RequestReload();
      } else if (sig == SIGTERM || sig == SIGINT) {
        log.Info("shutdown requested", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
        service.RequestShutdown();
      }
    }
  });
  int code = 2;
  Status started = service.Start();
  if (!started.ok()) {
    log.Error("cannot start", {{"error", started.message()}});
  } else {
    code = service.Run();
  }
  done.store(true);
  pthread_kill(waiter.native_handle(), SIGUSR1);
  waiter.join();
  return code;
}

}  // namespace klaxon::cli
