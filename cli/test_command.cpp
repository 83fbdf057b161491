// `klaxon test FILE...`: unit tests for rules, in the spirit of `promtool test rules`.
//
// A test file (YAML) names rule files, gives input events with times relative to `start`, and
// lists the notifications it expects. Each test case runs a fresh engine: the same evaluator
// as `klaxon run` and `klaxon replay`, with event time as its clock.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <optional>
#include <ostream>
#include <sstream>
#include <string_view>
#include <tuple>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/config.h"
#include "cli/event_time.h"
#include "cli/flags.h"
#include "cli/input_summary.h"
#include "cli/notification_output.h"
#include "cli/rule_files.h"
#include "connectors/file_source.h"
#include "engine/closest_match.h"
#include "engine/engine.h"
#include "engine/time_format.h"
#include "rules-dsl/rules_dsl.h"
#include "rules-dsl/util.h"
#include "service/evaluator.h"
#include "service/notification_fields.h"

namespace klaxon::cli {
namespace {

constexpr std::string_view kTestUsage =
    "usage: klaxon test FILE...\n"
    "\n"
    "Runs rule unit tests (YAML); see docs/testing.md for the file format. Prints PASS or FAIL\n"
    "per case, `N passed, M failed`, and on stderr what each file's cases read (events,\n"
    "rejected by reason, late, groups dropped).\n"
    "\n"
    "Exit status: 0 all cases pass, 1 a case fails or a test file has problems (every problem\n"
    "of a file is reported, as file:line:col), 2 usage or I/O error (a file cannot be read).\n";

// Times in test files stay within what events can carry: up to 9999-12-31T23:59:59.999Z.
constexpr int64_t kMaxTimeMs = 253402300799999;
constexpr int64_t kMaxTimes = 1000000;
// A failing case shows at most this many diff lines (a run may produce millions).
constexpr size_t kMaxReportLines = 1000;

// Notification fields that a test compares.
struct Expected {
  int64_t at_ms = 0;
  std::string rule;
  std::string state;
  std::string group;  // canonical "{k=v, ...}", in the rule's `group by` order
  std::optional<double> value;
};

std::string Describe(const Expected& e, int64_t start_ms) {
  std::string s = fmt::format("at {} (+{}) {} {} {}", FormatTimeMs(e.at_ms),
                              FormatDurationMs(e.at_ms - start_ms), e.rule, e.state, e.group);
  if (e.value) s += " value " + service::FormatValue(*e.value);
  return s;
}

// Plain YAML scalars become JSON numbers, booleans and null; quoted ones stay strings.
nlohmann::json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json obj = nlohmann::json::object();
      for (const auto& kv : node) obj[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return obj;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& e : node) arr.push_back(YamlToJson(e));
      return arr;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() != "!") {
        if (s == "true") return true;
        if (s == "false") return false;
        if (s == "null" || s == "~") return nullptr;
        char* end = nullptr;
        errno = 0;
        const long long i = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && end == s.c_str() + s.size() && errno == 0) return i;
        const double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d)) return d;
      }
      return s;
    }
    default:
      return nullptr;
  }
}

std::string CanonicalGroup(const Rule& rule, const Notification& n) {
  std::string s = "{";
  for (size_t i = 0; i < rule.group_by.size(); ++i) {
    if (i > 0) s += ", ";
    const bool has = i < n.group.size() && n.group[i].has_value();
    s += rule.group_by[i].name + "=" + (has ? *n.group[i] : "null");
  }
  return s + "}";
}

struct EventSpec {
  int64_t at_ms = 0;
  int64_t every_ms = 0;
  int64_t times = 1;
  nlohmann::json body;
  int line = 0;  // for the generated event ids
};

struct CaseSpec {
  std::string name;
  std::vector<EventSpec> events;
  std::string events_file;  // resolved path; empty when none
  std::optional<int64_t> until_ms;
  std::vector<std::string> rules;  // compare only these; empty: all
  std::vector<Expected> expect;
  bool allow_rejected = false;
};

