// Dispatcher: delivers prepared notifications from the Outbox on its own worker threads.
//
// Submit/Enqueue write to the outbox (durable when they return) and wake a worker; evaluation
// never waits for HTTP. Workers retry with jittered exponential backoff (500 ms, x1.5, +/-50 %,
// capped at 60 s) until max_age, honour Retry-After (capped at max_retry_after_ms), give up on
// other 4xx (logged with the body), disable an action on 410, and respect each action's rate
// limit, coalescing what piles up behind it (Action::Select). Items of one order key
// (PagerDuty dedup_key, Jira label) are delivered in enqueue order. Time comes from the
// injected Clock.
//
// Scheduling: each action keeps an index of its sendable items by due time, so a pick costs
// O(actions + log items) whatever the backlog; workers serve the actions with due work in
// turn (round-robin), so a dead receiver's backlog never delays another action's notification
// by more than the requests already in progress. Actions whose last delivery failed share at
// most workers - 1 workers, so receivers that hang cannot take every worker. Repeated warnings
// (retries, give-ups, rejections) are logged once per action per warning_interval_ms with a count
// of the others.
//
// Owns its threads; borrows the outbox, actions, transport and clock (they must outlive it).
// All public methods are thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "actions/action.h"
#include "actions/delivery_history.h"
#include "actions/outbox.h"
#include "clock/clock.h"
#include "engine/log_level.h"

namespace klaxon::actions {

class Silencer;

using LogFn = std::function<void(LogLevel, const std::string&)>;

struct DispatcherStats {
  uint64_t enqueued = 0;
  uint64_t duplicates = 0;  // already in the outbox under the same idempotency key
  uint64_t sent = 0;        // notifications a receiver accepted (digest members included)
  uint64_t requests = 0;    // deliveries accepted (a digest counts once)
  uint64_t retried = 0;
  uint64_t coalesced = 0;                  // notifications folded into another's request
  std::map<std::string, uint64_t> failed;  // by reason: http_400, expired, gone, disabled, ...
  uint64_t queue_length = 0;               // pending in memory, in flight included
  int64_t outbox_size = 0;                 // rows in the outbox
  std::vector<std::string> disabled_actions;
};

struct DispatcherOptions {
  int workers = 2;
  int64_t max_age_ms = 3600000;  // give up on a notification this long after it was enqueued
  int64_t initial_backoff_ms = 500;
  double backoff_multiplier = 1.5;
  double jitter = 0.5;  // +/- fraction
  int64_t max_backoff_ms = 60000;
  uint64_t seed = 0;        // jitter PRNG seed; 0: random
  size_t max_digest = 500;  // most items merged into one digest
  // Longest wait a Retry-After can impose (and longest action pause); longer values are cut
  // to it. A Retry-After never makes a notification be given up: the attempt it asks for is
  // made even past max_age.
  int64_t max_retry_after_ms = 300000;
  // At most one retry/give-up/rejection log line per action and kind per interval (clock
  // time); the next line says how many were suppressed.
  int64_t warning_interval_ms = 10000;
  // Stop() lets requests in progress finish for this long (wall time), then abandons them
  // (Transport::Abort); they stay in the outbox and are sent again after a restart.
  int64_t stop_grace_ms = 1000;
  // Applies silences in Submit(batch, rules) and releases held episodes from the workers
  // (at most silence_check_ms of clock time after their silences end). Borrowed; may be null.
  Silencer* silencer = nullptr;
  int64_t silence_check_ms = 1000;
  // Notifications remembered with their delivery per action, for the status page.
  size_t history_size = 100;
  // A reload replaces the dispatcher: the history (shared; null: a new one of history_size)
  // and the counters go on from the previous one, so /metrics counters never go down.
  std::shared_ptr<DeliveryHistory> history;
  const DispatcherStats* counters_from = nullptr;  // copied at Start
  LogFn log;                                       // may be empty; messages never contain secrets
};

// The delay before retry number `attempt` (1-based) with the jitter factor `u` in [0, 1):
// min(cap, initial * multiplier^(attempt-1)) * (1 - jitter + 2 * jitter * u), at most cap.
int64_t BackoffDelayMs(const DispatcherOptions& o, uint32_t attempt, double u);

// Every label DispatcherStats::failed can be reported under (see FailureReasonLabel): a metric
// pre-sets them all to 0, so a first failure is an increase rather than a new series.
std::span<const std::string_view> FailureReasonLabels();
// The label for a reason in DispatcherStats::failed: a final HTTP status counts as its class
// ("http_404" -> "http_4xx"), so the label set stays closed whatever receivers answer.
std::string FailureReasonLabel(std::string_view reason);

class Dispatcher {
 public:
  // Loads what the outbox still holds (a previous run's undelivered notifications) and starts
  // the workers. Items of actions not in `actions` stay in the outbox untouched (logged).
  static Result<std::unique_ptr<Dispatcher>> Start(Outbox& outbox,
                                                   std::vector<const Action*> actions,
                                                   Transport& transport, const Clock& clock,
                                                   DispatcherOptions options);
  ~Dispatcher();  // Stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Prepares `n` for each of rule.actions this dispatcher knows and stores them. OK means all
  // are durable (or skipped on purpose: send_resolved false, action disabled); an error means
  // the caller must not consider the notification handed over (do not commit its offset).
  Status Submit(const Notification& n, const Rule& rule);
  // The same for a batch (e.g. what one Engine::Process call returned), in one outbox commit;
  // each notification's rule is rules.rules[n.rule_index].
  Status Submit(std::span<const Notification> batch, const RuleSet& rules);
  // Stores one prepared item (its action must be known). Sets *id when given.
  Status Enqueue(const Prepared& p, int64_t* id = nullptr);
  // Enqueues and waits (wall time) until the item is accepted or given up, for `klaxon
  // notify`. On timeout returns the last attempt's result (kind kRetry) or Unavailable.
  Result<DeliveryResult> SendAndWait(const Prepared& p, int64_t timeout_ms);

