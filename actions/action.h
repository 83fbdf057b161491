// Action: turns a notification into the request(s) one configured receiver gets.
//
// One factory per kind, listed explicitly in BuiltinActionKinds() (no self-registration).
// CreateAction validates the definition (ValidateActionDef), resolves secrets once through the
// caller's SecretResolver and compiles templates. An Action is immutable after creation and
// thread-safe: the dispatcher's workers call Deliver concurrently.
//
// Delivery is split in two so nothing secret is ever stored and previews use the real path:
//   Prepare  (pure)  Notification + Rule -> Prepared: a secret-free payload the outbox stores;
//   Requests (pure)  Prepared + now -> the exact HTTP requests (secrets filled in, or masked);
//   Deliver          sends them through a Transport and classifies the outcome.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "actions/http_types.h"
#include "engine/notification.h"
#include "engine/rule.h"
#include "engine/status.h"

namespace klaxon::actions {

// Resolves env("NAME") / file("path") values to their text. The CLI implements it with
// getenv and file reads; tests with a map. Errors must not contain the secret.
using SecretResolver = std::function<Result<std::string>(const ActionValue&)>;

struct ActionOptions {
  std::string klaxon_url;  // base URL for links back to Klaxon in payloads; may be empty
  // Where the log action writes for path "-"; nullptr means std::cout. Not owned.
  std::ostream* log_stream = nullptr;
};

// A notification rendered for one action, free of secrets: what the outbox stores.
struct Prepared {
  std::string action;           // ActionDef name
  std::string idempotency_key;  // webhook-id, Request-ID; stable across crash and restart
  // Items of one action with the same non-empty order key are delivered in enqueue order
  // (PagerDuty dedup_key, Jira label): a resolve never overtakes its trigger.
  std::string order_key;
  std::string state;    // firing, repeat, resolved, digest
  std::string payload;  // kind-specific document
};

struct DeliveryResult {
  enum class Kind { kAccepted, kRetry, kFinal, kGone };
  Kind kind = Kind::kAccepted;
  std::string reason;           // metric label: "http_500", "timeout", "blocked", ...
  int64_t retry_after_ms = -1;  // from Retry-After, when the receiver sent one
  std::string detail;           // truncated response body or error; secrets redacted
};

// Classifies one HTTP exchange: 2xx accepted; 3xx final (redirects are never followed);
// 410 gone; 408, 429, 5xx retry (Retry-After honoured, seconds or HTTP date); other 4xx final;
// transport errors retry except a blocked or malformed destination (final).
DeliveryResult ClassifyResponse(const HttpResponse& response, int64_t now_ms);
// Retry-After as a delay from now: delta-seconds or an HTTP date; nullopt when unparsable.
std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_ms);

// Which due items to send as one request, and what to send.
struct Batch {
  std::vector<size_t> members;  // indices into the `due` span, at least one
  Prepared send;
};

class Action {
 public:
  virtual ~Action() = default;

  const std::string& name() const { return name_; }
  const std::string& kind() const { return kind_; }
  // Minimum spacing of requests (the receiver's rate limit); 0 = unlimited.
  int64_t min_interval_ms() const { return min_interval_ms_; }

  // nullopt when this action does not notify this state (send_resolved: false).
  virtual std::optional<Prepared> Prepare(const Notification& n, const Rule& rule) const = 0;
  // The requests `p` becomes at `now_ms`; with `mask`, secrets are shown as ***. Multi-step
  // kinds (jira) list every request they may send, in order.
  virtual Result<std::vector<HttpRequest>> Requests(const Prepared& p, int64_t now_ms,
                                                    bool mask) const = 0;
  // Sends `p`. The default sends Requests(p, now, false) in order, stopping at the first
  // request that is not accepted.
  virtual DeliveryResult Deliver(const Prepared& p, Transport& transport, int64_t now_ms) const;
  // `due`: items of this action ready to go, oldest first; of each order chain only a prefix
  // (nothing before it pending or in flight), so members may be taken from a chain's start.
  // `over_limit`: they waited for the rate limit. The default sends the first alone; kinds
  // that coalesce (slack, webhook) send one digest ("and 37 more") when over the limit.
  virtual Batch Select(std::span<const Prepared* const> due, bool over_limit) const;

  // "slack ops-channel -> https://hooks.slack.com/services/***": secrets masked.
  virtual std::string Describe() const;
  // Replaces every secret this action holds by *** (for logs and error details).
  std::string Redact(std::string text) const;
  // The response with secrets masked in its body and error, whole (before any truncation).
  HttpResponse RedactResponse(HttpResponse response) const;

 protected:
  Action(std::string name, std::string kind) : name_(std::move(name)), kind_(std::move(kind)) {}
  // Registers a secret for Redact; for a URL also its path (error pages echo paths).
  void AddSecret(const std::string& s);
  // A secret "Name: value" header line: also its value, and the credential after an auth
  // scheme ("Bearer abc" -> "abc").
  void AddHeaderSecret(const std::string& line);
  std::string name_;
  std::string kind_;
  int64_t min_interval_ms_ = 0;
  std::string target_;  // masked destination for Describe()
  bool send_resolved_ = true;

 private:
  std::vector<std::string> secrets_;
};

using ActionFactory = Result<std::unique_ptr<Action>> (*)(const ActionDef& def,
                                                          const SecretResolver& secrets,
                                                          const ActionOptions& options);
struct ActionKindEntry {
  std::string_view kind;
  ActionFactory create;
};

// The explicit list of built-in kinds: slack, pagerduty, jira, webhook, log.
std::span<const ActionKindEntry> BuiltinActionKinds();

// Validates `def` (errors "file:line:col: message", all of them, newline-separated), resolves
// its secrets and builds the action.
Result<std::unique_ptr<Action>> CreateAction(const ActionDef& def, const SecretResolver& secrets,
                                             const ActionOptions& options);

// The exact requests `action` would send for `n` at `now_ms`, secrets masked (for
// `klaxon replay --payloads`). Empty when the action skips this notification.
Result<std::vector<HttpRequest>> PreviewRequests(const Action& action, const Notification& n,
                                                 const Rule& rule, int64_t now_ms);

// "https://hooks.slack.com/services/T0/B0/x" -> "https://hooks.slack.com/services/***".
std::string MaskUrl(std::string_view url);

// Prints a request for people: "POST url\nName: value\n\n<body, pretty when JSON>\n".
std::string FormatRequest(const HttpRequest& r);

}  // namespace klaxon::actions