struct TestFile {
  RuleSet rules;
  int64_t start_ms = 0;
  EngineOptions options;
  std::vector<CaseSpec> cases;
};

// The nearest candidate (the rule checker's helper), or failing that the only one that starts
// like `word` (`fired` is three edits from `firing`).
std::string Suggest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best = ClosestMatch(word, candidates);
  if (!best.empty() || word.size() < 3) return best;
  for (const std::string& c : candidates) {
    if (c.starts_with(word.substr(0, 3))) {
      if (!best.empty()) return "";
      best = c;
    }
  }
  return best;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates,
                       std::string_view list_name) {
  const std::string best = Suggest(word, candidates);
  return (best.empty() ? "" : "did you mean `" + best + "`? ") + std::string(list_name) + ": " +
         rules_dsl::JoinNames(candidates);
}

// Reads a test file into a TestFile, collecting every problem as a `file:line:col` diagnostic
// in the rule checker's format, and carrying on after each (promtool rejects unknown fields;
// a typo must not silently test nothing).
class TestFileReader {
 public:
  TestFileReader(std::string path, std::string_view text) : path_(std::move(path)), text_(text) {}

  // False when a named file could not be read (an I/O error rather than a problem found).
  bool Read(const YAML::Node& doc, TestFile& out, std::ostream& err) {
    if (!doc.IsMap()) {
      Error(doc.Mark(), "a test file is a mapping with rule_files, start and tests");
      return true;
    }
    CheckKeys(doc, "the test file",
              {"rule_files", "start", "allowed_lateness", "max_groups_per_rule", "tests"});
    const std::filesystem::path base = std::filesystem::path(path_).parent_path();
    std::vector<std::string> rule_paths;
    const YAML::Node files = doc["rule_files"];
    if (!files || !files.IsSequence() || files.size() == 0) {
      Error(files ? files.Mark() : doc.Mark(), "rule_files: list the rule files under test");
    } else {
      for (const YAML::Node& f : files) {
        if (std::optional<std::string> p = Scalar(f, "rule_files")) {
          rule_paths.push_back(std::filesystem::path(*p).is_absolute()
                                   ? *p
                                   : (base / *p).lexically_normal().string());
        }
      }
    }
    bool io_ok = true;
    if (!rule_paths.empty()) {
      Result<LoadedRules> loaded = LoadRules(rule_paths, err);
      if (loaded.ok()) {
        out.rules = std::move(loaded->rules);
        rules_loaded_ = true;
      } else {
        const StatusCode code = loaded.status().code();
        io_ok = code != StatusCode::kNotFound && code != StatusCode::kIoError;
        Error(files.Mark(), "rule_files: " + loaded.status().message());
      }
    }
    for (const Rule& r : out.rules.rules) rule_names_.push_back(r.name);
    if (const YAML::Node n = doc["start"]) {
      if (std::optional<int64_t> t = Time(n, "start", 0)) out.start_ms = *t;
    }
    if (const YAML::Node n = doc["allowed_lateness"]) {
      if (std::optional<int64_t> d = Duration(n, "allowed_lateness")) {
        out.options.allowed_lateness_ms = *d;
      }
    }
    if (const YAML::Node n = doc["max_groups_per_rule"]) {
      if (std::optional<int64_t> g = Integer(n, "max_groups_per_rule", 1, 100000000)) {
        out.options.max_groups_per_rule = static_cast<size_t>(*g);
      }
    }
    const YAML::Node tests = doc["tests"];
    if (!tests || !tests.IsSequence()) {
      Error(tests ? tests.Mark() : doc.Mark(), "tests: list the test cases");
    } else {
      int index = 0;
      for (const YAML::Node& t : tests) ReadCase(t, ++index, base, out);
    }
    return io_ok && !io_failed_;
  }

