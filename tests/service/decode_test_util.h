// Helpers of the decoding tests (the service's pool, replay's reader): one rule, and events of
// very different sizes, every seventh of them broken, so that workers finish out of order and
// rejects are seen. Header-only.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "engine/engine.h"

namespace klaxon::testing {

inline std::unique_ptr<Engine> TypeEngine() {
  RuleSet rs;
  Rule r;
  r.name = "errors";
  r.filter.kind = Predicate::Kind::kMatch;
  r.filter.field.name = "level";
  r.filter.field.path = {"level"};
  r.filter.values = {"error"};
  rs.rules.push_back(r);
  auto e = Engine::Create(std::move(rs), EngineOptions());
  REQUIRE(e.ok());
  return std::move(e).value();
}

inline std::string Event(int i) {
  if (i % 7 == 3) return "{broken " + std::to_string(i);
  return R"({"timestamp":)" + std::to_string(1764028800 + i) + R"(,"level":"error","pad":")" +
         std::string(static_cast<size_t>((i * 7919) % 20000), 'x') + "\"}";
}

}  // namespace klaxon::testing
