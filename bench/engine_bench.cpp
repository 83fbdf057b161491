// Engine benchmark: a deterministic Sentry-style event log in memory, single-threaded.
// Reports a parse-only baseline, engine throughput with 1/100/1,000/10,000 rules, heap
// allocations per event in steady state, state bytes per (rule, group), engine build time and
// the load of a 10,000-rule file (parse, check and index).
// Usage: engine_bench [events] (default 200000); engine_bench load (the load measurement only).
// Figures go to bench/README.md.
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "bench/baseline_parse.h"
#include "cli/rule_files.h"
#include "engine/engine.h"
#include "rules-dsl/rules_dsl.h"

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Allocation counter: this binary only. Plain counters, the bench is single-threaded.
static uint64_t g_allocations = 0;  // NOLINT: bench instrumentation

void* operator new(size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace {

using klaxon::CompareOp;
using klaxon::Condition;
using klaxon::FieldRef;
using klaxon::Predicate;
using klaxon::Rule;

constexpr int kServices = 50;
constexpr int kTypes = 40;
constexpr int64_t kStartMs = 1764028800000;
constexpr int64_t kStepMs = 10;   // 100 events/s of event time
constexpr size_t kTsOffset = 13;  // {"timestamp":<14 chars>
constexpr size_t kTsWidth = 14;

struct Rng {
  uint64_t s;
  uint64_t Next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  int Skewed(int n) {  // roughly Zipf-like: low indexes are hot
    const double u = static_cast<double>(Next() % 1000000) / 1000000.0;
    return static_cast<int>(static_cast<double>(n) * u * u * u) % n;
  }
};

std::string ServiceName(int i) {
  static const char* kBase[] = {"orders-api", "payments", "search", "checkout", "inventory"};
  return i < 5 ? kBase[i] : "svc-" + std::to_string(i);
}
std::string TypeName(int i) {
  static const char* kBase[] = {"DatabaseError", "KeyError", "TimeoutError", "ValueError"};
  return i < 4 ? kBase[i] : "Error" + std::to_string(i);
}
const char* kEnvs[] = {"production", "staging", "development"};
const char* kLevels[] = {"error", "warning", "fatal", "info"};

void SetTimestamp(std::string& ev, int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld.%03lld", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  std::memcpy(&ev[kTsOffset], buf, kTsWidth);
}

std::string MakeEvent(Rng& rng, int64_t ms) {
  char id[33];
  std::snprintf(id, sizeof(id), "%016llx%016llx", static_cast<unsigned long long>(rng.Next()),
                static_cast<unsigned long long>(rng.Next()));
  const std::string service = ServiceName(rng.Skewed(kServices));
  const std::string env = kEnvs[rng.Next() % 3];
  const std::string level = kLevels[rng.Next() % 4];
  const int server = static_cast<int>(rng.Next() % 20);
  std::string e = "{\"timestamp\":0000000000.000,\"event_id\":\"" + std::string(id) +
                  "\",\"level\":\"" + level +
                  "\",\"platform\":\"python\",\"logger\":\"app.handlers\",\"server_name\":\"web-" +
                  std::to_string(server) + "\",\"release\":\"" + service + "@2.14." +
                  std::to_string(rng.Next() % 9) + "\",\"environment\":\"" + env + "\",";
  if (rng.Next() % 2) {
    e += "\"tags\":{\"service\":\"" + service + "\",\"environment\":\"" + env +
         "\",\"region\":\"eu-west-1\",\"browser\":\"Chrome 120\"},";
  } else {
    e += "\"tags\":[[\"service\",\"" + service + "\"],[\"environment\",\"" + env +
         "\"],[\"region\",\"us-east-1\"],[\"browser\",\"Firefox 121\"]],";
  }
  e += "\"exception\":{\"values\":[";
  const int nexc = 1 + static_cast<int>(rng.Next() % 2);
  for (int x = 0; x < nexc; ++x) {
    if (x) e += ",";
    e += "{\"type\":\"" + TypeName(rng.Skewed(kTypes)) +
         "\",\"value\":\"connection reset by peer while reading response\",\"module\":\"app.db\","
         "\"stacktrace\":{\"frames\":[";
    for (int f = 0; f < 3; ++f) {
      if (f) e += ",";
      e += "{\"filename\":\"app/handlers/orders.py\",\"function\":\"handle_" + std::to_string(f) +
           "\",\"lineno\":" + std::to_string(100 + f * 17) +
           ",\"in_app\":true,\"context_line\":\"    result = session.execute(query)\"}";
    }
    e += "]}}";
  }
  e += "]},\"user\":{\"id\":\"user-" + std::to_string(rng.Next() % 5000) +
       "\",\"email\":\"someone@example.com\",\"ip_address\":\"10.1.2.3\"},"
       "\"contexts\":{\"os\":{\"name\":\"Linux\",\"version\":\"6.1\"},\"runtime\":{\"name\":"
       "\"CPython\",\"version\":\"3.11.6\"}},\"request\":{\"url\":\"https://shop.example.com/api/"
       "orders\",\"method\":\"POST\",\"status\":" +
       std::to_string(500 + rng.Next() % 4) + "}}";
  SetTimestamp(e, ms);
  return e;
}

FieldRef Path(std::string name, std::vector<std::string> path, int array_at = -1) {
  FieldRef f;
  f.name = std::move(name);
  f.path = std::move(path);
  f.array_at = array_at;
  return f;
}
FieldRef Tag(std::string t) {
  FieldRef f;
  f.name = t;
  f.kind = FieldRef::Kind::kTag;
  f.tag = std::move(t);
  return f;
}
FieldRef ServiceField() {
  FieldRef f;
  f.name = "service";
  f.kind = FieldRef::Kind::kPathThenTag;
  f.path = {"service"};
  f.tag = "service";
  return f;
}
Predicate Match(FieldRef f, std::string v) {
  Predicate p;
  p.kind = Predicate::Kind::kMatch;
  p.field = std::move(f);
  p.values = {std::move(v)};
  return p;
}
Predicate And(std::vector<Predicate> c) {
  Predicate p;
  p.kind = Predicate::Kind::kAnd;
  p.children = std::move(c);
  return p;
}

// Realistic mixed rules: most on (service, exception type), some on level or environment.
klaxon::RuleSet MakeRules(int n) {
  klaxon::RuleSet rs;
  Rng rng{12345};
  const FieldRef type = Path("exception.type", {"exception", "values", "type"}, 2);
  for (int i = 0; i < n; ++i) {
    Rule r;
    r.name = "rule-" + std::to_string(i);
    const std::string svc = ServiceName(i == 0 ? 0 : static_cast<int>(rng.Next() % kServices));
    const std::string ty = TypeName(i == 0 ? 0 : static_cast<int>(rng.Next() % kTypes));
    switch (i % 10) {
      case 7:
        r.filter = And({Match(ServiceField(), svc), Match(Path("level", {"level"}), "fatal")});
        if (i % 20 == 7) r.filter.children.push_back(Match(type, ty));
        break;
      case 8:
        r.filter = And(
            {Match(type, ty), Match(Tag("environment"), "staging"), Match(ServiceField(), svc)});
        break;
      default:
        r.filter = And({Match(ServiceField(), svc), Match(type, ty)});
        break;
    }
    r.condition.kind = Condition::Kind::kCount;
    r.condition.op = CompareOp::kGt;
    r.condition.threshold = i % 3 == 0 ? 5 : 20;
    r.condition.window_ms = i % 3 == 0 ? 60000 : 300000;
    if (i % 2 == 0) r.group_by = {Tag("environment")};
    if (i % 5 == 1) r.group_by = {Path("server_name", {"server_name"})};
    rs.rules.push_back(std::move(r));
  }
  return rs;
}

// Thread CPU time: on a shared machine this is the honest one-core figure (wall time would
// count time spent waiting for the core).
struct CpuClock {
  using time_point = double;
  static double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
};
double Seconds(double a, double b) { return b - a; }

void Retime(std::vector<std::string>& events, int pass) {
  const int64_t span = static_cast<int64_t>(events.size()) * kStepMs;
  for (size_t i = 0; i < events.size(); ++i) {
    SetTimestamp(events[i], kStartMs + pass * span + static_cast<int64_t>(i) * kStepMs);
  }
}

void ParseBaseline(const std::vector<std::string>& events) {
  simdjson::ondemand::parser parser;
  std::string buf;
  buf.reserve(1 << 16);
  uint64_t sink = 0;
  auto t0 = CpuClock::now();
  for (const auto& e : events) {
    buf.assign(e);
    buf.reserve(e.size() + simdjson::SIMDJSON_PADDING);
    sink += klaxon::bench::TouchEventFields(parser, buf.data(), buf.size(), buf.capacity());
  }
  auto t1 = CpuClock::now();
  std::printf("parse-only baseline (on-demand, same fields): %10.0f events/s  (sink %llu)\n",
              static_cast<double>(events.size()) / Seconds(t0, t1),
              static_cast<unsigned long long>(sink % 10));
}

void RunEngine(std::vector<std::string>& events, int rules) {
  auto t0 = CpuClock::now();
  auto created = klaxon::Engine::Create(MakeRules(rules), klaxon::EngineOptions());
  auto t1 = CpuClock::now();
  if (!created.ok()) {
    std::printf("create failed: %s\n", created.status().message().c_str());
    return;
  }
  auto& engine = *created.value();
  std::vector<klaxon::Notification> out;
  out.reserve(1 << 16);
  // Pass 0 warms up: groups, rings, held-event pool and index.
  Retime(events, 0);
  for (const auto& e : events) {
    engine.Process(e, out);
    out.clear();
  }
  // Measured pass: later event times, same shapes.
  Retime(events, 1);
  uint64_t notifications = 0;
  const uint64_t allocs_before = g_allocations;
  auto t2 = CpuClock::now();
  for (const auto& e : events) {
    engine.Process(e, out);
    notifications += out.size();
    out.clear();
  }
  auto t3 = CpuClock::now();
  const uint64_t allocs = g_allocations - allocs_before;
  // Again (untimed), counting allocations only in calls that returned no notification: the
  // engine's own per-event cost, without the strings it builds for the caller.
  Retime(events, 2);
  uint64_t quiet_allocs = 0, quiet_events = 0;
  for (const auto& e : events) {
    const uint64_t before = g_allocations;
    engine.Process(e, out);
    if (out.empty()) {
      quiet_allocs += g_allocations - before;
      ++quiet_events;
    }
    out.clear();
  }
  const auto& stats = engine.Stats();
  uint64_t matches = 0, groups = 0;
  for (const auto& r : stats.rules) {
    matches += r.matches;
    groups += r.groups;
  }
  const double n = static_cast<double>(events.size());
  std::printf(
      "engine %5d rules: %10.0f events/s  build %7.1f ms  matches/event %5.2f  "
      "notifications %6llu  allocations/event %.4f (without notifications %.4f)  groups %llu  "
      "rejected %llu\n",
      rules, n / Seconds(t2, t3), 1000 * Seconds(t0, t1), static_cast<double>(matches) / (3 * n),
      static_cast<unsigned long long>(notifications), static_cast<double>(allocs) / n,
      quiet_events ? static_cast<double>(quiet_allocs) / static_cast<double>(quiet_events) : 0.0,
      static_cast<unsigned long long>(groups),
      static_cast<unsigned long long>(stats.received - stats.accepted));
}

// The text of a rule file with `rules` rules: one action, 50 services, 40 exception types; one
// rule in five on fatal errors grouped by server, the others on an exception type grouped by
// environment (the shape of issue 3's 10,000-rule file).
std::string MakeRuleFile(int rules) {
  std::string text = "action sink = log(path: \"/dev/null\")\n";
  for (int n = 0; n < rules; ++n) {
    const std::string service = "svc-" + std::to_string(n % kServices);
    const std::string name = "r" + std::to_string(n);
    if (n % 5 == 0) {
      text += "rule " + name + " {\n  when frequency > 20/5m for service:" + service +
              " AND level:fatal\n  group by server_name\n  then sink\n}\n";
    } else {
      text += "rule " + name + " {\n  when frequency > 5/min for service:" + service +
              " AND exception.type:Error" + std::to_string((n / kServices) % kTypes) +
              "\n  group by environment\n  then sink\n}\n";
    }
  }
  return text;
}

// What `klaxon check` and a (re)load do with one rule file: parse and check it with the same
// options, then build the engine's index. The path is longer than a short-string buffer, as real
// ones are (positions copy it). Best of a few runs, as the machine is shared; the first run also
// pays for growing the heap, as a fresh process does (`engine_bench load`).
void RunLoad(int rules) {
  const std::vector<klaxon::rules_dsl::SourceFile> files = {
      {"/etc/klaxon/rules/services.rules", MakeRuleFile(rules)}};
  const klaxon::rules_dsl::CheckOptions options = klaxon::cli::RuleCheckOptions();
  constexpr int kRuns = 5;
  double best_check = 0, best_index = 0, first = 0;
  uint64_t check_allocations = 0;
  for (int run = 0; run < kRuns; ++run) {
    const uint64_t allocs_before = g_allocations;
    const double t0 = CpuClock::now();
    klaxon::rules_dsl::LoadResult loaded = klaxon::rules_dsl::ParseAndCheck(files, options);
    const double t1 = CpuClock::now();
    check_allocations = g_allocations - allocs_before;
    if (!loaded.ok() || loaded.rules.rules.size() != static_cast<size_t>(rules)) {
      std::printf("load failed: %zu errors, %zu rules\n", loaded.error_count(),
                  loaded.rules.rules.size());
      return;
    }
    auto created = klaxon::Engine::Create(std::move(loaded.rules), klaxon::EngineOptions());
    const double t2 = CpuClock::now();
    if (!created.ok()) {
      std::printf("create failed: %s\n", created.status().message().c_str());
      return;
    }
    if (run == 0) first = Seconds(t0, t2);
    if (run == 0 || Seconds(t0, t2) < best_check + best_index) {
      best_check = Seconds(t0, t1);
      best_index = Seconds(t1, t2);
    }
  }
  std::printf(
      "load %d rules (parse+check+index): %6.1f ms (parse+check %.1f ms, index %.1f ms; best of "
      "%d, first %.1f ms; %zu bytes, %.1f allocations/rule to parse and check)\n",
      rules, 1000 * (best_check + best_index), 1000 * best_check, 1000 * best_index, kRuns,
      1000 * first, files[0].text.size(), static_cast<double>(check_allocations) / rules);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "load") {
    RunLoad(10000);
    return 0;
  }
  const size_t n = argc > 1 ? static_cast<size_t>(std::atoll(argv[1])) : 200000;
  Rng rng{42};
  std::vector<std::string> events;
  events.reserve(n);
  size_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    events.push_back(MakeEvent(rng, kStartMs + static_cast<int64_t>(i) * kStepMs));
    bytes += events.back().size();
  }
  std::printf("events: %zu, average %.0f bytes\n", n, static_cast<double>(bytes) / n);
  if (argc > 2) {  // engine_bench EVENTS RULES: one configuration only (profiling)
    RunEngine(events, std::atoi(argv[2]));
    return 0;
  }
  ParseBaseline(events);
  for (int rules : {1, 100, 1000, 10000}) RunEngine(events, rules);
  Rule five;
  five.condition.kind = Condition::Kind::kCount;
  five.condition.op = CompareOp::kGt;
  five.condition.threshold = 5;
  five.condition.window_ms = 60000;
  const auto b = klaxon::StateBytesPerGroup(five);
  std::printf(
      "state per (rule, group) for `frequency > 5/min`: window %zu bytes, total %zu bytes "
      "(+ key bytes)\n",
      b.window, b.total);
  RunLoad(10000);
  return 0;
}