  // Waits (wall time) until nothing is pending; false on timeout. Workers keep running.
  bool Drain(int64_t timeout_ms);
  // Stops the workers: requests in progress get stop_grace_ms to finish, then are abandoned
  // (Transport::Abort). Pending items stay in the outbox.
  void Stop();

  DispatcherStats Stats() const;
  std::vector<OutboxItem> Pending() const;  // snapshot, oldest first
  // The last notifications submitted (newest first) and what became of them per action.
  std::vector<NotificationRecord> RecentNotifications() const { return history_->Newest(); }
  const std::shared_ptr<DeliveryHistory>& history() const { return history_; }

 private:
  struct Entry {
    OutboxItem item;
    bool in_flight = false;
    // Rescheduled by a Retry-After that lands past max_age: that attempt is still made.
    bool retry_after_grace = false;
  };
  struct RepeatedLog {
    int64_t last_ms = 0;
    bool logged_once = false;
    uint64_t suppressed = 0;
  };
  struct ActionState {
    const Action* action = nullptr;
    std::set<int64_t> ids;  // pending, in enqueue order
    // (next_attempt_ms, id) of the items that could be sent once due: not in flight, and the
    // first pending item of their order key (or without one). The due-time index.
    std::set<std::pair<int64_t, int64_t>> ready;
    std::map<std::string, std::set<int64_t>> chains;  // order key -> pending ids, in order
    int64_t last_send_ms = 0;
    bool sent_once = false;
    int in_flight = 0;
    bool disabled = false;
    bool failing = false;         // its last delivery is being retried (timeout, 5xx, refused, ...)
    int64_t paused_until_ms = 0;  // Retry-After on 429/503 pauses the whole action
    std::map<std::string, RepeatedLog> repeated;  // by kind: retry, expired, rejected
  };
  struct Work {
    ActionState* state = nullptr;
    bool failing = false;  // counted in failing_in_flight_
    std::vector<int64_t> members;
    Prepared send;
  };

  Dispatcher(Outbox& outbox, Transport& transport, const Clock& clock, DispatcherOptions options);
  void WorkerLoop();
  // Under mu_: finds something to send now, or sets *next_due_ms (INT64_MAX: nothing pending).
  bool FindWork(int64_t now, Work& work, int64_t& next_due_ms);
  void Complete(Work& work, const DeliveryResult& result);
  // Under mu_: forget and wake waiters. `together`: how many notifications the request that
  // delivered this one carried (a digest or a collapsed run shows as coalesced).
  void Finish(int64_t id, const DeliveryResult& result, size_t together = 1);
  void Log(LogLevel level, const std::string& message) const;
  // Under mu_: logs at most once per warning_interval_ms per (action, kind).
  void LogRepeated(ActionState& st, const std::string& kind, LogLevel level,
                   const std::string& message, int64_t now);
  void AddItem(OutboxItem item);  // under mu_
  // Under mu_: index maintenance. An item enters `ready` when it is not in flight and first
  // of its order chain; leaves it when taken or finished.
  void MarkReadyIfHead(ActionState& st, Entry& e);
  void ExpireOld(int64_t now);
  Status EnqueueImpl(const Prepared& p, int64_t* id, bool wait);
  Status EnqueueMany(std::vector<Prepared> prepared);
  // Deletes accepted items from the outbox; concurrent callers are folded into one transaction.
  void FlushRemovals(std::vector<int64_t> ids);
  // Enqueues the held episodes whose silences ended (Silencer::Release). Not under mu_.
  void ReleaseSilenced(int64_t now);

  Outbox& outbox_;
  Transport& transport_;
  const Clock& clock_;
  DispatcherOptions options_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  mutable std::condition_variable done_cv_;
  bool stop_ = false;
  std::map<int64_t, Entry> items_;
  std::set<std::pair<int64_t, int64_t>> by_created_;  // (created_at_ms, id): max_age index
  std::map<std::string, ActionState> actions_;
  std::string last_served_;  // round-robin position among actions
  // Requests in progress for failing actions: at most workers - 1, so a slow or dead receiver
  // (or several) always leaves a worker to the others.
  int failing_in_flight_ = 0;
  int busy_ = 0;                              // requests in progress
  std::map<int64_t, DeliveryResult> waited_;  // ids someone waits on -> last result
  std::set<int64_t> finished_waited_;
  std::vector<int64_t> removals_;  // accepted, not yet deleted from the outbox
  bool removing_ = false;
  int64_t next_silence_check_ms_ = 0;  // under mu_
  std::mt19937_64 rng_;
  std::shared_ptr<DeliveryHistory> history_;
  DispatcherStats stats_;
  std::vector<std::thread> workers_;
};

}  // namespace klaxon::actions
