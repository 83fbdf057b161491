// `klaxon test FILE...`: unit tests for rules, in the spirit of `promtool test rules`.
//
// A test file (YAML) names rule files, gives input events with times relative to `start`, and
// lists the notifications it expects. Each test case runs a fresh engine: the same evaluator
// as `klaxon run` and `klaxon replay`, with event time as its clock.
#include <algorithm>
#include <filesystem>
#include <ostream>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/config.h"
#include "cli/event_time.h"
#include "cli/notification_output.h"
#include "cli/rule_files.h"
#include "connectors/file_source.h"
#include "engine/engine.h"
#include "engine/time_format.h"

namespace klaxon::cli {
namespace {

constexpr std::string_view kTestUsage =
    "usage: klaxon test FILE...\n"
    "\n"
    "Runs rule unit tests (YAML). Exit 0 when all pass, 1 on any failure, 2 on usage errors.\n"
    "See docs/testing.md for the file format.\n";

// Notification fields that a test compares.
struct Expected {
  int64_t at_ms = 0;
  std::string rule;
  std::string state;
  std::string group;  // canonical "{k=v, ...}"
  std::optional<double> value;
};

std::string Describe(const Expected& e, int64_t start_ms) {
  std::string s = fmt::format("at {} (+{}) {} {} {}", FormatTimeMs(e.at_ms),
                              FormatDurationMs(e.at_ms - start_ms), e.rule, e.state, e.group);
  if (e.value) s += " value " + FormatValue(*e.value);
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
        const long long i = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && end == s.c_str() + s.size()) return i;
        const double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size()) return d;
      }
      return s;
    }
    default:
      return nullptr;
  }
}

// "+1m30s" / "1m30s" relative to start, or an absolute RFC 3339 time.
Result<int64_t> ParseAt(const std::string& text, int64_t start_ms) {
  if (text.find('T') != std::string::npos) return ParseEventTime(text);
  std::string rel = text;
  if (!rel.empty() && rel[0] == '+') rel.erase(0, 1);
  if (rel == "0") return start_ms;
  Result<int64_t> ms = ParseDurationMs(rel);
  if (!ms.ok()) return ms.status();
  return start_ms + *ms;
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

std::string CanonicalGroup(const YAML::Node& node) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (node && node.IsMap()) {
    for (const auto& kv : node) {
      pairs.emplace_back(kv.first.as<std::string>(),
                         kv.second.IsNull() ? "null" : kv.second.as<std::string>());
    }
  }
  std::string s = "{";
  for (size_t i = 0; i < pairs.size(); ++i) {
    s += (i > 0 ? ", " : "") + pairs[i].first + "=" + pairs[i].second;
  }
  return s + "}";
}

struct CaseResult {
  bool passed = true;
  std::string report;
};

// Aligns expected and actual notifications (longest common subsequence on time, rule, state
// and group) and prints a diff: "-" expected but missing, "+" produced but not expected.
CaseResult Compare(const std::vector<Expected>& want, const std::vector<Expected>& got,
                   int64_t start_ms) {
  auto same = [](const Expected& a, const Expected& b) {
    return a.at_ms == b.at_ms && a.rule == b.rule && a.state == b.state && a.group == b.group;
  };
  const size_t n = want.size();
  const size_t m = got.size();
  std::vector<std::vector<uint32_t>> lcs(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] =
          same(want[i], got[j]) ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  CaseResult r;
  size_t i = 0;
  size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && same(want[i], got[j])) {
      if (want[i].value && got[j].value && std::abs(*want[i].value - *got[j].value) > 1e-9) {
        r.passed = false;
        r.report += "  - " + Describe(want[i], start_ms) + "\n";
        r.report += "  + " + Describe(got[j], start_ms) + "\n";
      } else {
        r.report += "    " + Describe(got[j], start_ms) + "\n";
      }
      ++i;
      ++j;
    } else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      r.passed = false;
      r.report += "  + " + Describe(got[j], start_ms) + "   (unexpected)\n";
      ++j;
    } else {
      r.passed = false;
      r.report += "  - " + Describe(want[i], start_ms) + "   (missing)\n";
      ++i;
    }
  }
  return r;
}

