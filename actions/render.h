// What templates and payload builders see of a notification: formatted measurements, the rule,
// its group and the triggering event (parsed once, scrubbed of sensitive fields).
//
// RenderContext is built per notification (notifications are rare) and is immutable after
// construction; pure functions only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/notification.h"
#include "engine/rule.h"
#include "engine/template.h"

namespace klaxon::actions {

// "1m", "5m", "1h", "1m30s" (engine/time_format.h, the rule language's notation).
std::string FormatWindow(int64_t window_ms);
// Integral values without a decimal point ("12"), others with up to 6 significant digits.
std::string FormatNumber(double v);
// "2026-11-25T03:36:00.000Z".
std::string FormatIso8601(int64_t unix_ms);

// Sentry's default scrubbing: a key containing password, secret, passwd, api_key, apikey,
// access_token, auth, credentials, token, private_key, privatekey, mysql_pwd, stripetoken,
// github_token (case-insensitive) hides its value; card-number-like digit runs (13-19 digits,
// optional spaces/dashes, Luhn-valid) inside any string are replaced.
inline constexpr std::string_view kFiltered = "[Filtered]";
bool IsSensitiveKey(std::string_view key);
std::string ScrubCardNumbers(std::string_view text);
void ScrubJson(nlohmann::json& value);

// Stable identities (hex). IdempotencyKey: one notification (rule, group, episode, state,
// repeat; and the event, for rules without episodes) - equal across a crash and restart.
// EpisodeKey: the (rule, group) alert, used as PagerDuty's dedup_key and Jira's label.
std::string IdempotencyKey(const Notification& n);
std::string EpisodeKey(std::string_view rule_id,
                       const std::vector<std::optional<std::string>>& group);
// The order key of a notification whose action may otherwise deliver items in parallel (webhook,
// Slack): one chain per alert, so its resolve never overtakes its firing; empty for rules
// without episodes, whose per-event notifications need no order.
std::string AlertOrderKey(const Notification& n, const Rule& rule);

class RenderContext {
 public:
  RenderContext(const Notification& n, const Rule& rule);

  // Template lookup: count, value, threshold, window, rule.name, rule.severity, rule.id, state,
  // at, group.<field>, labels.<key>, event.<path>, event.title (Sentry's title, computed when the
  // event has none; see docs/actions.md). Unknown: nullopt.
  std::optional<std::string> Get(std::string_view name) const;
  std::string Render(const Template& t) const;

  const Notification& notification() const { return n_; }
  const Rule& rule() const { return rule_; }
  const nlohmann::json& event() const { return event_; }  // scrubbed; null when absent
  // (field as written, value or "" when missing), scrubbed, in rule order.
  const std::vector<std::pair<std::string, std::string>>& group() const { return group_; }
  // "service=orders-api, env=prod"; "" for an ungrouped rule.
  std::string GroupText() const;
  // Event tags as an object (Sentry's list-of-pairs form converted), scrubbed.
  nlohmann::json Tags() const;
  // The rule summary rendered, or a default "<rule>: <value> <op> <threshold> in <window>".
  std::string Summary() const;
  std::string Description() const;    // rendered, may be empty
  std::string ConditionText() const;  // "> 5 in 1m"

 private:
  std::optional<std::string> EventField(std::string_view path) const;

  const Notification& n_;
  const Rule& rule_;
  nlohmann::json event_;
  std::vector<std::pair<std::string, std::string>> group_;
};

// A synthetic notification for `klaxon notify`: state firing, each group field "test", the
// threshold plus one as value, an event with event_id "klaxon-test-<now>".
Notification MakeTestNotification(const Rule& rule, uint32_t rule_index, int64_t now_ms);

}  // namespace klaxon::actions
