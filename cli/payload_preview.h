// `klaxon replay --payloads`: the exact requests each action of a rule would send for a
// notification, built by the real payload builders with secrets masked. Needs no secrets: the
// actions are created with stand-in values that are never shown.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "actions/action.h"
#include "engine/notification.h"
#include "engine/rule.h"

namespace klaxon::cli {

class PayloadPreviewer {
 public:
  static Result<std::unique_ptr<PayloadPreviewer>> Create(const RuleSet& rules);

  // [{"action": NAME, "method", "url", "headers": {...}, "body": <JSON or text>}, ...]
  nlohmann::ordered_json Preview(const Notification& n) const;
  // The same, for people, indented under the timeline line.
  std::string PreviewText(const Notification& n) const;

 private:
  explicit PayloadPreviewer(const RuleSet& rules) : rules_(rules) {}
  const RuleSet& rules_;
  std::map<std::string, std::unique_ptr<actions::Action>> actions_;
};

}  // namespace klaxon::cli
