// libFuzzer target for the rule language: parse and check any bytes, and when they parse,
// format them and require the layout to be a fixed point (format(format(x)) == format(x)) that
// still parses to the same rules.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "rules-dsl/rules_dsl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const klaxon::rules_dsl::LoadResult loaded =
      klaxon::rules_dsl::ParseAndCheck({{"fuzz.rules", text}});
  for (const auto& d : loaded.diagnostics) (void)klaxon::rules_dsl::FormatDiagnostic(d);
  const auto once = klaxon::rules_dsl::FormatRules(text, "fuzz.rules");
  if (!once.ok()) return 0;
  const auto twice = klaxon::rules_dsl::FormatRules(*once, "fuzz.rules");
  if (!twice.ok() || *twice != *once) std::abort();  // formatting must be idempotent
  const klaxon::rules_dsl::LoadResult reloaded =
      klaxon::rules_dsl::ParseAndCheck({{"fuzz.rules", *once}});
  if (reloaded.rules.rules.size() != loaded.rules.rules.size() ||
      reloaded.rules.actions.size() != loaded.rules.actions.size()) {
    std::abort();  // formatting must not change what the file means
  }
  for (size_t i = 0; i < loaded.rules.rules.size(); ++i) {
    const auto& a = loaded.rules.rules[i];
    const auto& b = reloaded.rules.rules[i];
    if (!(a.filter == b.filter) || !(a.condition == b.condition) || a.actions != b.actions ||
        a.summary != b.summary || a.labels != b.labels) {
      std::abort();
    }
  }
  return 0;
}
