// log: one JSON line per notification, to stdout or appended to a file.
#include <fstream>
#include <iostream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "actions/action_args.h"
#include "actions/render.h"

namespace klaxon::actions {
namespace {

using nlohmann::json;

class LogAction final : public Action {
 public:
  LogAction(const ActionDef& def, const ActionArgs& args, const ActionOptions& options)
      : Action(def.name, "log") {
    path_ = args.String("path", "-");
    send_resolved_ = args.Bool("send_resolved", true);
    stream_ = options.log_stream != nullptr ? options.log_stream : &std::cout;
    target_ = path_ == "-" ? "stdout" : path_;
  }

  std::optional<Prepared> Prepare(const Notification& n, const Rule& rule) const override {
    if (n.state == AlertState::kResolved && !send_resolved_) return std::nullopt;
    const RenderContext ctx(n, rule);
    json group = json::object();
    for (const auto& [k, v] : ctx.group()) group[k] = v;
    json line = {{"at", FormatIso8601(n.at_ms)},
                 {"rule", ctx.Get("rule.name").value_or("")},
                 {"severity", SeverityName(rule.severity)},
                 {"state", AlertStateName(n.state)},
                 {"group", group},
                 {"value", n.value},
                 {"threshold", n.threshold},
                 {"window", FormatWindow(n.window_ms)},
                 {"summary", ctx.Summary()},
                 {"episode_start", FormatIso8601(n.episode_start_ms)},
                 {"repeat", n.repeat_index},
                 {"idempotency_key", IdempotencyKey(n)}};
    if (auto id = ctx.Get("event.event_id"); id && !id->empty()) line["event_id"] = *id;
    // One order chain for the whole action: lines are written in enqueue order even with
    // several workers (a file is read top to bottom).
    return Prepared{name_, IdempotencyKey(n), "log", AlertStateName(n.state), DumpJson(line)};
  }

  Result<std::vector<HttpRequest>> Requests(const Prepared& p, int64_t /*now_ms*/,
                                            bool /*mask*/) const override {
    HttpRequest r;
    r.method = "WRITE";
    r.url = target_;
    r.body = p.payload;
    return std::vector<HttpRequest>{std::move(r)};
  }

  DeliveryResult Deliver(const Prepared& p, Transport& /*transport*/,
                         int64_t /*now_ms*/) const override {
    std::lock_guard lock(mu_);
    if (path_ == "-") {
      *stream_ << p.payload << '\n';
      stream_->flush();
      if (!*stream_) return {DeliveryResult::Kind::kRetry, "io", -1, "cannot write to stdout"};
      return {DeliveryResult::Kind::kAccepted, "ok", -1, ""};
    }
    std::ofstream file(path_, std::ios::app);
    file << p.payload << '\n';
    file.flush();
    if (!file) return {DeliveryResult::Kind::kRetry, "io", -1, "cannot append to " + path_};
    return {DeliveryResult::Kind::kAccepted, "ok", -1, ""};
  }

 private:
  std::string path_;
  std::ostream* stream_;
  mutable std::mutex mu_;  // one line at a time from concurrent workers
};

}  // namespace

Result<std::unique_ptr<Action>> CreateLogAction(const ActionDef& def, const SecretResolver& secrets,
                                                const ActionOptions& options) {
  auto args = ActionArgs::Resolve(def, secrets);
  if (!args.ok()) return args.status();
  return std::unique_ptr<Action>(new LogAction(def, *args, options));
}

}  // namespace klaxon::actions