// Runs one test file; returns (passed, failed) counts or a Status for a broken file.
Result<std::pair<int, int>> RunTestFile(const std::string& path, std::ostream& out,
                                        std::ostream& err) {
  Result<std::string> text = ReadFileText(path);
  if (!text.ok()) return text.status();
  YAML::Node doc;
  try {
    doc = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(fmt::format("{}:{}:{}: error: invalid YAML: {}", path,
                                               e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  auto resolve = [&](const std::string& p) {
    return std::filesystem::path(p).is_absolute() ? p : (base / p).lexically_normal().string();
  };
  auto fail = [&](const std::string& what) -> Status {
    return Status::InvalidArgument(path + ": error: " + what);
  };
  try {
    if (!doc.IsMap()) return fail("a test file is a mapping with rule_files, start and tests");
    std::vector<std::string> rule_paths;
    if (!doc["rule_files"] || !doc["rule_files"].IsSequence()) {
      return fail("rule_files: list the rule files under test");
    }
    for (const auto& p : doc["rule_files"]) rule_paths.push_back(resolve(p.as<std::string>()));
    Result<LoadedRules> loaded = LoadRules(rule_paths, err);
    if (!loaded.ok()) return fail("rule_files: " + loaded.status().message());

    int64_t start_ms = 0;
    if (doc["start"]) {
      Result<int64_t> s = ParseEventTime(doc["start"].as<std::string>());
      if (!s.ok()) return fail("start: " + s.status().message());
      start_ms = *s;
    }
    EngineOptions options;
    if (doc["allowed_lateness"]) {
      Result<int64_t> l = ParseDurationMs(doc["allowed_lateness"].as<std::string>());
      if (!l.ok()) return fail("allowed_lateness: " + l.status().message());
      options.allowed_lateness_ms = *l;
    }
    if (doc["max_groups_per_rule"]) {
      options.max_groups_per_rule = doc["max_groups_per_rule"].as<size_t>();
    }
    if (!doc["tests"] || !doc["tests"].IsSequence()) return fail("tests: list the test cases");

    int passed = 0;
    int failed = 0;
    int index = 0;
    for (const YAML::Node& test : doc["tests"]) {
      ++index;
      const std::string name =
          test["name"] ? test["name"].as<std::string>() : fmt::format("test #{}", index);
      Result<std::unique_ptr<Engine>> engine = Engine::Create(loaded->rules, options);
      if (!engine.ok()) return fail(engine.status().message());
      std::vector<Notification> notes;
      uint64_t rejected = 0;
      auto feed = [&](std::string_view raw) {
        ProcessResult r = (*engine)->Process(raw, notes);
        if (r.rejected != RejectReason::kNone) ++rejected;
      };
      if (test["events"]) {
        for (const YAML::Node& e : test["events"]) {
          Result<int64_t> at = ParseAt(e["at"] ? e["at"].as<std::string>() : "0", start_ms);
          if (!at.ok()) return fail(name + ": events.at: " + at.status().message());
          int64_t every = 0;
          if (e["every"]) {
            Result<int64_t> ev = ParseDurationMs(e["every"].as<std::string>());
            if (!ev.ok()) return fail(name + ": events.every: " + ev.status().message());
            every = *ev;
          }
          const int times = e["times"] ? e["times"].as<int>() : 1;
          if (times < 0 || times > 1000000) return fail(name + ": events.times: 0 to 1000000");
          nlohmann::json body = e["event"] ? YamlToJson(e["event"]) : nlohmann::json::object();
          if (!body.is_object()) return fail(name + ": events.event must be a mapping");
          for (int k = 0; k < times; ++k) {
            const int64_t t = *at + k * every;
            body["timestamp"] = static_cast<double>(t) / 1000.0;
            if (!body.contains("event_id") || k > 0) {
              body["event_id"] = fmt::format("{}-{}-{}", index, e.Mark().line + 1, k);
            }
            feed(body.dump());
          }
        }
      }
      if (test["events_file"]) {
        connectors::FileSourceOptions fo;
        fo.path = resolve(test["events_file"].as<std::string>());
        auto source = connectors::FileSource::Open(fo);
        if (!source.ok()) return fail(name + ": events_file: " + source.status().message());
        connectors::Record record;
        while (true) {
          Result<connectors::NextStatus> next =
              (*source)->Next(std::chrono::milliseconds(0), &record);
          if (!next.ok()) return fail(name + ": events_file: " + next.status().message());
          if (*next != connectors::NextStatus::kRecord) break;
          feed(record.payload);
        }
      }
      (*engine)->Flush(notes);
      if (test["until"]) {
        Result<int64_t> until = ParseAt(test["until"].as<std::string>(), start_ms);
        if (!until.ok()) return fail(name + ": until: " + until.status().message());
        (*engine)->AdvanceTo(*until + options.allowed_lateness_ms, notes);
      }

      std::vector<std::string> only;
      if (test["rules"]) {
        for (const auto& r : test["rules"]) only.push_back(r.as<std::string>());
      }
      auto selected = [&](const std::string& rule) {
        return only.empty() || std::find(only.begin(), only.end(), rule) != only.end();
      };
      std::vector<Expected> got;
      for (const Notification& n : notes) {
        const Rule& rule = loaded->rules.rules[n.rule_index];
        if (!selected(rule.name)) continue;
        got.push_back(
            {n.at_ms, rule.name, AlertStateName(n.state), CanonicalGroup(rule, n), n.value});
      }
      std::vector<Expected> want;
      if (test["expect"]) {
        for (const YAML::Node& x : test["expect"]) {
          Expected e;
          Result<int64_t> at = ParseAt(x["at"] ? x["at"].as<std::string>() : "0", start_ms);
          if (!at.ok()) return fail(name + ": expect.at: " + at.status().message());
          e.at_ms = *at;
          e.rule = x["rule"] ? x["rule"].as<std::string>() : "";
          e.state = x["state"] ? x["state"].as<std::string>() : "firing";
          e.group = CanonicalGroup(x["group"]);
          if (x["value"]) e.value = x["value"].as<double>();
          want.push_back(std::move(e));
        }
      }
      CaseResult r = Compare(want, got, start_ms);
      if (rejected > 0 && !test["allow_rejected"]) {
        r.passed = false;
        r.report += fmt::format(
            "  {} input events were rejected (set allow_rejected: true if "
            "that is the point)\n",
            rejected);
      }
      if (r.passed) {
        ++passed;
        out << "PASS  " << path << ": " << name << "\n";
      } else {
        ++failed;
        out << "FAIL  " << path << ": " << name << "\n" << r.report;
      }
    }
    return std::make_pair(passed, failed);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(
        fmt::format("{}:{}:{}: error: {}", path, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

}  // namespace

int RunTest(const Args& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> files;
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      out << kTestUsage;
      return 0;
    }
    if (!a.empty() && a[0] == '-') {
      err << "klaxon test: unknown flag " << a << "\n" << kTestUsage;
      return 2;
    }
    files.push_back(a);
  }
  if (files.empty()) {
    err << kTestUsage;
    return 2;
  }
  int passed = 0;
  int failed = 0;
  bool broken = false;
  for (const std::string& f : files) {
    Result<std::pair<int, int>> r = RunTestFile(f, out, err);
    if (!r.ok()) {
      err << r.status().message() << "\n";
      broken = true;
      continue;
    }
    passed += r->first;
    failed += r->second;
  }
  out << fmt::format("{} passed, {} failed\n", passed, failed);
  return (failed > 0 || broken) ? 1 : 0;
}

}  // namespace klaxon::cli
