// `klaxon silence add|list|expire`: manages the silences of a running `klaxon run` through its
// admin API, as amtool does Alertmanager's.
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "actions/silence.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "engine/duration.h"
#include "engine/event_decoder.h"
#include "engine/time_format.h"

namespace klaxon::cli {
namespace {

constexpr std::string_view kSilenceUsage =
    "usage: klaxon silence add MATCHER... --comment TEXT [options]\n"
    "       klaxon silence list [options]\n"
    "       klaxon silence expire ID... [options]\n"
    "\n"
    "Mutes notifications of a running `klaxon run` during maintenance, as Alertmanager's\n"
    "silences do: matching notifications are still computed and shown on the status page,\n"
    "not delivered. A MATCHER is name=value, name!=value, name=~regex or name!~regex over the\n"
    "alert's labels: alertname (the rule), severity, the rule's group-by fields and its labels;\n"
    "a regex (RE2 syntax) matches the whole value. Example:\n"
    "  klaxon silence add alertname=orders-db-errors 'environment=~\"staging|dev\"' \\\n"
    "      --duration 2h --comment \"database maintenance\"\n"
    "\n"
    "options:\n"
    "  --url URL          the admin server (default $KLAXON_URL, else http://127.0.0.1:9464)\n"
    "  --token-file PATH  bearer token for add and expire (admin.token_file of the service)\n"
    "  --comment TEXT     add: why (required)\n"
    "  --author NAME      add: who (default $USER, else the login name)\n"
    "  --duration D       add: how long from its start (default 1h; e.g. 30m, 2h, 1d)\n"
    "  --start TIME       add: RFC 3339 start (default now)\n"
    "  --end TIME         add: RFC 3339 end, instead of --duration\n"
    "  --expired          list: also list expired silences\n"
    "  --timeout D        how long to wait for the server (default 10s)\n"
    "\n"
    "Exit status: 0 done, 1 the server refused (a bad matcher, an unknown id), 2 usage error\n"
    "or the server cannot be reached.\n";

struct Target {
  std::string scheme_host_port;
  std::string token;
  int64_t timeout_ms = 10000;
};

std::unique_ptr<httplib::Client> MakeClient(const Target& t) {
  auto client = std::make_unique<httplib::Client>(t.scheme_host_port);
  const auto timeout = std::chrono::milliseconds(t.timeout_ms);
  client->set_connection_timeout(timeout);
  client->set_read_timeout(timeout);
  client->set_write_timeout(timeout);
  if (!t.token.empty()) client->set_bearer_token_auth(t.token);
  return client;
}

// The server's answer: 0 for 2xx, 1 with its error for 4xx/5xx, 2 when unreachable.
int Check(const httplib::Result& res, const Target& t, std::string& body, std::ostream& err) {
  if (!res) {
    err << "klaxon silence: cannot reach " << t.scheme_host_port << ": "
        << httplib::to_string(res.error()) << "\n";
    return 2;
  }
  body = res->body;
  if (res->status >= 200 && res->status < 300) return 0;
  const nlohmann::json j = nlohmann::json::parse(res->body, nullptr, false);
  std::string message = j.is_object() && j.contains("error") && j["error"].is_string()
                            ? j["error"].get<std::string>()
                            : res->body.substr(0, 512);
  err << "klaxon silence: " << t.scheme_host_port << " answered " << res->status << ": " << message
      << "\n";
  return 1;
}

std::string MatchersText(const nlohmann::json& matchers) {
  std::string out;
  if (!matchers.is_array()) return out;
  for (const nlohmann::json& m : matchers) {
    const bool regex = m.value("isRegex", false);
    const bool equal = m.value("isEqual", true);
    actions::SilenceMatcher shown;
    shown.name = m.value("name", "");
    shown.value = m.value("value", "");
    shown.op = regex ? (equal ? actions::SilenceMatcher::Op::kRegex
                              : actions::SilenceMatcher::Op::kNotRegex)
                     : (equal ? actions::SilenceMatcher::Op::kEqual
                              : actions::SilenceMatcher::Op::kNotEqual);
    out += (out.empty() ? "" : " ") + actions::FormatMatcher(shown);
  }
  return out;
}

// Who runs the command, for --author's default: $USER, else the account's name (containers,
// cron and systemd units often have no $USER).
std::string LoginName() {
  const char* user = std::getenv("USER");
  if (user != nullptr && *user != '\0') return user;
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr) {
    return found->pw_name;
  }
  return "";
}

}  // namespace

