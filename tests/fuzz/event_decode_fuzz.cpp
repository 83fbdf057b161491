// Fuzzes event decoding and evaluation: any bytes go through Engine::Process, which must
// never crash, hang or grow without bound. Rules are built in code (no rule file needed).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/engine.h"

namespace {

klaxon::FieldRef Field(std::vector<std::string> path, int array_at = -1) {
  klaxon::FieldRef f;
  f.name = path.back();
  f.path = std::move(path);
  f.array_at = array_at;
  return f;
}

std::unique_ptr<klaxon::Engine> MakeEngine() {
  using klaxon::Predicate;
  klaxon::RuleSet rs;
  klaxon::Rule count;
  count.name = "count";
  count.filter.kind = Predicate::Kind::kMatch;
  count.filter.field = Field({"exception", "values", "type"}, 2);
  count.filter.values = {"*Error", "Timeout"};
  count.condition.kind = klaxon::Condition::Kind::kCount;
  count.condition.threshold = 2;
  count.condition.window_ms = 60000;
  klaxon::FieldRef service;
  service.name = "service";
  service.kind = klaxon::FieldRef::Kind::kPathThenTag;
  service.path = {"service"};
  service.tag = "service";
  count.group_by = {service};
  count.repeat_ms = 1000;
  rs.rules.push_back(count);
  klaxon::Rule uniq;
  uniq.name = "uniq";
  uniq.condition.kind = klaxon::Condition::Kind::kUnique;
  uniq.condition.field = Field({"user", "id"});
  uniq.condition.threshold = 3;
  uniq.condition.window_ms = 5000;
  rs.rules.push_back(uniq);
  klaxon::Rule cmp;
  cmp.name = "cmp";
  cmp.filter.kind = Predicate::Kind::kCompare;
  cmp.filter.field = Field({"request", "status"});
  cmp.filter.number = 499;
  cmp.condition.kind = klaxon::Condition::Kind::kEvery;
  rs.rules.push_back(cmp);
  // Sentry's derived fields (issue, title) and a path across two arrays in both exception
  // shapes, grouped by a tag that a bare key reads too.
  klaxon::Rule issue;
  issue.name = "issue";
  issue.filter.kind = Predicate::Kind::kMatch;
  issue.filter.field =
      Field({"exception", "values", "[]", "stacktrace", "frames", "[]", "function"});
  issue.filter.field.more_paths = {{"exception", "[]", "stacktrace", "frames", "[]", "function"}};
  issue.filter.values = {"*"};
  issue.condition.kind = klaxon::Condition::Kind::kNewValue;
  issue.condition.field = Field({"issue"});
  issue.condition.field.kind = klaxon::FieldRef::Kind::kDerived;
  klaxon::FieldRef title = Field({"title"});
  title.kind = klaxon::FieldRef::Kind::kDerived;
  klaxon::FieldRef service_tag = service;
  service_tag.name = "tags[service]";
  service_tag.kind = klaxon::FieldRef::Kind::kTag;
  service_tag.path.clear();
  issue.group_by = {title, service_tag};
  rs.rules.push_back(issue);
  klaxon::EngineOptions options;
  options.max_event_bytes = 1 << 16;
  options.max_depth = 32;
  options.explain = true;
  options.max_groups_per_rule = 64;
  auto e = klaxon::Engine::Create(std::move(rs), options);
  return e.ok() ? std::move(e.value()) : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<klaxon::Engine> engine = MakeEngine();  // NOLINT: fuzzer harness
  static std::vector<klaxon::Notification> out;                  // NOLINT: fuzzer harness
  if (!engine) return 0;
  out.clear();
  engine->Process(std::string_view(reinterpret_cast<const char*>(data), size), out);
  // Newline-separated pieces exercise lateness and timers across events.
  std::string_view all(reinterpret_cast<const char*>(data), size);
  size_t pos = all.find('\n');
  if (pos != std::string_view::npos) {
    engine->Process(all.substr(0, pos), out);
    engine->Process(all.substr(pos + 1), out);
  }
  if (size > 0 && data[0] == 'F') engine->Flush(out);
  return 0;
}