  const std::vector<rules_dsl::Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  void Error(const YAML::Mark& mark, std::string message, std::string hint = "") {
    rules_dsl::Diagnostic d;
    d.file = path_;
    // An empty document has no position: point at its start.
    d.line = mark.is_null() ? 1 : mark.line + 1;
    d.column = mark.is_null() ? 1 : mark.column + 1;
    d.severity = "error";
    d.message = std::move(message);
    d.hint = std::move(hint);
    d.source_line = SourceLine(d.line);
    diagnostics_.push_back(std::move(d));
  }

  std::string SourceLine(int line) const {
    size_t at = 0;
    for (int i = 1; i < line && at != std::string_view::npos; ++i) {
      at = text_.find('\n', at);
      if (at != std::string_view::npos) ++at;
    }
    if (at == std::string_view::npos || at > text_.size()) return "";
    size_t end = text_.find('\n', at);
    if (end == std::string_view::npos) end = text_.size();
    if (end > at && text_[end - 1] == '\r') --end;
    return std::string(text_.substr(at, std::min<size_t>(end - at, 400)));
  }

  void CheckKeys(const YAML::Node& map, std::string_view where,
                 const std::vector<std::string>& known) {
    for (const auto& kv : map) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      Error(kv.first.Mark(), "unknown field `" + key + "` in " + std::string(where),
            DidYouMean(key, known, "fields"));
    }
  }

  std::optional<std::string> Scalar(const YAML::Node& n, std::string_view what) {
    if (!n.IsScalar()) {
      Error(n.Mark(), std::string(what) + " must be a single value");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<int64_t> Integer(const YAML::Node& n, std::string_view what, int64_t min,
                                 int64_t max) {
    std::optional<std::string> text = Scalar(n, what);
    if (!text) return std::nullopt;
    int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc() || ptr != text->data() + text->size() || v < min || v > max) {
      Error(n.Mark(), fmt::format("{} must be a whole number from {} to {}", what, min, max));
      return std::nullopt;
    }
    return v;
  }

  // The shared duration parser, behind the one catch of its exceptions in this command (a
  // number too large for it throws std::out_of_range).
  std::optional<int64_t> Duration(const YAML::Node& n, std::string_view what) {
    std::optional<std::string> text = Scalar(n, what);
    if (!text) return std::nullopt;
    return DurationAt(n.Mark(), *text, what);
  }

  std::optional<int64_t> DurationAt(const YAML::Mark& mark, const std::string& text,
                                    std::string_view what) {
    Result<int64_t> ms = Status::InvalidArgument("");
    try {
      ms = ParseDurationMs(text);
    } catch (const std::exception&) {
      ms = Status::InvalidArgument("");
    }
    if (!ms.ok() || *ms < 0 || *ms > kMaxTimeMs) {
      Error(mark,
            ms.ok() || ms.status().message().empty()
                ? fmt::format("{} `{}` is out of range", what, text)
                : std::string(what) + ": " + ms.status().message(),
            "a duration such as 500ms, 30s, 5m or 1h30m");
      return std::nullopt;
    }
    return *ms;
  }

  // "+1m30s" / "1m30s" after `start`, or an absolute time (RFC 3339 or, for `start`, Unix
  // seconds).
  std::optional<int64_t> Time(const YAML::Node& n, std::string_view what, int64_t start_ms) {
    std::optional<std::string> text = Scalar(n, what);
    if (!text) return std::nullopt;
    const bool absolute = text->find('T') != std::string::npos || what == "start";
    if (absolute) {
      Result<int64_t> t = ParseEventTime(*text);
      if (!t.ok() || *t < 0 || *t > kMaxTimeMs) {
        Error(n.Mark(), fmt::format("{}: invalid time `{}`", what, *text),
              "RFC 3339 such as 2025-11-25T00:00:00Z" +
                  std::string(what == "start" ? ", or Unix seconds" : ", or a time after start"));
        return std::nullopt;
      }
      return *t;
    }
    if (*text == "0" || *text == "+0") return start_ms;
    std::optional<int64_t> ms =
        DurationAt(n.Mark(), text->starts_with('+') ? text->substr(1) : *text, what);
    if (!ms) return std::nullopt;
    if (*ms > kMaxTimeMs - start_ms) {
      Error(n.Mark(), fmt::format("{} `{}` is out of range", what, *text),
            "times go up to 9999-12-31T23:59:59.999Z");
      return std::nullopt;
    }
    return start_ms + *ms;
  }

  std::optional<std::string> RuleName(const YAML::Node& n, std::string_view what) {
    std::optional<std::string> name = Scalar(n, what);
    if (!name || !rules_loaded_) return name;
    if (std::find(rule_names_.begin(), rule_names_.end(), *name) == rule_names_.end()) {
      Error(n.Mark(), fmt::format("{}: no rule `{}` in rule_files", what, *name),
            DidYouMean(*name, rule_names_, "rules"));
      return std::nullopt;
    }
    return name;
  }

  const Rule* FindRule(const TestFile& file, const std::string& name) const {
    for (const Rule& r : file.rules.rules) {
      if (r.name == name) return &r;
    }
    return nullptr;
  }

  // The canonical group of an expectation: every `group by` field of the rule, in its order.
  std::string Group(const YAML::Node& n, const Rule* rule) {
    if (rule == nullptr) return "{}";
    std::vector<std::string> fields;
    for (const FieldRef& f : rule->group_by) fields.push_back(f.name);
    std::vector<std::optional<std::string>> values(fields.size());
    std::vector<bool> given(fields.size(), false);
    bool unknown = false;
    if (n && !n.IsNull()) {
      if (!n.IsMap()) {
        Error(n.Mark(), "expect.group maps each `group by` field to its value");
        return "{}";
      }
      for (const auto& kv : n) {
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
        const auto it = std::find(fields.begin(), fields.end(), key);
        if (it == fields.end()) {
          unknown = true;
          Error(kv.first.Mark(),
                fields.empty() ? fmt::format("rule `{}` has no `group by`", rule->name)
                               : fmt::format("rule `{}` is not grouped by `{}`", rule->name, key),
                fields.empty() ? "leave `group` out" : DidYouMean(key, fields, "group by"));
          continue;
        }
        const size_t i = static_cast<size_t>(it - fields.begin());
        given[i] = true;
        if (!kv.second.IsNull()) values[i] = Scalar(kv.second, "expect.group");
      }
    }
    std::vector<std::string> missing;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (!given[i]) missing.push_back(fields[i]);
    }
    if (!missing.empty() && !unknown) {  // a misspelt key is reported once, above
      Error(n ? n.Mark() : expect_mark_,
            fmt::format("expect.group needs every `group by` field of rule `{}`", rule->name),
            "missing: " + rules_dsl::JoinNames(missing) + " (write null for an absent field)");
    }
    std::string s = "{";
    for (size_t i = 0; i < fields.size(); ++i) {
      s += (i > 0 ? ", " : "") + fields[i] + "=" + values[i].value_or("null");
    }
    return s + "}";
  }

  void ReadCase(const YAML::Node& t, int index, const std::filesystem::path& base, TestFile& out) {
    CaseSpec c;
    c.name = fmt::format("test #{}", index);
    if (!t.IsMap()) {
      Error(t.Mark(), "a test case is a mapping with name, events and expect");
      return;
    }
    CheckKeys(t, "a test case",
              {"name", "events", "events_file", "until", "rules", "expect", "allow_rejected"});
    if (const YAML::Node n = t["name"]) c.name = Scalar(n, "name").value_or(c.name);
    if (const YAML::Node events = t["events"]) {
      if (!events.IsSequence()) {
        Error(events.Mark(), "events: list the input events");
      } else {
        for (const YAML::Node& e : events) ReadEvent(e, out.start_ms, c);
      }
    }
    if (const YAML::Node n = t["events_file"]) {
      if (std::optional<std::string> p = Scalar(n, "events_file")) {
        c.events_file =
            std::filesystem::path(*p).is_absolute() ? *p : (base / *p).lexically_normal().string();
        // A device or FIFO (/dev/zero) would be read forever; a missing file is an I/O error
        // reported when the case runs.
        std::error_code ec;
        const std::filesystem::file_status st = std::filesystem::status(c.events_file, ec);
        if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st)) {
          Error(n.Mark(), "events_file: not a regular file: " + c.events_file);
          io_failed_ = true;
        }
      }
    }
    if (const YAML::Node n = t["until"]) c.until_ms = Time(n, "until", out.start_ms);
    if (const YAML::Node n = t["rules"]) {
      if (!n.IsSequence()) {
        Error(n.Mark(), "rules: list the rules to compare, e.g. rules: [orders-db-errors]");
      } else {
        for (const YAML::Node& r : n) {
          if (std::optional<std::string> name = RuleName(r, "rules")) c.rules.push_back(*name);
        }
      }
    }
    if (const YAML::Node n = t["allow_rejected"]) {
      std::optional<std::string> v = Scalar(n, "allow_rejected");
      if (v && *v != "true" && *v != "false") {
        Error(n.Mark(), "allow_rejected takes true or false");
      }
      c.allow_rejected = v == "true";
    }
    if (const YAML::Node expect = t["expect"]) {
      if (!expect.IsSequence()) {
        Error(expect.Mark(), "expect: list the expected notifications");
      } else {
        for (const YAML::Node& x : expect) ReadExpected(x, out, c);
      }
    }
    out.cases.push_back(std::move(c));
  }

  void ReadEvent(const YAML::Node& e, int64_t start_ms, CaseSpec& c) {
    if (!e.IsMap()) {
      Error(e.Mark(), "an input event is a mapping with at and event");
      return;
    }
    CheckKeys(e, "an input event", {"at", "every", "times", "event"});
    EventSpec spec;
    spec.line = e.Mark().line + 1;
    bool ok = true;
    if (const YAML::Node n = e["at"]) {
      std::optional<int64_t> at = Time(n, "events.at", start_ms);
      ok = ok && at.has_value();
      spec.at_ms = at.value_or(0);
    } else {
      spec.at_ms = start_ms;
    }
    if (const YAML::Node n = e["every"]) {
      std::optional<int64_t> every = Duration(n, "events.every");
      ok = ok && every.has_value();
      spec.every_ms = every.value_or(0);
    }
    if (const YAML::Node n = e["times"]) {
      std::optional<int64_t> times = Integer(n, "events.times", 0, kMaxTimes);
      ok = ok && times.has_value();
      spec.times = times.value_or(0);
    }
    if (ok && spec.times > 1 && spec.every_ms > (kMaxTimeMs - spec.at_ms) / (spec.times - 1)) {
      Error(e.Mark(), "events.times and events.every run past 9999-12-31T23:59:59.999Z");
      ok = false;
    }
    spec.body = nlohmann::json::object();
    if (const YAML::Node n = e["event"]) {
      spec.body = YamlToJson(n);
      if (!spec.body.is_object()) {
        Error(n.Mark(), "events.event must be a mapping (a Sentry-style event)");
        ok = false;
      }
    }
    if (ok) c.events.push_back(std::move(spec));
  }

  void ReadExpected(const YAML::Node& x, const TestFile& file, CaseSpec& c) {
    if (!x.IsMap()) {
      Error(x.Mark(), "an expected notification is a mapping with at, rule, state and group");
      return;
    }
    expect_mark_ = x.Mark();
    CheckKeys(x, "an expected notification", {"at", "rule", "state", "group", "value"});
    Expected e;
    if (const YAML::Node n = x["at"]) {
      e.at_ms = Time(n, "expect.at", file.start_ms).value_or(0);
    } else {
      e.at_ms = file.start_ms;
    }
    const Rule* rule = nullptr;
    if (const YAML::Node n = x["rule"]) {
      e.rule = RuleName(n, "expect.rule").value_or("");
      rule = FindRule(file, e.rule);
    } else {
      Error(x.Mark(), "an expected notification needs `rule`");
    }
    e.state = "firing";
    if (const YAML::Node n = x["state"]) {
      static const std::vector<std::string> kStates = {"firing", "repeat", "resolved"};
      std::optional<std::string> state = Scalar(n, "expect.state");
      if (state && std::find(kStates.begin(), kStates.end(), *state) == kStates.end()) {
        Error(n.Mark(), "unknown state `" + *state + "`", DidYouMean(*state, kStates, "states"));
      }
      e.state = state.value_or("");
    }
    e.group = Group(x["group"], rule);
    if (const YAML::Node n = x["value"]) {
      std::optional<std::string> text = Scalar(n, "expect.value");
      if (text) {
        char* end = nullptr;
        const double v = std::strtod(text->c_str(), &end);
        if (text->empty() || end != text->c_str() + text->size() || !std::isfinite(v)) {
          Error(n.Mark(), "expect.value must be a number");
        } else {
          e.value = v;
        }
      }
    }
    c.expect.push_back(std::move(e));
  }

  std::string path_;
  std::string_view text_;
  std::vector<rules_dsl::Diagnostic> diagnostics_;
  std::vector<std::string> rule_names_;
  bool rules_loaded_ = false;
  bool io_failed_ = false;  // a named file cannot be read as one (exit 2, as for rule_files)
  YAML::Mark expect_mark_;
};

