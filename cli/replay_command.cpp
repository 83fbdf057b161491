// `klaxon replay RULES... --events FILE`: the dry run. Runs the very evaluator that
// `klaxon run` runs, with event time as its clock, over a recorded JSON Lines log, and prints
// every notification in event-time order. Actions are never called.
#include <algorithm>
#include <chrono>
#include <climits>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <ostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/config.h"
#include "cli/decoding_reader.h"
#include "cli/event_time.h"
#include "cli/flags.h"
#include "cli/input_summary.h"
#include "cli/notification_output.h"
#include "cli/payload_preview.h"
#include "cli/replay_report_builder.h"
#include "cli/rule_files.h"
#include "connectors/file_source.h"
#include "engine/closest_match.h"
#include "engine/engine.h"
#include "engine/time_format.h"
#include "report/replay_report.h"
#include "service/ahead_of_clock.h"
#include "service/evaluator.h"

namespace klaxon::cli {
namespace {

constexpr std::string_view kReplayUsage =
    "usage: klaxon replay RULES... --events FILE [options]\n"
    "\n"
    "Dry-runs rules (files or folders) over a recorded event log (JSON Lines, gzip allowed,\n"
    "'-' for stdin) and prints every notification in event-time order, then a per-rule table.\n"
    "\n"
    "options:\n"
    "  --events FILE             the event log (required)\n"
    "  --format text|json        json: one notification object per line, nothing else\n"
    "  --until TIME              replay up to TIME (RFC 3339 or Unix seconds): events stamped\n"
    "                            later are skipped (counted on stderr), and the clock runs on\n"
    "                            to TIME, so resolves and flatlines due by then show\n"
    "  --explain                 add window bounds, threshold and the firing events' ids\n"
    "  --payloads                show the exact requests each action would send\n"
    "  --allowed-lateness D      out-of-order tolerance (default 5s; units as in rule files)\n"
    "  --future-limit D          events stamped more than D ahead of this machine's clock are\n"
    "                            rejected (future_timestamp), as engine.future_limit does in\n"
    "                            `klaxon run` (default 1h); accepted ones further ahead than the\n"
    "                            allowed lateness are reported on stderr\n"
    "  --max-groups N            groups per rule (default 100000)\n"
    "  --timestamp-field PATH    event time field (default timestamp)\n"
    "  --max-event-size BYTES    larger events are rejected (default 1MiB)\n"
    "  --rule NAME               only this rule (repeatable)\n"
    "  --since TIME              show only notifications at or after TIME; events before it\n"
    "                            are still evaluated, so windows are full as in production\n"
    "  --report FILE             also write a self-contained HTML report: per rule its value\n"
    "                            over time against the threshold, firing periods, episodes\n"
    "\n"
    "On stderr, every run: events read, rejected (by reason), late, and groups dropped per rule.\n"
    "Exit status: 0 replayed (whatever fired), 1 the rules have problems, 2 usage or I/O error\n"
    "(a bad flag, a rule file or event log that cannot be read).\n";

struct RejectedLine {
  int64_t line;
  RejectReason reason;
};

}  // namespace

int RunReplay(const Args& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> rule_paths;
  std::string events;
  std::string format = "text";
  std::optional<int64_t> until;
  bool explain = false;
  bool payloads = false;
  std::vector<std::string> only_rules;
  std::optional<int64_t> since;
  std::string report_path;
  EngineOptions options;
  FlagParser flags("replay", kReplayUsage);
  flags.Value("--events", [&](const std::string& v) {
    events = v;
    return Status::Ok();
  });
  flags.Value("--format", [&](const std::string& v) {
    if (v != "text" && v != "json") return Status::InvalidArgument("must be text or json");
    format = v;
    return Status::Ok();
  });
  flags.Value("--until", [&](const std::string& v) {
    Result<int64_t> t = ParseEventTime(v);
    if (!t.ok()) return t.status();
    until = *t;
    return Status::Ok();
  });
  flags.Value("--rule", [&](const std::string& v) {
    only_rules.push_back(v);
    return Status::Ok();
  });
  flags.Value("--since", [&](const std::string& v) {
    Result<int64_t> t = ParseEventTime(v);
    if (!t.ok()) return t.status();
    since = *t;
    return Status::Ok();
  });
  flags.Value("--report", [&](const std::string& v) {
    if (v.empty()) return Status::InvalidArgument("name the HTML file to write");
    report_path = v;
    return Status::Ok();
  });
  flags.Switch("--explain", &explain);
  flags.Switch("--payloads", &payloads);
  flags.Duration("--allowed-lateness", &options.allowed_lateness_ms);
  int64_t future_limit_ms = kDefaultFutureLimitMs;
  flags.Duration("--future-limit", &future_limit_ms);
  flags.Value("--max-groups", [&](const std::string& v) {
    Result<int64_t> n = ParseCount(v, 1, 100000000);
    if (!n.ok()) return n.status();
    options.max_groups_per_rule = static_cast<size_t>(*n);
    return Status::Ok();
  });
  flags.Value("--timestamp-field", [&](const std::string& v) {
    if (v.empty() || v.front() == '.' || v.back() == '.' || v.find("..") != std::string::npos) {
      return Status::InvalidArgument("must be a dotted field path such as timestamp");
    }
    options.timestamp_path.clear();
    size_t start = 0;
    while (true) {
      const size_t dot = v.find('.', start);
      options.timestamp_path.push_back(v.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return Status::Ok();
  });
  flags.Value("--max-event-size", [&](const std::string& v) {
    Result<int64_t> n = ParseBytes(v);
    if (!n.ok()) return n.status();
    if (*n <= 0) return Status::InvalidArgument("must be more than 0");
    options.max_event_bytes = static_cast<size_t>(*n);
    return Status::Ok();
  });
  if (std::optional<int> done = flags.Parse(args, rule_paths, out, err)) return *done;
  if (rule_paths.empty() || events.empty()) {
    err << kReplayUsage;
    return 2;
  }
  if (since && until && *since > *until) {
    return flags.UsageError(
        "--since " + FormatTimeMs(*since) + " is after --until " + FormatTimeMs(*until), err);
  }
  options.explain = explain;
  // The one clock read of a replay: events stamped beyond it by more than the future limit are
  // outliers (rejected as `klaxon run` rejects them), not the future.
  const int64_t clock_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  options.max_event_time_ms =
      clock_ms > INT64_MAX - future_limit_ms ? INT64_MAX : clock_ms + future_limit_ms;
  service::AheadOfClock ahead_of_clock(options.allowed_lateness_ms, future_limit_ms,
                                       "--future-limit (engine.future_limit)");

  Result<LoadedRules> loaded = LoadRules(rule_paths, err);
  if (!loaded.ok()) {
    err << "klaxon replay: " << loaded.status().message() << "\n";
    return ExitCodeFor(loaded.status());
  }
  if (loaded->rules.rules.empty()) {
    err << "klaxon replay: " << NoRulesIn(loaded->files) << ": nothing to evaluate\n";
    return kExitProblems;
  }
  if (!only_rules.empty()) {
    std::vector<std::string> names;
    for (const Rule& r : loaded->rules.rules) names.push_back(r.name);
    std::vector<Rule> kept;
    for (const std::string& want : only_rules) {
      auto it = std::find_if(loaded->rules.rules.begin(), loaded->rules.rules.end(),
                             [&](const Rule& r) { return r.name == want; });
      if (it == loaded->rules.rules.end()) {
        const std::string best = ClosestMatch(want, names);
        err << "klaxon replay: --rule: no rule `" << want << "`"
            << (best.empty() ? "" : "; did you mean `" + best + "`?") << "\n";
        return kExitUsage;
      }
      if (std::none_of(kept.begin(), kept.end(), [&](const Rule& r) { return r.name == want; })) {
        kept.push_back(*it);
      }
    }
    loaded->rules.rules = std::move(kept);
  }
  std::unique_ptr<PayloadPreviewer> previewer;
  if (payloads) {
    Result<std::unique_ptr<PayloadPreviewer>> p = PayloadPreviewer::Create(loaded->rules);
    if (!p.ok()) {
      err << "klaxon replay: --payloads: " << p.status().message() << "\n";
      return 1;
    }
    previewer = std::move(p).value();
  }
  connectors::FileSourceOptions source_options;
  source_options.path = events;
  source_options.max_line_bytes = options.max_event_bytes + 1;
  Result<std::unique_ptr<connectors::FileSource>> source =
      connectors::FileSource::Open(source_options);
  if (!source.ok()) {
    err << "klaxon replay: " << source.status().message() << "\n";
    return kExitUsage;  // the event log cannot be opened
  }
  Result<std::unique_ptr<Engine>> engine = Engine::Create(loaded->rules, options);
  if (!engine.ok()) {
    err << "klaxon replay: " << engine.status().message() << "\n";
    return 1;
  }
  const RuleSet& rules = (*engine)->Rules();
  NoiseTable table(rules);
  std::vector<Notification> notes;
  std::vector<RejectedLine> rejected;
  InputSummary summary;
  uint64_t after_until = 0;              // events stamped after --until, not replayed
  std::vector<uint64_t> matched_before;  // --since: each rule's matches before it
  int64_t last_event_time = INT64_MIN;
  int64_t last_time = 0;
  int64_t first_time = INT64_MAX;
  std::unique_ptr<ReplayReportBuilder> report;
  if (!report_path.empty()) report = std::make_unique<ReplayReportBuilder>(rules);
  // --since: episodes firing before it and still firing at it are carried in, from their real
  // start, so the table and the report do not show them as never having fired.
  std::map<std::pair<uint32_t, std::vector<std::optional<std::string>>>, Notification> open_before;
  bool carried = !since.has_value();
  auto carry = [&] {
    if (carried) return;
    carried = true;
    for (const auto& [key, firing] : open_before) {
      table.AddOpen(firing, *since);
      if (report) report->AddOpen(firing);
    }
    open_before.clear();
  };
  auto emit = [&] {
    for (const Notification& n : notes) {
      if (since && n.at_ms < *since) {
        if (!HasEpisodes(rules.rules[n.rule_index].condition)) continue;
        const auto key = std::make_pair(n.rule_index, n.group);
        if (n.state == AlertState::kFiring) open_before[key] = n;
        if (n.state == AlertState::kResolved) open_before.erase(key);
        continue;
      }
      carry();
      const Rule& rule = rules.rules[n.rule_index];
      if (report) report->Add(n);
      table.Add(n);
      last_time = std::max(last_time, n.at_ms);
      if (format == "json") {
        nlohmann::ordered_json j = NotificationJson(rule, n, explain);
        if (previewer) j["requests"] = previewer->Preview(n);
        out << j.dump() << "\n";
      } else {
        out << NotificationText(rule, n, explain) << "\n";
        if (previewer) out << previewer->PreviewText(n);
      }
    }
    notes.clear();
  };
  // Reading and decoding run on two worker threads; evaluation stays here, in input order.
  // The evaluation stage of `klaxon run` (service/evaluator.h), on one ordered input.
  service::Evaluator evaluator(engine->get(), nullptr, options.allowed_lateness_ms);
  const Engine& decoders_for = **engine;
  DecodingReader reader(
      **source, [&] { return decoders_for.NewDecoder(); }, 2);
  while (true) {
    Result<DecodingReader::Item*> next = reader.Next();
    if (!next.ok()) {
      err << "klaxon replay: " << next.status().message() << "\n";
      return kExitUsage;  // the event log cannot be read
    }
    DecodingReader::Item* item = *next;
    if (item == nullptr) break;
    // --until earlier than the log's end: what comes after it is not replayed (counted on stderr).
    if (until && item->reason == RejectReason::kNone && !item->truncated &&
        item->event.time_ms > *until) {
      ++after_until;
      continue;
    }
    const ProcessResult r = evaluator.Event(item->event, item->reason, item->truncated, {}, notes);
    // --since: each rule's matches before it, once event time has passed it.
    if (since && matched_before.empty() && (*engine)->Watermark() >= *since) {
      for (const RuleStats& rs : (*engine)->Stats().rules) matched_before.push_back(rs.matches);
    }
    const RejectReason reason = r.rejected;
    if (reason == RejectReason::kNone) {
      if (!r.late) ahead_of_clock.Observe(r.event_time_ms, clock_ms);
      last_time = std::max(last_time, r.event_time_ms);
      first_time = std::min(first_time, r.event_time_ms);
      last_event_time = std::max(last_event_time, r.event_time_ms);
      if (report && (!since || r.event_time_ms >= *since)) report->Event(r.event_time_ms);
    }
    if (report) report->Sample(**engine);
    summary.Count(reason, r.late);
    if (reason != RejectReason::kNone && rejected.size() < 20) {
      rejected.push_back({item->offset, reason});
    }
    emit();
  }
  evaluator.Finish(until, notes);  // what lateness held back, then what --until releases
  emit();
  carry();
  if (since && matched_before.empty() && (*engine)->Watermark() < *since) {
    for (const RuleStats& rs : (*engine)->Stats().rules) matched_before.push_back(rs.matches);
  }
  if (until) last_time = std::max(last_time, *until);
  if (format == "text") {
    if (summary.read > 0) out << "\n";
    table.Print(out, (*engine)->Stats(), last_time, matched_before);
  }
  if (report) {
    report->Sample(**engine);
    report->SetMatchedBefore(matched_before);
    report::ReplayReportData data = report->Build(**engine, last_time);
    data.rule_files = loaded->files;
    data.events = events;
    data.events_read = summary.read;
    data.events_rejected = summary.rejected_total();
    data.events_late = summary.late;
    std::ofstream file(report_path, std::ios::binary | std::ios::trunc);
    file << report::RenderReplayReport(data);
    file.close();
    if (!file) {
      err << "klaxon replay: --report: cannot write " << report_path << "\n";
      return kExitUsage;
    }
  }

  // Every run, even a clean one: silence must mean nothing was lost, not "not told".
  summary.AddGroupsDropped((*engine)->Stats());
  err << FormatInputSummary("replay", summary, rules, options,
                            {"--allowed-lateness", "--max-groups"});
  if (const std::string ahead = ahead_of_clock.Summary(); !ahead.empty()) {
    err << "klaxon replay: " << ahead << "\n";
  }
  if (!rejected.empty()) err << "klaxon replay: rejected lines:\n";
  for (const RejectedLine& r : rejected) {
    err << fmt::format("  line {}: {}\n", r.line, RejectReasonName(r.reason));
  }
  if (summary.rejected_total() > rejected.size()) {
    err << fmt::format("  ... and {} more rejected\n", summary.rejected_total() - rejected.size());
  }
  // After the summary, whose first line scripts read.
  if (first_time != INT64_MAX) {
    err << fmt::format("klaxon replay: events from {} to {}\n", FormatTimeMs(first_time),
                       FormatTimeMs(last_event_time));
  }
  if (after_until > 0) {
    err << fmt::format("klaxon replay: {} event(s) stamped after --until {} not replayed\n",
                       after_until, FormatTimeMs(*until));
  }
  return 0;
}

}  // namespace klaxon::cli
