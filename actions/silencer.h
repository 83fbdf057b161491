// Silencer: applies silences to notifications on their way to the outbox.
//
// A silenced notification is still computed and recorded (counted, logged by the caller), but
// not delivered. Per firing episode (rule, group, episode start):
//   - a firing notification that an active silence matches is held back, with its rendered
//     items, in the silence store; one of a rule without episodes (every event, new value)
//     is dropped: it never resolves, so there is nothing to release later;
//   - repeats while a silence matches are dropped;
//   - the resolve of a held episode is silenced too, and the episode forgotten: the receiver
//     never heard of it;
//   - an episode that outlives every silence matching it notifies as firing when the last one
//     ends (Release), under its original idempotency keys, so a receiver that was told
//     nothing now learns that the alert is still firing;
//   - the resolve of an episode whose firing was delivered is always delivered, even under a
//     silence created meanwhile: the incident it opened in PagerDuty or Jira must close.
// Silences follow the wall clock (as Alertmanager's), not event time.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "actions/action.h"
#include "actions/silence.h"
#include "actions/silence_store.h"
#include "engine/notification.h"
#include "engine/rule.h"
#include "engine/status.h"

namespace klaxon::actions {

struct SilencerStats {
  uint64_t silenced = 0;  // notifications not delivered because of a silence, since start
  size_t active = 0;
  size_t pending = 0;
  size_t expired = 0;        // still listed (kept for SilenceStore::kRetentionMs)
  size_t held_episodes = 0;  // firing episodes waiting for their silences to end
};

class Silencer {
 public:
  // Opens the store at `path` (the outbox's file) and loads what it holds.
  static Result<std::unique_ptr<Silencer>> Open(const std::string& path, int64_t now_ms);
  Silencer(const Silencer&) = delete;
  Silencer& operator=(const Silencer&) = delete;

  // Validates and stores a new silence; it gets a fresh id. starts_at_ms 0 means now.
  Result<Silence> Add(Silence s, int64_t now_ms);
  // Ends a silence now (it stays listed as expired). NotFound for an unknown id;
  // FailedPrecondition for one already expired.
  Status Expire(const std::string& id, int64_t now_ms);
  std::vector<Silence> List() const;  // by start time
  std::optional<Silence> Get(const std::string& id) const;

  // Decides, for one notification rendered into `items` (one per action), what to deliver:
  // on return `items` holds what to enqueue now (empty when silenced; a held firing comes
  // first when its silences ended and Release has not run yet). *silenced tells whether this
  // notification was muted. An error means the store could not record it: deliver nothing
  // and do not commit the input.
  Status Filter(const Notification& n, const Rule& rule, std::vector<Prepared>& items,
                int64_t now_ms, bool* silenced);
  // The held episodes no active silence matches any more: their firing notifications are to
  // be delivered now. They stay held until Forget, so that one the caller fails to store is
  // offered again.
  std::vector<HeldEpisode> Released(int64_t now_ms) const;
  Status Forget(const std::vector<std::string>& keys);
  // Drops silences that expired more than SilenceStore::kRetentionMs ago, from the list and
  // the store: a long-running process lists them no longer than a restart would.
  Status PruneExpired(int64_t now_ms);

  SilencerStats Stats(int64_t now_ms) const;
  // The first start or end of a silence after now_ms (INT64_MAX: none): held episodes can only
  // be released then.
  int64_t NextChangeMs(int64_t now_ms) const;

 private:
  Silencer(std::unique_ptr<SilenceStore> store, std::vector<Silence> silences,
           std::vector<HeldEpisode> held);
  bool SilencedLocked(const AlertLabels& labels, int64_t now_ms) const;
  std::string NewId();

  mutable std::mutex mu_;
  std::unique_ptr<SilenceStore> store_;
  std::vector<Silence> silences_;
  std::map<std::string, HeldEpisode> held_;
  std::mt19937_64 ids_;
  uint64_t silenced_ = 0;
};

}  // namespace klaxon::actions