struct CaseResult {
  bool passed = true;
  std::string report;
};

// Compares as sorted lists (by time, rule, state, group), so memory stays linear in the
// notifications even for millions of them; the order within `expect` does not matter. Prints
// a diff: "-" expected but missing, "+" produced but not expected, matched lines indented.
CaseResult Compare(std::vector<Expected> want, std::vector<Expected> got, int64_t start_ms) {
  auto less = [](const Expected& a, const Expected& b) {
    return std::tie(a.at_ms, a.rule, a.state, a.group) <
           std::tie(b.at_ms, b.rule, b.state, b.group);
  };
  std::stable_sort(want.begin(), want.end(), less);
  std::stable_sort(got.begin(), got.end(), less);
  CaseResult r;
  size_t lines = 0;
  auto line = [&](const std::string& text) {
    if (lines++ < kMaxReportLines) r.report += text;
  };
  size_t i = 0;
  size_t j = 0;
  while (i < want.size() || j < got.size()) {
    if (i < want.size() && j < got.size() && !less(want[i], got[j]) && !less(got[j], want[i])) {
      if (want[i].value && got[j].value && std::abs(*want[i].value - *got[j].value) > 1e-9) {
        r.passed = false;
        line("  - " + Describe(want[i], start_ms) + "\n");
        line("  + " + Describe(got[j], start_ms) + "\n");
      } else {
        line("    " + Describe(got[j], start_ms) + "\n");
      }
      ++i;
      ++j;
    } else if (j < got.size() && (i == want.size() || less(got[j], want[i]))) {
      r.passed = false;
      line("  + " + Describe(got[j], start_ms) + "   (unexpected)\n");
      ++j;
    } else {
      r.passed = false;
      line("  - " + Describe(want[i], start_ms) + "   (missing)\n");
      ++i;
    }
  }
  if (lines > kMaxReportLines) {
    r.report += fmt::format("  ... and {} more lines\n", lines - kMaxReportLines);
  }
  return r;
}

