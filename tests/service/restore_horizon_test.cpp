#include "service/restore_horizon.h"

#include <doctest/doctest.h>

namespace klaxon::service {
namespace {

Rule MakeRule(int64_t window_ms) {
  Rule r;
  r.condition.window_ms = window_ms;
  return r;
}

TEST_CASE("the restore horizon is the longest look-back of an enabled rule plus lateness, capped") {
  RuleSet rules;
  rules.rules.push_back(MakeRule(60000));
  Rule slow = MakeRule(300000);
  slow.condition.offset_ms = 60000;
  slow.pending_ms = 10000;
  slow.keep_firing_ms = 30000;  // the longer of pending and keep-firing counts
  slow.repeat_ms = 5000;
  rules.rules.push_back(slow);
  Rule disabled = MakeRule(86400000);
  disabled.enabled = false;
  rules.rules.push_back(disabled);
  EngineOptions options;
  options.allowed_lateness_ms = 5000;
  CHECK(RestoreHorizonMs(rules, options, 3600000) == 300000 + 60000 + 30000 + 5000 + 5000);
  CHECK(RestoreHorizonMs(rules, options, 120000) == 120000);
  CHECK(RestoreHorizonMs(RuleSet{}, options, 3600000) == 5000);
}

}  // namespace
}  // namespace klaxon::service
