#include "actions/dispatcher.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>

#include <fmt/format.h>

#include "actions/render.h"
#include "actions/silencer.h"
#include "engine/time_format.h"

namespace klaxon::actions {

namespace {

// "service=orders-api environment=production", for people.
std::string GroupText(const Notification& n, const Rule& rule) {
  std::string out;
  for (size_t i = 0; i < rule.group_by.size() && i < n.group.size(); ++i) {
    out += (out.empty() ? "" : " ") + rule.group_by[i].name + "=" + n.group[i].value_or("");
  }
  return out;
}

}  // namespace

int64_t BackoffDelayMs(const DispatcherOptions& o, uint32_t attempt, double u) {
  double base = static_cast<double>(o.initial_backoff_ms) *
                std::pow(o.backoff_multiplier, static_cast<double>(attempt > 0 ? attempt - 1 : 0));
  base = std::min(base, static_cast<double>(o.max_backoff_ms));
  const double jittered = base * (1.0 - o.jitter + 2.0 * o.jitter * u);
  return std::min(static_cast<int64_t>(jittered), o.max_backoff_ms);
}

std::span<const std::string_view> FailureReasonLabels() {
  // Final results: ClassifyResponse (blocked and bad_url destinations, 1xx/3xx/4xx other than
  // 408, 410, 429), Action::Deliver and Jira (render, transition_not_found); and the
  // dispatcher's own: expired (past max_age_ms), gone (410 drops), disabled.
  static constexpr std::string_view kLabels[] = {
      "bad_url",  "blocked",  "disabled", "expired", "gone",
      "http_1xx", "http_3xx", "http_4xx", "render",  "transition_not_found",
  };
  return kLabels;
}

std::string FailureReasonLabel(std::string_view reason) {
  constexpr std::string_view kHttp = "http_";
  if (reason.size() == kHttp.size() + 3 && reason.starts_with(kHttp)) {
    return std::string(reason.substr(0, kHttp.size() + 1)) + "xx";
  }
  return std::string(reason);
}

Dispatcher::Dispatcher(Outbox& outbox, Transport& transport, const Clock& clock,
                       DispatcherOptions options)
    : outbox_(outbox),
      transport_(transport),
      clock_(clock),
      options_(std::move(options)),
      rng_(options_.seed != 0 ? options_.seed : std::random_device{}()),
      history_(options_.history ? options_.history
                                : std::make_shared<DeliveryHistory>(options_.history_size)) {
  if (options_.counters_from != nullptr) {
    const DispatcherStats& c = *options_.counters_from;
    stats_.enqueued = c.enqueued;
    stats_.duplicates = c.duplicates;
    stats_.sent = c.sent;
    stats_.requests = c.requests;
    stats_.retried = c.retried;
    stats_.coalesced = c.coalesced;
    stats_.failed = c.failed;
    options_.counters_from = nullptr;  // borrowed for this copy only
  }
}

Result<std::unique_ptr<Dispatcher>> Dispatcher::Start(Outbox& outbox,
                                                      std::vector<const Action*> actions,
                                                      Transport& transport, const Clock& clock,
                                                      DispatcherOptions options) {
  std::unique_ptr<Dispatcher> d(new Dispatcher(outbox, transport, clock, std::move(options)));
  for (const Action* a : actions) {
    if (a == nullptr) continue;
    if (d->actions_.count(a->name()) != 0) {
      return Status::InvalidArgument("action `" + a->name() + "` given twice");
    }
    d->actions_[a->name()].action = a;
  }
  auto pending = outbox.LoadPending();
  if (!pending.ok()) return pending.status();
  std::map<std::string, size_t> orphans;
  for (OutboxItem& item : *pending) {
    if (d->actions_.count(item.prepared.action) == 0) {
      ++orphans[item.prepared.action];
      continue;
    }
    d->AddItem(std::move(item));
  }
  for (const auto& [name, count] : orphans) {
    d->Log(LogLevel::kWarn, "outbox holds " + std::to_string(count) +
                                " notification(s) for action `" + name +
                                "`, which is not configured; kept in the outbox");
  }
  if (!pending->empty()) {
    d->Log(LogLevel::kInfo, "resuming delivery of " + std::to_string(d->items_.size()) +
                                " notification(s) left in the outbox");
  }
  const int n = std::max(1, d->options_.workers);
  for (int i = 0; i < n; ++i) d->workers_.emplace_back([raw = d.get()] { raw->WorkerLoop(); });
  return d;
}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Stop() {
  {
    std::unique_lock lock(mu_);
    stop_ = true;
    work_cv_.notify_all();
    done_cv_.notify_all();
    // Requests in progress get a moment, then are abandoned: a receiver that trickles its
    // answer must not hold shutdown or a reload for the whole request deadline.
    if (!done_cv_.wait_for(lock,
                           std::chrono::milliseconds(std::max<int64_t>(0, options_.stop_grace_ms)),
                           [&] { return busy_ == 0; })) {
      lock.unlock();
      transport_.Abort();
    }
  }
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  // Counts of suppressed repeats not yet reported by a later line.
  std::lock_guard lock(mu_);
  for (auto& [name, st] : actions_) {
    for (auto& [kind, r] : st.repeated) {
      if (r.suppressed == 0) continue;
      Log(LogLevel::kWarn, "action `" + name + "`: " + std::to_string(r.suppressed) + " similar " +
                               kind + " message(s) suppressed since the last one");
      r.suppressed = 0;
    }
  }
}

void Dispatcher::Log(LogLevel level, const std::string& message) const {
  if (options_.log) options_.log(level, message);
}

void Dispatcher::LogRepeated(ActionState& st, const std::string& kind, LogLevel level,
                             const std::string& message, int64_t now) {
  RepeatedLog& r = st.repeated[kind];
  if (r.logged_once && now - r.last_ms < options_.warning_interval_ms) {
    ++r.suppressed;
    return;
  }
  std::string line = message;
  if (r.suppressed > 0) {
    line += " (" + std::to_string(r.suppressed) + " similar message(s) for action `" +
            st.action->name() + "` suppressed since the last one)";
  }
  r.logged_once = true;
  r.last_ms = now;
  r.suppressed = 0;
  Log(level, line);
}

void Dispatcher::MarkReadyIfHead(ActionState& st, Entry& e) {
  if (e.in_flight) return;
  const std::string& key = e.item.prepared.order_key;
  if (!key.empty()) {
    auto chain = st.chains.find(key);
    if (chain == st.chains.end() || chain->second.empty() || *chain->second.begin() != e.item.id)
      return;
  }
  st.ready.emplace(e.item.next_attempt_ms, e.item.id);
}

void Dispatcher::AddItem(OutboxItem item) {
  const int64_t id = item.id;
  ActionState& st = actions_[item.prepared.action];
  st.ids.insert(id);
  if (!item.prepared.order_key.empty()) st.chains[item.prepared.order_key].insert(id);
  by_created_.emplace(item.created_at_ms, id);
  Entry& e = items_[id] = Entry{std::move(item), false, false};
  MarkReadyIfHead(st, e);
}

Status Dispatcher::Submit(const Notification& n, const Rule& rule) {
  Status first_error;
  for (const std::string& name : rule.actions) {
    const Action* action = nullptr;
    {
      std::lock_guard lock(mu_);
      auto it = actions_.find(name);
      if (it != actions_.end()) action = it->second.action;
    }
    if (action == nullptr) {
      if (first_error.ok()) {
        first_error =
            Status::NotFound("rule `" + rule.name + "` names unknown action `" + name + "`");
      }
      continue;
    }
    std::optional<Prepared> p = action->Prepare(n, rule);
    if (!p) continue;
    if (Status s = Enqueue(*p); !s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

Status Dispatcher::Submit(std::span<const Notification> batch, const RuleSet& rules) {
  std::vector<Prepared> prepared;
  Status first_error;
  for (const Notification& n : batch) {
    if (n.rule_index >= rules.rules.size()) {
      if (first_error.ok())
        first_error = Status::InvalidArgument("notification for an unknown rule");
      continue;
    }
    const Rule& rule = rules.rules[n.rule_index];
    std::vector<Prepared> items;
    for (const std::string& name : rule.actions) {
      const Action* action = nullptr;
      {
        std::lock_guard lock(mu_);
        auto it = actions_.find(name);
        if (it != actions_.end()) action = it->second.action;
      }
      if (action == nullptr) {
        if (first_error.ok()) {
          first_error =
              Status::NotFound("rule `" + rule.name + "` names unknown action `" + name + "`");
        }
        continue;
      }
      if (std::optional<Prepared> p = action->Prepare(n, rule)) items.push_back(std::move(*p));
    }
    NotificationRecord record{n.at_ms, rule.name, GroupText(n, rule), AlertStateName(n.state), {}};
    std::vector<std::string> keys;
    for (const Prepared& p : items) {
      record.deliveries.push_back({p.action, "queued", ""});
      keys.push_back(p.idempotency_key);
    }
    if (options_.silencer != nullptr) {
      bool silenced = false;
      if (Status s = options_.silencer->Filter(n, rule, items, clock_.NowMs(), &silenced);
          !s.ok()) {
        return s;
      }
      if (silenced) {
        for (DeliveryRecord& d : record.deliveries) d.state = "silenced";
        Log(LogLevel::kDebug, fmt::format("silenced: {} {} ({})", rule.name,
                                          AlertStateName(n.state), IdempotencyKey(n)));
      }
    }
    history_->Add(std::move(record), keys);
    for (Prepared& p : items) prepared.push_back(std::move(p));
  }
  if (Status s = EnqueueMany(std::move(prepared)); !s.ok()) return s;
  return first_error;
}

Status Dispatcher::EnqueueMany(std::vector<Prepared> prepared) {
  std::vector<OutboxItem> items;
  {
    std::lock_guard lock(mu_);
    for (Prepared& p : prepared) {
      auto it = actions_.find(p.action);
      if (it == actions_.end()) continue;
      if (it->second.disabled) {
        ++stats_.failed["disabled"];
        continue;
      }
      OutboxItem item;
      item.prepared = std::move(p);
      items.push_back(std::move(item));
    }
  }
  if (items.empty()) return Status::Ok();
  const int64_t now = clock_.NowMs();
  for (OutboxItem& item : items) item.created_at_ms = item.next_attempt_ms = now;
  std::vector<bool> duplicates;
  if (Status s = outbox_.EnqueueBatch(items, duplicates); !s.ok()) {
    Log(LogLevel::kError, "notifications not stored: " + s.message());
    return s;
  }
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < items.size(); ++i) {
      if (duplicates[i]) {
        ++stats_.duplicates;
      } else {
        ++stats_.enqueued;
        AddItem(std::move(items[i]));
      }
    }
  }
  work_cv_.notify_all();
  return Status::Ok();
}

void Dispatcher::FlushRemovals(std::vector<int64_t> ids) {
  std::unique_lock lock(mu_);
  removals_.insert(removals_.end(), ids.begin(), ids.end());
  if (removing_) return;  // the flushing worker will take ours too
  removing_ = true;
  while (!removals_.empty()) {
    std::vector<int64_t> batch;
    batch.swap(removals_);
    lock.unlock();
    Status s = outbox_.Remove(batch);
    lock.lock();
    if (!s.ok()) Log(LogLevel::kError, s.message());
  }
  removing_ = false;
  done_cv_.notify_all();
}

Status Dispatcher::Enqueue(const Prepared& p, int64_t* id) { return EnqueueImpl(p, id, false); }

Status Dispatcher::EnqueueImpl(const Prepared& p, int64_t* id, bool wait) {
  {
    std::lock_guard lock(mu_);
    auto it = actions_.find(p.action);
    if (it == actions_.end() || it->second.action == nullptr) {
      return Status::NotFound("unknown action `" + p.action + "`");
    }
    if (it->second.disabled) {
      ++stats_.failed["disabled"];
      Log(LogLevel::kError, "action `" + p.action +
                                "` is disabled (its receiver answered 410 Gone); notification " +
                                p.idempotency_key + " dropped");
      return Status::Ok();
    }
  }
  OutboxItem item;
  item.prepared = p;
  item.created_at_ms = clock_.NowMs();
  item.next_attempt_ms = item.created_at_ms;
  bool duplicate = false;
  if (Status s = outbox_.Enqueue(item, &duplicate); !s.ok()) {
    Log(LogLevel::kError, "notification not stored: " + s.message());
    return s;
  }
  if (id != nullptr) *id = item.id;
  {
    std::lock_guard lock(mu_);
    if (wait) waited_[item.id] = DeliveryResult{DeliveryResult::Kind::kRetry, "pending", -1, ""};
    if (duplicate) {
      ++stats_.duplicates;
      if (wait && items_.count(item.id) == 0) finished_waited_.insert(item.id);
      return Status::Ok();
    }
    ++stats_.enqueued;
    AddItem(std::move(item));
  }
  work_cv_.notify_one();
  return Status::Ok();
}

void Dispatcher::ExpireOld(int64_t now) {
  std::vector<int64_t> expired;
  for (auto it = by_created_.begin();
       it != by_created_.end() && it->first + options_.max_age_ms <= now; ++it) {
    const Entry& e = items_[it->second];
    // In flight: decided when it completes. Grace: the attempt a Retry-After asked for.
    if (!e.in_flight && !e.retry_after_grace) expired.push_back(it->second);
  }
  if (expired.empty()) return;
  (void)outbox_.Remove(expired);
  for (int64_t id : expired) {
    ++stats_.failed["expired"];
    const Prepared& p = items_[id].item.prepared;
    LogRepeated(actions_[p.action], "expired", LogLevel::kError,
                "action `" + p.action + "`: notification " + p.idempotency_key +
                    " given up after " + std::to_string(items_[id].item.attempts) +
                    " attempt(s): older than the maximum age",
                now);
    Finish(id, {DeliveryResult::Kind::kFinal, "expired", -1, "older than the maximum age"});
  }
}

bool Dispatcher::FindWork(int64_t now, Work& work, int64_t& next_due_ms) {
  next_due_ms = INT64_MAX;
  ExpireOld(now);
  if (actions_.empty()) return false;
  // Round-robin: start after the action served last, wrap around once.
  auto start = actions_.upper_bound(last_served_);
  if (start == actions_.end()) start = actions_.begin();
  auto it = start;
  do {
    ActionState& st = it->second;
    const std::string& name = it->first;
    if (++it == actions_.end()) it = actions_.begin();
    if (st.disabled || st.ready.empty()) continue;
    const int64_t interval = st.action->min_interval_ms();
    if (interval > 0 && st.in_flight > 0) continue;  // rate-limited actions send one at a time
    if (st.failing && failing_in_flight_ >= std::max(1, options_.workers - 1)) continue;
    const int64_t first_due = st.ready.begin()->first;
    const int64_t slot = std::max({first_due, st.paused_until_ms,
                                   st.sent_once && interval > 0 ? st.last_send_ms + interval : 0});
    if (now < slot) {
      next_due_ms = std::min(next_due_ms, slot);
      continue;
    }
    // Due items, oldest first: ready ones, and after a chain's head the chain's next items
    // while they are due (kinds may merge a chain's start, e.g. PagerDuty repeats).
    std::vector<const Entry*> due;
    for (auto r = st.ready.begin(); r != st.ready.end() && r->first <= now; ++r) {
      const Entry& head = items_[r->second];
      due.push_back(&head);
      if (interval == 0 || due.size() >= options_.max_digest) break;
      const std::string& key = head.item.prepared.order_key;
      if (key.empty()) continue;
      const std::set<int64_t>& chain = st.chains[key];
      for (auto c = std::next(chain.begin()); c != chain.end() && due.size() < options_.max_digest;
           ++c) {
        const Entry& next = items_[*c];
        if (next.in_flight || next.item.next_attempt_ms > now) break;
        due.push_back(&next);
      }
      if (due.size() >= options_.max_digest) break;
    }
    std::sort(due.begin(), due.end(),
              [](const Entry* a, const Entry* b) { return a->item.id < b->item.id; });
    std::vector<const Prepared*> prepared;
    prepared.reserve(due.size());
    for (const Entry* e : due) prepared.push_back(&e->item.prepared);
    const bool over_limit = interval > 0 && due.size() > 1;
    Batch batch = st.action->Select(prepared, over_limit);
    work.state = &st;
    work.members.clear();
    for (size_t i : batch.members) {
      if (i < due.size()) work.members.push_back(due[i]->item.id);
    }
    if (work.members.empty()) work.members.push_back(due[0]->item.id);
    work.send = std::move(batch.send);
    for (int64_t id : work.members) {
      Entry& e = items_[id];
      st.ready.erase({e.item.next_attempt_ms, id});
      e.in_flight = true;
    }
    ++st.in_flight;
    work.failing = st.failing;
    if (work.failing) ++failing_in_flight_;
    st.last_send_ms = now;
    st.sent_once = true;
    last_served_ = name;
    return true;
  } while (it != start);
  return false;
}

void Dispatcher::Finish(int64_t id, const DeliveryResult& result, size_t together) {
  auto it = items_.find(id);
  if (it != items_.end()) {
    const OutboxItem& item = it->second.item;
    if (result.kind == DeliveryResult::Kind::kAccepted && together > 1) {
      history_->Update(item.prepared.action, item.prepared.idempotency_key, "coalesced",
                       fmt::format("delivered in one request with {} other(s)", together - 1));
    } else if (result.kind == DeliveryResult::Kind::kAccepted) {
      history_->Update(item.prepared.action, item.prepared.idempotency_key, "delivered", "");
    } else {
      history_->Update(item.prepared.action, item.prepared.idempotency_key, "given up",
                       result.reason);
    }
    ActionState& st = actions_[item.prepared.action];
    st.ids.erase(id);
    st.ready.erase({item.next_attempt_ms, id});
    by_created_.erase({item.created_at_ms, id});
    std::string key = item.prepared.order_key;
    items_.erase(it);
    if (!key.empty()) {
      auto chain = st.chains.find(key);
      if (chain != st.chains.end()) {
        chain->second.erase(id);
        if (chain->second.empty()) {
          st.chains.erase(chain);
        } else {
          MarkReadyIfHead(st, items_[*chain->second.begin()]);
        }
      }
    }
  }
  if (auto w = waited_.find(id); w != waited_.end()) {
    w->second = result;
    finished_waited_.insert(id);
  }
  done_cv_.notify_all();
}

void Dispatcher::WorkerLoop() {
  pthread_setname_np(pthread_self(), "klaxon-deliver");  // as `top -H` shows it
  std::unique_lock lock(mu_);
  while (!stop_) {
    const int64_t now = clock_.NowMs();
    if (options_.silencer != nullptr && now >= next_silence_check_ms_) {
      // Promptly at a silence's end; every silence_check_ms for silences expired or added
      // from another thread meanwhile.
      next_silence_check_ms_ =
          std::min(now + options_.silence_check_ms, options_.silencer->NextChangeMs(now));
      lock.unlock();
      ReleaseSilenced(now);
      lock.lock();
      continue;
    }
    Work work;
    int64_t next_due = INT64_MAX;
    if (!FindWork(now, work, next_due)) {
      if (options_.silencer != nullptr) next_due = std::min(next_due, next_silence_check_ms_);
      if (next_due == INT64_MAX) {
        // A manual clock can expire items without notice; poll it then.
        if (clock_.MaxBlockMs(INT64_MAX / 2) < INT64_MAX / 4 && !items_.empty()) {
          work_cv_.wait_for(lock, std::chrono::milliseconds(clock_.MaxBlockMs(INT64_MAX / 2)));
        } else {
          work_cv_.wait(lock);
        }
      } else {
        const int64_t block = std::max<int64_t>(1, clock_.MaxBlockMs(next_due - now));
        work_cv_.wait_for(lock, std::chrono::milliseconds(block));
      }
      continue;
    }
    ++busy_;
    lock.unlock();
    const DeliveryResult result = work.state->action->Deliver(work.send, transport_, now);
    Complete(work, result);
    lock.lock();
    --busy_;
    done_cv_.notify_all();
  }
}

void Dispatcher::ReleaseSilenced(int64_t now) {
  // Expired silences are listed for SilenceStore::kRetentionMs, then dropped.
  if (Status s = options_.silencer->PruneExpired(now); !s.ok()) Log(LogLevel::kError, s.message());
  std::vector<HeldEpisode> released = options_.silencer->Released(now);
  if (released.empty()) return;
  std::vector<Prepared> items;
  std::vector<std::string> keys;
  for (HeldEpisode& e : released) {
    keys.push_back(e.key);
    for (Prepared& p : e.items) items.push_back(std::move(p));
  }
  Log(LogLevel::kInfo,
      fmt::format("silence ended: {} episode(s) still firing notify now", released.size()));
  // Forgotten only once stored in the outbox: a failure here retries at the next check.
  if (Status s = EnqueueMany(std::move(items)); !s.ok()) {
    Log(LogLevel::kError, s.message());
    return;
  }
  if (Status s = options_.silencer->Forget(keys); !s.ok()) Log(LogLevel::kError, s.message());
}

void Dispatcher::Complete(Work& work, const DeliveryResult& result) {
  ActionState& st = *work.state;
  const Action& action = *st.action;
  using Kind = DeliveryResult::Kind;
  if (result.kind == Kind::kAccepted) FlushRemovals(work.members);
  if (result.kind == Kind::kFinal) {
    if (Status s = outbox_.Remove(work.members); !s.ok()) Log(LogLevel::kError, s.message());
  }
  std::unique_lock lock(mu_);
  --st.in_flight;
  if (work.failing) --failing_in_flight_;
  st.failing = result.kind == Kind::kRetry;
  const int64_t now = clock_.NowMs();
  switch (result.kind) {
    case Kind::kAccepted:
      ++stats_.requests;
      stats_.sent += work.members.size();
      stats_.coalesced += work.members.size() - 1;
      for (int64_t id : work.members) Finish(id, result, work.members.size());
      break;
    case Kind::kFinal:
      stats_.failed[result.reason] += work.members.size();
      LogRepeated(st, "rejected", LogLevel::kError,
                  action.Describe() + ": notification " + work.send.idempotency_key +
                      " rejected (" + result.reason + "), not retried" +
                      (result.detail.empty() ? "" : ": " + result.detail),
                  now);
      for (int64_t id : work.members) Finish(id, result);
      break;
    case Kind::kGone: {
      st.disabled = true;
      stats_.disabled_actions.push_back(action.name());
      std::vector<int64_t> all(st.ids.begin(), st.ids.end());
      Log(LogLevel::kError, "ACTION DISABLED: " + action.Describe() +
                                " answered 410 Gone; dropping " + std::to_string(all.size()) +
                                " pending notification(s) and every later one until Klaxon "
                                "restarts with a corrected action" +
                                (result.detail.empty() ? "" : ": " + result.detail));
      if (Status s = outbox_.Remove(all); !s.ok()) Log(LogLevel::kError, s.message());
      stats_.failed["gone"] += all.size();
      for (int64_t id : all) Finish(id, result);
      break;
    }
    case Kind::kRetry: {
      // A receiver's Retry-After is obeyed up to a cap: 999999999 s must not pause an action
      // for 31 years.
      const int64_t retry_after = result.retry_after_ms >= 0
                                      ? std::min(result.retry_after_ms, options_.max_retry_after_ms)
                                      : -1;
      if (retry_after >= 0) {
        st.paused_until_ms = std::max(st.paused_until_ms, now + retry_after);
      }
      std::vector<int64_t> expired;
      for (int64_t id : work.members) {
        auto found = items_.find(id);
        if (found == items_.end()) continue;  // dropped meanwhile (410 seen by another worker)
        Entry& e = found->second;
        e.in_flight = false;
        ++e.item.attempts;
        const int64_t delay =
            retry_after >= 0
                ? retry_after
                : BackoffDelayMs(options_, e.item.attempts,
                                 std::uniform_real_distribution<double>(0.0, 1.0)(rng_));
        e.item.next_attempt_ms = now + delay;
        if (auto w = waited_.find(id); w != waited_.end()) w->second = result;
        const bool past_max_age =
            e.item.next_attempt_ms >= e.item.created_at_ms + options_.max_age_ms;
        // A Retry-After is the receiver asking for patience, never a reason to give up.
        e.retry_after_grace = retry_after >= 0 && past_max_age;
        if (past_max_age && !e.retry_after_grace) {
          expired.push_back(id);
          continue;
        }
        ++stats_.retried;
        history_->Update(e.item.prepared.action, e.item.prepared.idempotency_key, "retrying",
                         fmt::format("{}; attempt {} failed, next at {}", result.reason,
                                     e.item.attempts, FormatTimeMs(e.item.next_attempt_ms)));
        (void)outbox_.Reschedule(id, e.item.attempts, e.item.next_attempt_ms);
        MarkReadyIfHead(st, e);
      }
      LogRepeated(st, "retry", LogLevel::kWarn,
                  action.Describe() + ": delivery of " + work.send.idempotency_key + " failed (" +
                      result.reason + "), will retry" +
                      (result.detail.empty() ? "" : ": " + result.detail),
                  now);
      if (!expired.empty()) {
        (void)outbox_.Remove(expired);
        for (int64_t id : expired) {
          ++stats_.failed["expired"];
          LogRepeated(st, "expired", LogLevel::kError,
                      action.Describe() + ": notification " +
                          items_[id].item.prepared.idempotency_key + " given up after " +
                          std::to_string(items_[id].item.attempts) + " attempt(s) (" +
                          result.reason + "): the next retry is past the maximum age",
                      now);
          DeliveryResult r = result;
          r.kind = Kind::kFinal;
          Finish(id, r);
        }
      }
      break;
    }
  }
  // This worker looks for more work itself; wake another only when a rate-limited action or
  // an order chain may have become sendable.
  const bool wake = st.action->min_interval_ms() > 0 || !work.send.order_key.empty() ||
                    result.kind != Kind::kAccepted || work.failing;
  lock.unlock();
  if (wake) work_cv_.notify_all();
}

Result<DeliveryResult> Dispatcher::SendAndWait(const Prepared& p, int64_t timeout_ms) {
  int64_t id = -1;
  Status s = EnqueueImpl(p, &id, /*wait=*/true);
  std::unique_lock lock(mu_);
  if (!s.ok() || waited_.count(id) == 0) {
    if (id >= 0) waited_.erase(id);
    if (!s.ok()) return s;
    return Status::FailedPrecondition("action `" + p.action + "` is disabled");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  done_cv_.wait_until(lock, deadline, [&] { return finished_waited_.count(id) != 0 || stop_; });
  DeliveryResult r = waited_[id];
  const bool finished = finished_waited_.erase(id) != 0;
  waited_.erase(id);
  if (!finished && r.reason == "pending") {
    return Status::Unavailable("no answer from the receiver within the timeout");
  }
  return r;
}

bool Dispatcher::Drain(int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  return done_cv_.wait_until(lock, deadline, [&] {
    if (stop_) return true;
    if (removing_ || !removals_.empty()) return false;
    for (const auto& [name, st] : actions_) {
      if (!st.disabled && !st.ids.empty()) return false;
    }
    return true;
  });
}

DispatcherStats Dispatcher::Stats() const {
  DispatcherStats out;
  {
    std::unique_lock lock(mu_);
    // Let a removal in progress land so outbox_size is not ahead of what was sent.
    done_cv_.wait_for(lock, std::chrono::seconds(5),
                      [&] { return !removing_ && removals_.empty(); });
    out = stats_;
    out.queue_length = items_.size();
  }
  auto size = outbox_.Size();
  out.outbox_size = size.ok() ? *size : -1;
  return out;
}

std::vector<OutboxItem> Dispatcher::Pending() const {
  std::lock_guard lock(mu_);
  std::vector<OutboxItem> out;
  for (const auto& [id, e] : items_) out.push_back(e.item);
  return out;
}

}  // namespace klaxon::actions