// Runs one case on a fresh engine. Notifications are turned into comparable rows as they come,
// so that a case producing millions holds only those rows.
Result<CaseResult> RunCase(const TestFile& file, const CaseSpec& c, int index,
                           InputSummary& summary) {
  Result<std::unique_ptr<Engine>> engine = Engine::Create(file.rules, file.options);
  if (!engine.ok()) return engine.status();
  // The evaluation stage of `klaxon run` (service/evaluator.h), on one ordered input.
  service::Evaluator evaluator(engine->get(), nullptr, file.options.allowed_lateness_ms);
  std::vector<Notification> notes;
  std::vector<Expected> got;
  auto selected = [&](const std::string& rule) {
    return c.rules.empty() || std::find(c.rules.begin(), c.rules.end(), rule) != c.rules.end();
  };
  auto collect = [&] {
    for (const Notification& n : notes) {
      const Rule& rule = file.rules.rules[n.rule_index];
      if (!selected(rule.name)) continue;
      got.push_back(
          {n.at_ms, rule.name, AlertStateName(n.state), CanonicalGroup(rule, n), n.value});
    }
    notes.clear();
  };
  uint64_t rejected = 0;
  uint64_t late = 0;
  auto feed = [&](std::string_view raw) {
    const ProcessResult r = evaluator.Raw(raw, notes);
    summary.Count(r.rejected, r.late);
    if (r.rejected != RejectReason::kNone) ++rejected;
    if (r.late) ++late;
    collect();
  };
  for (const EventSpec& e : c.events) {
    nlohmann::json body = e.body;
    const bool has_id = body.contains("event_id");
    for (int64_t k = 0; k < e.times; ++k) {
      body["timestamp"] = static_cast<double>(e.at_ms + k * e.every_ms) / 1000.0;
      if (!has_id || k > 0) body["event_id"] = fmt::format("{}-{}-{}", index, e.line, k);
      feed(body.dump());
    }
  }
  if (!c.events_file.empty()) {
    connectors::FileSourceOptions fo;
    fo.path = c.events_file;
    auto source = connectors::FileSource::Open(fo);
    if (!source.ok()) return Status::IoError("events_file: " + source.status().message());
    connectors::Record record;
    while (true) {
      Result<connectors::NextStatus> next = (*source)->Next(std::chrono::milliseconds(0), &record);
      if (!next.ok()) return Status::IoError("events_file: " + next.status().message());
      if (*next != connectors::NextStatus::kRecord) break;
      feed(record.payload);
    }
  }
  evaluator.Finish(c.until_ms, notes);  // what lateness held back, then what `until` releases
  collect();
  summary.AddGroupsDropped((*engine)->Stats());
  CaseResult r = Compare(c.expect, std::move(got), file.start_ms);
  if (rejected > 0 && !c.allow_rejected) {
    r.passed = false;
    r.report += fmt::format(
        "  {} input events were rejected (set allow_rejected: true if "
        "that is the point)\n",
        rejected);
  }
  if (late > 0 && !r.passed) {
    r.report += fmt::format(
        "  {} input events were late (behind the newest by more than allowed_lateness) and "
        "were not evaluated\n",
        late);
  }
  return r;
}

