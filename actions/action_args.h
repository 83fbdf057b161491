// Internal to actions/: an ActionDef's arguments with env(...)/file(...) resolved, for the
// per-kind factories. Any value read through env(...) or file(...) counts as a secret.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "actions/action.h"
#include "engine/template.h"

namespace klaxon::actions {

class ActionArgs {
 public:
  static Result<ActionArgs> Resolve(const ActionDef& def, const SecretResolver& secrets);

  bool Has(const std::string& key) const { return values_.count(key) != 0; }
  std::string String(const std::string& key, std::string fallback = "") const;
  std::vector<std::string> Strings(const std::string& key) const;
  bool IsSecret(const std::string& key) const;
  bool Bool(const std::string& key, bool fallback) const;
  double Number(const std::string& key, double fallback) const;
  int64_t DurationMs(const std::string& key, int64_t fallback) const;
  // Compiled; empty when absent (templates were checked by ValidateActionDef).
  Template Tmpl(const std::string& key) const;
  const std::vector<std::string>& secrets() const { return secrets_; }

 private:
  struct Value {
    const ActionValue* raw = nullptr;
    std::vector<std::string> strings;  // resolved texts (one for scalars)
    bool secret = false;
  };
  std::map<std::string, Value> values_;
  std::vector<std::string> secrets_;
};

// Factories, one per kind (slack_action.cpp, ...), listed in BuiltinActionKinds().
Result<std::unique_ptr<Action>> CreateSlackAction(const ActionDef&, const SecretResolver&,
                                                  const ActionOptions&);
Result<std::unique_ptr<Action>> CreatePagerDutyAction(const ActionDef&, const SecretResolver&,
                                                      const ActionOptions&);
Result<std::unique_ptr<Action>> CreateJiraAction(const ActionDef&, const SecretResolver&,
                                                 const ActionOptions&);
Result<std::unique_ptr<Action>> CreateWebhookAction(const ActionDef&, const SecretResolver&,
                                                    const ActionOptions&);
Result<std::unique_ptr<Action>> CreateLogAction(const ActionDef&, const SecretResolver&,
                                                const ActionOptions&);

// Truncates to at most `max_chars` code points, ending with "…" when cut; UTF-8 safe.
std::string TruncateChars(std::string_view text, size_t max_chars);
// Serialises without throwing on invalid UTF-8 (replaced).
std::string DumpJson(const nlohmann::json& j, int indent = -1);

}  // namespace klaxon::actions