int RunSilence(const Args& args, std::ostream& out, std::ostream& err) {
  Target target;
  const char* env_url = std::getenv("KLAXON_URL");
  std::string url = env_url != nullptr && *env_url != '\0' ? env_url : "http://127.0.0.1:9464";
  std::string token_file;
  std::string comment;
  std::string author = LoginName();
  int64_t duration_ms = 3600000;
  bool duration_set = false;
  std::string start_text;
  std::string end_text;
  bool expired = false;
  FlagParser flags("silence", kSilenceUsage);
  auto store = [](std::string& to) {
    return [&to](const std::string& v) {
      to = v;
      return Status::Ok();
    };
  };
  flags.Value("--url", store(url));
  flags.Value("--token-file", store(token_file));
  flags.Value("--comment", store(comment));
  flags.Value("--author", store(author));
  flags.Value("--start", store(start_text));
  flags.Value("--end", store(end_text));
  flags.Value("--duration", [&](const std::string& v) -> Status {
    Result<int64_t> d = ParseDurationMs(v);
    if (!d.ok()) return d.status();
    if (*d <= 0) return Status::InvalidArgument("must be positive");
    duration_ms = *d;
    duration_set = true;
    return Status::Ok();
  });
  flags.Switch("--expired", &expired);
  flags.Duration("--timeout", &target.timeout_ms);
  std::vector<std::string> positional;
  if (std::optional<int> done = flags.Parse(args, positional, out, err)) return *done;
  if (positional.empty()) {
    err << kSilenceUsage;
    return 2;
  }
  const std::string sub = positional.front();
  positional.erase(positional.begin());

  // http://HOST:PORT[/]; the admin API is plain HTTP (put TLS in front of it if needed).
  if (!url.starts_with("http://")) return flags.UsageError("--url: an http:// URL", err);
  while (!url.empty() && url.back() == '/') url.pop_back();
  target.scheme_host_port = url;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) return flags.UsageError("--token-file: cannot read " + token_file, err);
    std::getline(in, target.token);
    while (!target.token.empty() && (target.token.back() == '\r' || target.token.back() == ' ')) {
      target.token.pop_back();
    }
  }
  std::unique_ptr<httplib::Client> client = MakeClient(target);
  std::string body;

  if (sub == "add") {
    if (positional.empty()) return flags.UsageError("add: name at least one MATCHER", err);
    if (comment.empty()) return flags.UsageError("add: --comment says why", err);
    if (author.empty())
      return flags.UsageError("add: --author NAME says who silences (no login name found)", err);
    nlohmann::json matchers = nlohmann::json::array();
    for (const std::string& text : positional) {
      // One matcher per argument, or a selector `{a="b", c=~"d.*"}` as amtool takes it.
      Result<std::vector<actions::SilenceMatcher>> parsed = actions::ParseMatchers(text);
      if (!parsed.ok()) return flags.UsageError(parsed.status().message(), err);
      for (const actions::SilenceMatcher& one : *parsed) {
        const actions::SilenceMatcher* m = &one;
        const bool regex = m->op == actions::SilenceMatcher::Op::kRegex ||
                           m->op == actions::SilenceMatcher::Op::kNotRegex;
        const bool equal = m->op == actions::SilenceMatcher::Op::kEqual ||
                           m->op == actions::SilenceMatcher::Op::kRegex;
        matchers.push_back(
            {{"name", m->name}, {"value", m->value}, {"isRegex", regex}, {"isEqual", equal}});
      }
    }
    nlohmann::json silence = {{"matchers", matchers}, {"createdBy", author}, {"comment", comment}};
    // The end is computed here, from this machine's clock, as amtool does.
    int64_t start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    if (!start_text.empty()) {
      const std::optional<int64_t> start = ParseRfc3339(start_text);
      if (!start) return flags.UsageError("--start: an RFC 3339 time", err);
      start_ms = *start;
      silence["startsAt"] = FormatTimeMs(start_ms);
    }
    if (!end_text.empty()) {
      if (duration_set) return flags.UsageError("--end and --duration exclude each other", err);
      const std::optional<int64_t> end = ParseRfc3339(end_text);
      if (!end) return flags.UsageError("--end: an RFC 3339 time", err);
      silence["endsAt"] = FormatTimeMs(*end);
    } else {
      silence["endsAt"] = FormatTimeMs(start_ms + duration_ms);
    }
    if (int rc = Check(client->Post("/api/v1/silences", silence.dump(), "application/json"), target,
                       body, err);
        rc != 0) {
      return rc;
    }
    const nlohmann::json answer = nlohmann::json::parse(body, nullptr, false);
    if (!answer.is_object() || !answer.contains("silenceID") || !answer["silenceID"].is_string()) {
      err << "klaxon silence: " << url << " answered without a silence id\n";
      return 2;
    }
    out << answer["silenceID"].get<std::string>() << "\n";
    return 0;
  }
  if (sub == "list") {
    if (!positional.empty()) return flags.UsageError("list takes no arguments", err);
    if (int rc = Check(client->Get("/api/v1/silences"), target, body, err); rc != 0) return rc;
    const nlohmann::json list = nlohmann::json::parse(body, nullptr, false);
    if (!list.is_array()) {
      err << "klaxon silence: " << url << " answered something that is not a silence list\n";
      return 2;
    }
    out << fmt::format("{:<36}  {:<8}  {:<24}  {:<24}  {:<12}  {}\n", "ID", "STATE", "STARTS",
                       "ENDS", "CREATED BY", "MATCHERS / COMMENT");
    for (const nlohmann::json& s : list) {
      if (!s.is_object()) continue;
      const std::string state =
          s.contains("status") && s["status"].is_object() ? s["status"].value("state", "") : "";
      if (state == "expired" && !expired) continue;
      out << fmt::format("{:<36}  {:<8}  {:<24}  {:<24}  {:<12}  {}\n", s.value("id", ""), state,
                         s.value("startsAt", ""), s.value("endsAt", ""), s.value("createdBy", ""),
                         MatchersText(s.value("matchers", nlohmann::json())));
      out << fmt::format("{:<36}  {}\n", "", s.value("comment", ""));
    }
    return 0;
  }
  if (sub == "expire") {
    if (positional.empty()) return flags.UsageError("expire: name at least one silence ID", err);
    int worst = 0;
    for (const std::string& id : positional) {
      const int rc = Check(client->Delete("/api/v1/silences/" + id), target, body, err);
      if (rc == 0) out << "expired " << id << "\n";
      worst = std::max(worst, rc);
    }
    return worst;
  }
  return flags.UsageError("unknown subcommand `" + sub + "`: add, list or expire", err);
}

}  // namespace klaxon::cli
