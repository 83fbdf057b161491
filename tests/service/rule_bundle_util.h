// The rules and actions of one rule file's text, as the runtime's RuleLoader returns them
// (cli's loader does the same from files, with secrets; these tests have none).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "actions/action.h"
#include "rules-dsl/rules_dsl.h"
#include "service/runtime_options.h"

namespace klaxon::service::testing {

inline Result<RuleBundle> RuleBundleFrom(const std::string& file_name, const std::string& text) {
  rules_dsl::LoadResult loaded = rules_dsl::ParseAndCheck({{file_name, text}});
  if (!loaded.ok()) return Status::InvalidArgument(loaded.diagnostics.front().message);
  RuleBundle bundle;
  bundle.rules = std::move(loaded.rules);
  bundle.files = {file_name};
  bundle.sha256 = {""};
  const actions::SecretResolver no_secrets = [](const ActionValue&) -> Result<std::string> {
    return Status::InvalidArgument("no secrets here");
  };
  for (const ActionDef& def : bundle.rules.actions) {
    Result<std::unique_ptr<actions::Action>> a = actions::CreateAction(def, no_secrets, {});
    if (!a.ok()) return a.status();
    bundle.actions.push_back(std::move(a).value());
  }
  return bundle;
}

}  // namespace klaxon::service::testing
