// SilenceStore: silences and the episodes they hold back, durable in SQLite.
//
// It lives in the outbox's file (its own tables, its own connection; SQLite's WAL lets both
// write), so a silence survives a restart exactly as the notifications beside it do. Expired
// silences are kept for kRetentionMs (Alertmanager keeps them 5 days) so that they can be
// listed and looked up, then pruned.
//
// Not thread-safe: Silencer serialises access.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actions/action.h"
#include "actions/silence.h"
#include "engine/status.h"

struct sqlite3;

namespace klaxon::actions {

// A firing episode whose notification a silence held back: delivered (under its original
// idempotency keys) if the episode outlives every silence that matches it.
struct HeldEpisode {
  std::string key;  // EpisodeKey + episode start
  AlertLabels labels;
  std::vector<Prepared> items;  // the firing notification, rendered for each action
  int64_t held_at_ms = 0;
};

class SilenceStore {
 public:
  static constexpr int64_t kRetentionMs = 5 * 24 * 3600 * 1000LL;

  static Result<std::unique_ptr<SilenceStore>> Open(const std::string& path);
  ~SilenceStore();
  SilenceStore(const SilenceStore&) = delete;
  SilenceStore& operator=(const SilenceStore&) = delete;

  // Every stored silence; one whose matchers no longer parse is an error naming it.
  Result<std::vector<Silence>> LoadSilences();
  Status SaveSilence(const Silence& s);  // insert or replace by id
  Status PruneExpired(int64_t now_ms);   // expired more than kRetentionMs ago

  Result<std::vector<HeldEpisode>> LoadHeld();
  Status SaveHeld(const HeldEpisode& e);
  Status RemoveHeld(const std::string& key);

 private:
  SilenceStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status Exec(const char* sql);
  Status Error(const std::string& what) const;

  sqlite3* db_;
  std::string path_;
};

}  // namespace klaxon::actions