// The offset of the first byte that does not start or continue a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF), if any. YAML is
// Unicode text, but yaml-cpp passes any bytes through, and the events built from them could
// not be serialised as JSON.
std::optional<size_t> FirstInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    unsigned char lo = 0x80;  // bounds of the second byte
    unsigned char hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 3;
      if (b == 0xE0) lo = 0xA0;  // overlong
      if (b == 0xED) hi = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 4;
      if (b == 0xF0) lo = 0x90;  // overlong
      if (b == 0xF4) hi = 0x8F;  // past U+10FFFF
    } else {
      return i;
    }
    if (i + n > text.size()) return i;
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return i;
    }
    i += n;
  }
  return std::nullopt;
}

struct FileOutcome {
  int passed = 0;
  int failed = 0;
  int exit_code = kExitOk;  // or kExitProblems (the file has problems), kExitUsage (I/O)
};

// Runs one test file: reads and checks all of it first (every problem reported at once), then
// runs its cases.
FileOutcome RunTestFile(const std::string& path, std::ostream& out, std::ostream& err) {
  FileOutcome outcome;
  Result<std::string> text = ReadFileText(path);
  if (!text.ok()) {
    err << "klaxon test: " << text.status().message() << "\n";
    outcome.exit_code = kExitUsage;
    return outcome;
  }
  if (const std::optional<size_t> bad = FirstInvalidUtf8(*text)) {
    const std::string_view before = std::string_view(*text).substr(0, *bad);
    const size_t line_start = before.rfind('\n');
    const size_t column = line_start == std::string_view::npos ? *bad + 1 : *bad - line_start;
    err << fmt::format("{}:{}:{}: error: invalid UTF-8 (a test file is UTF-8 text)\n", path,
                       std::count(before.begin(), before.end(), '\n') + 1, column);
    outcome.exit_code = kExitProblems;
    return outcome;
  }
  YAML::Node doc;
  try {
    doc = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    err << fmt::format("{}:{}:{}: error: invalid YAML: {}\n", path, e.mark.line + 1,
                       e.mark.column + 1, e.msg);
    outcome.exit_code = kExitProblems;
    return outcome;
  }
  TestFile file;
  TestFileReader reader(path, *text);
  bool io_ok = true;
  try {
    io_ok = reader.Read(doc, file, err);
  } catch (const YAML::Exception& e) {
    err << fmt::format("{}:{}:{}: error: {}\n", path, e.mark.line + 1, e.mark.column + 1, e.msg);
    outcome.exit_code = kExitProblems;
    return outcome;
  }
  if (!reader.diagnostics().empty()) {
    std::vector<rules_dsl::Diagnostic> diagnostics = reader.diagnostics();
    std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const auto& a, const auto& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    for (const rules_dsl::Diagnostic& d : diagnostics) err << rules_dsl::FormatDiagnostic(d);
    const size_t n = diagnostics.size();
    err << fmt::format("found {} error{} in {}\n", n, n == 1 ? "" : "s", path);
    outcome.exit_code = io_ok ? kExitProblems : kExitUsage;
    return outcome;
  }
  InputSummary summary;
  int index = 0;
  for (const CaseSpec& c : file.cases) {
    Result<CaseResult> r = RunCase(file, c, ++index, summary);
    if (!r.ok()) {
      err << path << ": " << c.name << ": error: " << r.status().message() << "\n";
      outcome.exit_code = ExitCodeFor(r.status());
      return outcome;
    }
    if (r->passed) {
      ++outcome.passed;
      out << "PASS  " << path << ": " << c.name << "\n";
    } else {
      ++outcome.failed;
      out << "FAIL  " << path << ": " << c.name << "\n" << r->report;
    }
  }
  err << FormatInputSummary("test: " + path, summary, file.rules, file.options,
                            {"allowed_lateness", "max_groups_per_rule"});
  return outcome;
}

}  // namespace

int RunTest(const Args& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> files;
  const FlagParser flags("test", kTestUsage);  // no flags: --help, and any other is refused
  if (std::optional<int> done = flags.Parse(args, files, out, err)) return *done;
  // Test files are never read from stdin, so `-` stays the unknown flag it always was.
  if (std::find(files.begin(), files.end(), "-") != files.end()) {
    return flags.UsageError("unknown flag -", err);
  }
  if (files.empty()) {
    err << kTestUsage;
    return kExitUsage;
  }
  int passed = 0;
  int failed = 0;
  int code = kExitOk;
  for (const std::string& f : files) {
    const FileOutcome r = RunTestFile(f, out, err);
    passed += r.passed;
    failed += r.failed;
    code = std::max(code, r.exit_code);
  }
  out << fmt::format("{} passed, {} failed\n", passed, failed);
  if (code == kExitOk && failed > 0) code = kExitProblems;
  return code;
}

}  // namespace klaxon::cli
