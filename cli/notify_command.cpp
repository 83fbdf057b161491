// `klaxon notify RULES... --action NAME`: sends one test notification through the real path
// (the action's payload builder, the durable outbox, the dispatcher with its retries and SSRF
// guard) and reports what the receiver answered. For checking a webhook URL or routing key
// before an alert depends on it.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <ostream>

#include <fmt/format.h>

#include "actions/dispatcher.h"
#include "actions/http_client.h"
#include "actions/outbox.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/flags.h"
#include "cli/rule_files.h"
#include "cli/secrets.h"
#include "clock/clock.h"
#include "engine/time_format.h"

namespace klaxon::cli {
namespace {

constexpr std::string_view kNotifyUsage =
    "usage: klaxon notify RULES... --action NAME [options]\n"
    "\n"
    "Sends one test notification through the action NAME, the way `klaxon run` would: the\n"
    "same payload, signing, outbox, retries and address checks. Secrets come from the\n"
    "environment or files, as in the rule file.\n"
    "\n"
    "options:\n"
    "  --action NAME       the action to test (required)\n"
    "  --rule NAME         a rule whose summary and labels to use (default: the first rule\n"
    "                      that notifies NAME, else a built-in test rule)\n"
    "  --state STATE       firing (default) or resolved\n"
    "  --allow CIDR|HOST   also allow this internal destination (repeatable)\n"
    "  --timeout D         how long to wait for the receiver (default 30s; e.g. 90s, 2min)\n"
    "  --outbox PATH       outbox file (default: a temporary file, removed afterwards)\n"
    "\n"
    "Exit status: 0 the receiver accepted it, 1 not delivered or the rules have problems,\n"
    "2 usage or I/O error (a bad flag, an unknown --action or --rule, an unreadable file).\n";

}  // namespace

int RunNotify(const Args& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> rule_paths;
  std::string action_name;
  std::string rule_name;
  std::string state = "firing";
  std::vector<std::string> allow;
  int64_t timeout_ms = 30000;
  std::string outbox_path;
  FlagParser flags("notify", kNotifyUsage);
  auto store = [](std::string& to) {
    return [&to](const std::string& v) {
      to = v;
      return Status::Ok();
    };
  };
  flags.Value("--action", store(action_name));
  flags.Value("--rule", store(rule_name));
  flags.Value("--state", store(state));
  flags.Value("--outbox", store(outbox_path));
  flags.Value("--allow", [&](const std::string& v) {
    allow.push_back(v);
    return Status::Ok();
  });
  flags.Duration("--timeout", &timeout_ms);
  if (std::optional<int> done = flags.Parse(args, rule_paths, out, err)) return *done;
  if (rule_paths.empty() || action_name.empty()) {
    err << kNotifyUsage;
    return 2;
  }
  if (state != "firing" && state != "resolved") {
    err << "klaxon notify: --state must be firing or resolved\n";
    return 2;
  }
  Result<LoadedRules> loaded = LoadRules(rule_paths, err);
  if (!loaded.ok()) {
    err << "klaxon notify: " << loaded.status().message() << "\n";
    return ExitCodeFor(loaded.status());
  }
  const RuleSet& rules = loaded->rules;
  const ActionDef* def = nullptr;
  for (const ActionDef& d : rules.actions) {
    if (d.name == action_name) def = &d;
  }
  if (def == nullptr) {
    std::string names;
    for (const ActionDef& d : rules.actions) names += (names.empty() ? "" : ", ") + d.name;
    err << "klaxon notify: no action `" << action_name << "`; defined actions: " << names << "\n";
    return kExitUsage;  // --action names what is not there
  }
  Rule test_rule;
  test_rule.name = "klaxon-test-notification";
  test_rule.id = "0000000000000000";
  test_rule.severity = Severity::kInfo;
  test_rule.summary = "Test notification from klaxon notify";
  const Rule* rule = nullptr;
  uint32_t rule_index = 0;
  for (uint32_t i = 0; i < rules.rules.size(); ++i) {
    const Rule& r = rules.rules[i];
    const bool uses = std::find(r.actions.begin(), r.actions.end(), action_name) != r.actions.end();
    if ((rule_name.empty() && uses && rule == nullptr) || r.name == rule_name) {
      rule = &r;
      rule_index = i;
    }
  }
  if (!rule_name.empty() && rule == nullptr) {
    err << "klaxon notify: no rule `" << rule_name << "`\n";
    return kExitUsage;
  }
  if (rule == nullptr) rule = &test_rule;

  actions::ActionOptions action_options;
  Result<std::unique_ptr<actions::Action>> action =
      actions::CreateAction(*def, MakeSecretResolver(ProcessEnv(), ""), action_options);
  if (!action.ok()) {
    err << "klaxon notify: action " << action_name << ": " << action.status().message() << "\n";
    return 1;
  }
  // The only clock read of this command: the test notification happens now.
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  Notification n;
  n.at_ms = now;
  n.rule_index = rule_index;
  n.rule_name = rule->name;
  n.rule_id = rule->id;
  n.state = state == "firing" ? AlertState::kFiring : AlertState::kResolved;
  n.group.assign(rule->group_by.size(), std::string("test"));
  n.value = rule->condition.threshold + 1;
  n.threshold = rule->condition.threshold;
  n.window_ms = rule->condition.window_ms;
  // A fresh episode per invocation, so receivers that de-duplicate still show each test.
  n.episode_start_ms = now;
  n.window_start_ms = now - n.window_ms;
  n.window_end_ms = now;
  n.event_json = fmt::format(
      R"({{"event_id":"{:032x}","message":"Test notification from klaxon notify","level":"info",)"
      R"("tags":{{"service":"klaxon"}},"timestamp":{}}})",
      static_cast<uint64_t>(now), static_cast<double>(now) / 1000.0);

  std::optional<actions::Prepared> prepared = (*action)->Prepare(n, *rule);
  if (!prepared) {
    err << "klaxon notify: action " << action_name << " does not send " << state
        << " notifications (send_resolved: false)\n";
    return 1;
  }
  const bool temp_outbox = outbox_path.empty();
  if (temp_outbox) {
    outbox_path = (std::filesystem::temp_directory_path() /
                   fmt::format("klaxon-notify-{}-{}.db", getpid(), now))
                      .string();
  }
  int code = 1;
  {
    Result<std::unique_ptr<actions::Outbox>> outbox = actions::Outbox::Open(outbox_path);
    if (!outbox.ok()) {
      err << "klaxon notify: " << outbox.status().message() << "\n";
      return kExitUsage;  // the outbox file cannot be opened
    }
    actions::HttpClientOptions http;
    http.allow = allow;
    // The whole exchange fits in --timeout: a receiver trickling its answer cannot hold the
    // command past it (the per-read timeout alone would).
    http.request_deadline_ms = std::min(http.request_deadline_ms, timeout_ms);
    Result<std::unique_ptr<actions::SafeHttpClient>> client = actions::SafeHttpClient::Create(http);
    if (!client.ok()) {
      err << "klaxon notify: " << client.status().message() << "\n";
      return 2;
    }
    SystemClock clock;
    actions::DispatcherOptions options;
    options.workers = 1;
    options.log = [&err](LogLevel, const std::string& m) { err << "klaxon notify: " << m << "\n"; };
    Result<std::unique_ptr<actions::Dispatcher>> dispatcher =
        actions::Dispatcher::Start(**outbox, {action->get()}, **client, clock, options);
    if (!dispatcher.ok()) {
      err << "klaxon notify: " << dispatcher.status().message() << "\n";
      return 1;
    }
    out << "sending a " << state << " test notification through " << (*action)->Describe() << "\n";
    Result<actions::DeliveryResult> result = (*dispatcher)->SendAndWait(*prepared, timeout_ms);
    (*dispatcher)->Stop();
    if (!result.ok()) {
      err << "klaxon notify: " << result.status().message() << "\n";
    } else if (result->kind == actions::DeliveryResult::Kind::kAccepted) {
      out << "accepted by the receiver\n";
      code = 0;
    } else {
      err << "klaxon notify: not delivered: " << result->reason
          << (result->detail.empty() ? "" : ": " + result->detail) << "\n";
    }
  }
  if (temp_outbox) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(outbox_path + suffix, ec);
    }
  }
  return code;
}

}  // namespace klaxon::cli
