#include "actions/silencer.h"

#include <algorithm>
#include <climits>

#include <fmt/format.h>

#include "actions/render.h"

namespace klaxon::actions {

Result<std::unique_ptr<Silencer>> Silencer::Open(const std::string& path, int64_t now_ms) {
  Result<std::unique_ptr<SilenceStore>> store = SilenceStore::Open(path);
  if (!store.ok()) return store.status();
  if (Status s = (*store)->PruneExpired(now_ms); !s.ok()) return s;
  Result<std::vector<Silence>> silences = (*store)->LoadSilences();
  if (!silences.ok()) return silences.status();
  Result<std::vector<HeldEpisode>> held = (*store)->LoadHeld();
  if (!held.ok()) return held.status();
  return std::unique_ptr<Silencer>(
      new Silencer(std::move(store).value(), std::move(silences).value(), std::move(held).value()));
}

Silencer::Silencer(std::unique_ptr<SilenceStore> store, std::vector<Silence> silences,
                   std::vector<HeldEpisode> held)
    : store_(std::move(store)), silences_(std::move(silences)), ids_(std::random_device{}()) {
  for (HeldEpisode& e : held) {
    std::string key = e.key;
    held_.emplace(std::move(key), std::move(e));
  }
}

std::string Silencer::NewId() {
  // A random (version 4) UUID, as Alertmanager's silence ids.
  const uint64_t a = ids_();
  const uint64_t b = ids_();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffULL);
}

Result<Silence> Silencer::Add(Silence s, int64_t now_ms) {
  if (s.starts_at_ms == 0) s.starts_at_ms = now_ms;
  if (Status v = ValidateSilence(s); !v.ok()) return v;
  if (s.ends_at_ms <= now_ms) return Status::InvalidArgument("the end must be in the future");
  std::lock_guard lock(mu_);
  s.id = NewId();
  s.updated_at_ms = now_ms;
  if (Status st = store_->SaveSilence(s); !st.ok()) return st;
  silences_.push_back(s);
  std::stable_sort(silences_.begin(), silences_.end(), [](const Silence& a, const Silence& b) {
    return a.starts_at_ms < b.starts_at_ms;
  });
  return s;
}

Status Silencer::Expire(const std::string& id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (Silence& s : silences_) {
    if (s.id != id) continue;
    if (StateAt(s, now_ms) == SilenceState::kExpired) {
      return Status::FailedPrecondition("silence " + id + " has already expired");
    }
    Silence updated = s;
    updated.ends_at_ms = now_ms;
    // A pending silence that never started ends before it began: keep start <= end.
    updated.starts_at_ms = std::min(updated.starts_at_ms, now_ms);
    updated.updated_at_ms = now_ms;
    if (Status st = store_->SaveSilence(updated); !st.ok()) return st;
    s = std::move(updated);
    return Status::Ok();
  }
  return Status::NotFound("no silence " + id);
}

std::vector<Silence> Silencer::List() const {
  std::lock_guard lock(mu_);
  return silences_;
}

std::optional<Silence> Silencer::Get(const std::string& id) const {
  std::lock_guard lock(mu_);
  for (const Silence& s : silences_) {
    if (s.id == id) return s;
  }
  return std::nullopt;
}

bool Silencer::SilencedLocked(const AlertLabels& labels, int64_t now_ms) const {
  for (const Silence& s : silences_) {
    if (StateAt(s, now_ms) == SilenceState::kActive && Matches(s, labels)) return true;
  }
  return false;
}

Status Silencer::Filter(const Notification& n, const Rule& rule, std::vector<Prepared>& items,
                        int64_t now_ms, bool* silenced) {
  *silenced = false;
  const std::string key = EpisodeKey(n.rule_id, n.group) + "@" + std::to_string(n.episode_start_ms);
  std::lock_guard lock(mu_);
  auto held = held_.find(key);
  if (n.state == AlertState::kResolved) {
    if (held == held_.end()) return Status::Ok();
    if (Status s = store_->RemoveHeld(key); !s.ok()) return s;
    held_.erase(held);
    items.clear();
    *silenced = true;
    ++silenced_;
    return Status::Ok();
  }
  AlertLabels labels = LabelsOf(n, rule);
  if (SilencedLocked(labels, now_ms)) {
    // One-shot notifications (every event, a new value) have no episode that could outlive
    // the silence: muted means dropped, or a silence over a maintenance window would end in a
    // flood of everything it muted.
    if (n.state == AlertState::kFiring && held == held_.end() && HasEpisodes(rule.condition)) {
      HeldEpisode e{key, std::move(labels), items, now_ms};
      if (Status s = store_->SaveHeld(e); !s.ok()) return s;
      held_.emplace(key, std::move(e));
    }
    items.clear();
    *silenced = true;
    ++silenced_;
    return Status::Ok();
  }
  if (held != held_.end()) {
    // Its silences ended between two Release calls: the firing goes first.
    if (Status s = store_->RemoveHeld(key); !s.ok()) return s;
    items.insert(items.begin(), held->second.items.begin(), held->second.items.end());
    held_.erase(held);
  }
  return Status::Ok();
}

std::vector<HeldEpisode> Silencer::Released(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  std::vector<HeldEpisode> out;
  for (const auto& [key, e] : held_) {
    if (!SilencedLocked(e.labels, now_ms)) out.push_back(e);
  }
  return out;
}

Status Silencer::Forget(const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  for (const std::string& key : keys) {
    if (held_.erase(key) == 0) continue;
    if (Status s = store_->RemoveHeld(key); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Silencer::PruneExpired(int64_t now_ms) {
  std::lock_guard lock(mu_);
  // The store's criterion (SilenceStore::PruneExpired), so memory and file agree.
  const int64_t before = now_ms - SilenceStore::kRetentionMs;
  const auto gone = [before](const Silence& s) { return s.ends_at_ms < before; };
  if (std::none_of(silences_.begin(), silences_.end(), gone)) return Status::Ok();
  if (Status s = store_->PruneExpired(now_ms); !s.ok()) return s;
  std::erase_if(silences_, gone);
  return Status::Ok();
}

int64_t Silencer::NextChangeMs(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  int64_t next = INT64_MAX;
  for (const Silence& s : silences_) {
    if (s.starts_at_ms > now_ms) next = std::min(next, s.starts_at_ms);
    if (s.ends_at_ms > now_ms) next = std::min(next, s.ends_at_ms);
  }
  return next;
}

SilencerStats Silencer::Stats(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  SilencerStats st;
  st.silenced = silenced_;
  st.held_episodes = held_.size();
  for (const Silence& s : silences_) {
    switch (StateAt(s, now_ms)) {
      case SilenceState::kPending:
        ++st.pending;
        break;
      case SilenceState::kActive:
        ++st.active;
        break;
      case SilenceState::kExpired:
        ++st.expired;
        break;
    }
  }
  return st;
}

}  // namespace klaxon::actions
