// The Klaxon evaluation engine. See engine/README.md for the window algorithms, the lifecycle
// state machine, the timer ordering and how lateness is handled.
#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "engine/event_decoder.h"
#include "engine/event_time_queue.h"
#include "engine/group_table.h"
#include "engine/hash.h"
#include "engine/lifecycle.h"
#include "engine/predicate.h"
#include "engine/rule_index.h"
#include "engine/rule_state.h"
#include "engine/run_ring.h"
#include "engine/state_codec.h"
#include "engine/time_math.h"
#include "engine/window.h"

namespace klaxon {

const char* RejectReasonName(RejectReason r) {
  switch (r) {
    case RejectReason::kNone:
      return "none";
    case RejectReason::kInvalidJson:
      return "invalid_json";
    case RejectReason::kNotObject:
      return "not_object";
    case RejectReason::kInvalidUtf8:
      return "invalid_utf8";
    case RejectReason::kTooLarge:
      return "too_large";
    case RejectReason::kTooDeep:
      return "too_deep";
    case RejectReason::kMissingTimestamp:
      return "missing_timestamp";
    case RejectReason::kInvalidTimestamp:
      return "invalid_timestamp";
    case RejectReason::kTrailingContent:
      return "trailing_content";
    case RejectReason::kFutureTimestamp:
      return "future_timestamp";
    case RejectReason::kInvalidMessage:
      return "invalid_message";
    case RejectReason::kCount_:
      break;
  }
  return "unknown";
}

namespace {

constexpr int kEvictionScan = 16;

class EngineImpl final : public Engine {
 public:
  Status Init(RuleSet rules, EngineOptions options, EngineImpl* previous);

  ProcessResult Process(std::string_view raw, std::vector<Notification>& out) override;
  std::unique_ptr<EventDecoder> NewDecoder() const override;
  ProcessResult ProcessDecoded(DecodedEvent& decoded, RejectReason reason,
                               std::vector<Notification>& out) override;
  ProcessResult ProcessRouted(const RoutedEvent& routed, std::vector<Notification>& out) override;
  void AdvanceTo(int64_t now_ms, std::vector<Notification>& out) override;
  size_t MatchRules(const DecodedEvent& ev, std::vector<RuleMatch>& out) override;
  void Flush(std::vector<Notification>& out) override;
  uint64_t LowestUnevaluatedSequence() const override { return queue_.LowestUnevaluated(); }
  int64_t Watermark() const override { return queue_.watermark(); }
  size_t HeldEvents() const override { return queue_.HeldCount(); }
  void SetMaxEventTime(int64_t max_event_time_ms) override {
    options_.max_event_time_ms = max_event_time_ms;
  }
  const RuleSet& Rules() const override { return rules_; }
  const EngineStats& Stats() const override;
  std::vector<ActiveAlert> ActiveAlerts() const override;
  std::optional<double> RuleValue(uint32_t rule_index, bool highest) const override;
  Status SaveState(std::string& out) const override;
  Status RestoreState(std::string_view snapshot) override;
  Status RestoreChanges(std::string_view head, std::vector<StateGroupView>& rows) override;
  Status SaveStateChanges(StateChanges& out) override;
  void ResendAllChanges() override { full_changes_ = true; }
  bool ContinueChanges(uint64_t last_rank) override;

 private:
  Status Compile();
  void TakeStateFrom(EngineImpl& prev);
  uint32_t TakePooledEvent();
  ProcessResult Admit(uint32_t idx, RejectReason reason, std::vector<Notification>& out);
  // A routed event as the fields of `ev`; kInvalidMessage when it cannot be one.
  RejectReason FillRouted(const RoutedEvent& routed, DecodedEvent& ev) const;
  // The rule's group and values in `ev`, and a ratio's sides (MatchRules' entry).
  void FillMatch(const CompiledRule& cr, const DecodedEvent& ev, RuleMatch& m) const;
  // A held event as snapshots keep it: its JSON, or a routed event's own encoding.
  std::string HeldBytes(const DecodedEvent& ev) const;
  RejectReason DecodeHeld(std::string_view bytes, DecodedEvent& ev);
  void Accept(DecodedEvent* ev, uint32_t idx, std::vector<Notification>& out);
  void Run(int64_t target);
  void Evaluate(const DecodedEvent& ev);
  // `counts`: WindowKind::Counts (a ratio counts only its denominator's events).
  void ApplyRule(CompiledRule& cr, const DecodedEvent& ev, bool counts);
  void BuildGroupKey(const CompiledRule& cr, const DecodedEvent& ev);
  uint32_t FindOrCreateGroup(CompiledRule& cr, int64_t t);
  bool Evictable(const CompiledRule& cr, const Group& g, int64_t t) const;
  void Evict(CompiledRule& cr, uint32_t slot);
  void Touch(RuleState& st, uint32_t slot);
  void Unlink(RuleState& st, uint32_t slot);
  void Update(CompiledRule& cr, uint32_t slot, int64_t t, const DecodedEvent* ev);
  void Schedule(CompiledRule& cr, uint32_t slot, int64_t due);
  void SaveTrigger(CompiledRule& cr, Group& g, uint32_t slot, const DecodedEvent* ev);
  void Emit(const CompiledRule& cr, Group& g, uint32_t slot, AlertState state, int64_t at,
            const DecodedEvent* ev);
  std::vector<std::optional<std::string>> GroupValues(const Group& g) const;
  void SaveRule(const CompiledRule& cr, StateWriter& w) const;
  void SaveEnginePart(StateWriter& w) const;
  void SaveGroup(const CompiledRule& cr, uint32_t slot, StateWriter& w) const;
  void AddRow(StateChanges& out, uint32_t rule, uint32_t slot, uint64_t rank) const;
  static void MarkDirty(RuleState& st, uint32_t slot) {
    Group& g = st.groups[slot];
    if (g.dirty || !st.track_changes) return;
    g.dirty = true;
    st.dirty_slots.push_back(slot);
  }
  void LinkTail(RuleState& st, uint32_t slot);
  std::string TriggerTitle(const std::string& trigger_json) const;
  std::unique_ptr<RuleState> LoadRule(const CompiledRule& cr, bool has_ids, StateReader& r,
                                      std::string& error);
  // A rule's counters and slots as a snapshot section or a head lists them; nullptr (and
  // `error`) when inconsistent.
  // `rows`: the slots given by other means; `slot_bytes`: what each other slot costs in `r`.
  std::unique_ptr<RuleState> BeginRule(const CompiledRule& cr, StateReader& r, size_t rows,
                                       size_t slot_bytes, std::string& error) const;
  // One live group (after its flags byte) into slot `s`; false (and `error`) when inconsistent.
  bool LoadGroup(const CompiledRule& cr, RuleState& st, uint32_t s, uint8_t flags, bool has_ids,
                 StateReader& r, std::string& error) const;
  // LoadGroup without the group table and the counts (IndexGroup adds them): touches slot `s`
  // only, so disjoint slots may be parsed on two threads.
  bool ParseGroup(const CompiledRule& cr, RuleState& st, uint32_t s, uint8_t flags, bool has_ids,
                  StateReader& r, std::string& error) const;
  static bool IndexGroup(RuleState& st, uint32_t s, std::string& error);
  // The group rows [first, end) of one rule into `st`; "" or why not (a SnapshotError message
  // when `whole`, else about the rule).
  struct RowProblem {
    size_t row = SIZE_MAX;
    std::string what;
    bool whole = false;
  };
  void ParseRows(const CompiledRule& cr, RuleState& st, const std::vector<StateGroupView>& rows,
                 size_t first, size_t end, bool has_ids, RowProblem& problem) const;
  struct RestoredPart;
  Status CheckFresh() const;
  void CommitRestore(RestoredPart& part, std::vector<std::unique_ptr<RuleState>>& states,
                     bool in_place);

  RuleSet rules_;
  EngineOptions options_;
  FieldTable fields_;
  std::unique_ptr<EventDecoder> decoder_;
  std::vector<CompiledRule> compiled_;
  RuleIndex index_;
  std::vector<uint32_t> candidates_;
  std::vector<uint64_t> candidate_hashes_;
  std::string key_buf_;

  std::vector<std::unique_ptr<DecodedEvent>> pool_;
  std::vector<uint32_t> free_events_;
  EventTimeQueue queue_;
  bool full_changes_ = true;        // the next SaveStateChanges lists every group
  bool restored_in_place_ = false;  // RestoreState brought back every rule at its position
  uint64_t next_rank_ = 1;          // LRU ranks of incremental snapshots
  int64_t run_target_ = kNone;      // how far the current Run goes (see the repeat step in Update)
  std::vector<Notification>* out_ = nullptr;
  mutable EngineStats stats_;
  // Titles of triggering events for ActiveAlerts: a decoder of the one derived field `title`,
  // made on first use (listing alerts is rare next to events).
  mutable std::unique_ptr<EventDecoder> title_decoder_;
  mutable DecodedEvent title_event_;
  // The titles of the last listing, by (rule, slot): reused while the episode and its trigger
  // stay (listings come every fraction of a second, episodes start rarely). Holds only the
  // groups of that listing.
  struct KnownTitle {
    int64_t since = 0;
    size_t trigger_bytes = 0;
    std::string title;
  };
  mutable std::unordered_map<uint64_t, KnownTitle> titles_;
  mutable std::unordered_map<uint64_t, KnownTitle> titles_next_;
};

// ---- creation ------------------------------------------------------------------------------

Status EngineImpl::Init(RuleSet rules, EngineOptions options, EngineImpl* previous) {
  rules_ = std::move(rules);
  options_ = std::move(options);
  if (options_.allowed_lateness_ms < 0) {
    return Status::InvalidArgument("allowed lateness must not be negative");
  }
  if (options_.max_groups_per_rule == 0) {
    return Status::InvalidArgument("max groups per rule must be at least 1");
  }
  for (auto& r : rules_.rules) {
    if (r.id.empty()) r.id = ComputeRuleId(r);
  }
  Status s = Compile();
  if (!s.ok()) return s;
  decoder_ = std::make_unique<EventDecoder>(fields_.fields(), options_);
  std::vector<bool> exact;
  index_.Build(rules_.rules, fields_, exact);
  for (CompiledRule& cr : compiled_) cr.index_exact = exact[cr.index];
  candidates_.reserve(compiled_.size());
  candidate_hashes_.reserve(compiled_.size());
  stats_.rules.resize(compiled_.size());
  if (previous != nullptr) TakeStateFrom(*previous);
  return Status::Ok();
}

Status EngineImpl::Compile() {
  compiled_.resize(rules_.rules.size());
  for (size_t i = 0; i < rules_.rules.size(); ++i) {
    const Rule& r = rules_.rules[i];
    CompiledRule& cr = compiled_[i];
    if (const std::vector<RuleProblem> problems = ValidateRule(r); !problems.empty()) {
      return Status::InvalidArgument("rule '" + r.name + "': " + problems.front().message);
    }
    cr.index = static_cast<uint32_t>(i);
    cr.rule = &r;
    cr.lifecycle = {r.pending_ms, r.keep_firing_ms, r.repeat_ms};
    cr.filter = CompiledPredicate::Compile(r.filter, fields_);
    for (const auto& g : r.group_by) cr.group_fields.push_back(fields_.Intern(g));
    const Condition& c = r.condition;
    cr.window = c.window_ms;
    cr.offset = c.offset_ms;
    cr.kind = &WindowKindFor(c.kind);
    cr.kind->Compile(c, fields_, cr);
    cr.has_lifecycle = cr.kind->HasLifecycle();
    cr.state = std::make_unique<RuleState>();
  }
  return Status::Ok();
}

void EngineImpl::TakeStateFrom(EngineImpl& prev) {
  std::unordered_map<std::string, std::vector<uint32_t>> by_id;
  for (size_t i = prev.compiled_.size(); i-- > 0;) {
    by_id[prev.rules_.rules[i].id].push_back(static_cast<uint32_t>(i));
  }
  for (auto& cr : compiled_) {
    auto it = by_id.find(cr.rule->id);
    if (it == by_id.end() || it->second.empty()) continue;
    CompiledRule& old = prev.compiled_[it->second.back()];
    it->second.pop_back();
    cr.state = std::move(old.state);
    old.state = std::make_unique<RuleState>();
    RuleState& st = *cr.state;
    // With explain newly on, rings need their id slots (empty for events counted before).
    if (options_.explain && st.ring_ids.size() < st.ring.size()) st.ring_ids.resize(st.ring.size());
    for (uint32_t s = 0; s < st.groups.size(); ++s) {
      Group& g = st.groups[s];
      if (g.alive && g.scheduled != kNever) queue_.Schedule({g.scheduled, cr.index, s, g.gen});
    }
  }
  queue_.TakeTimeFrom(prev.queue_);
  stats_.received = prev.stats_.received;
  stats_.accepted = prev.stats_.accepted;
  stats_.late = prev.stats_.late;
  std::copy(std::begin(prev.stats_.rejected), std::end(prev.stats_.rejected),
            std::begin(stats_.rejected));
  // Events still held back are decoded again for the new field table.
  for (const Held& h : prev.queue_.held()) {
    auto ev = std::make_unique<DecodedEvent>();
    if (DecodeHeld(prev.HeldBytes(*prev.pool_[h.idx]), *ev) != RejectReason::kNone) {
      queue_.Done(h.seq);
      continue;
    }
    ev->sequence = h.seq;
    pool_.push_back(std::move(ev));
    queue_.Hold({h.time, h.seq, static_cast<uint32_t>(pool_.size() - 1)});
  }
  prev.queue_.ClearHeld();
}

// ---- event flow ----------------------------------------------------------------------------

uint32_t EngineImpl::TakePooledEvent() {
  if (!free_events_.empty()) {
    const uint32_t idx = free_events_.back();
    free_events_.pop_back();
    return idx;
  }
  pool_.push_back(std::make_unique<DecodedEvent>());
  return static_cast<uint32_t>(pool_.size() - 1);
}

std::unique_ptr<EventDecoder> EngineImpl::NewDecoder() const {
  return std::make_unique<EventDecoder>(fields_.fields(), options_);
}

ProcessResult EngineImpl::Process(std::string_view raw, std::vector<Notification>& out) {
  const uint32_t idx = TakePooledEvent();
  return Admit(idx, decoder_->Decode(raw, *pool_[idx]), out);
}

ProcessResult EngineImpl::ProcessDecoded(DecodedEvent& decoded, RejectReason reason,
                                         std::vector<Notification>& out) {
  const uint32_t idx = TakePooledEvent();
  std::swap(*pool_[idx], decoded);
  const ProcessResult result = Admit(idx, reason, out);
  // A rejected event goes back to the caller, which may still need its bytes (the service
  // dead-letters it); the pooled event it was swapped with returns to the pool.
  if (result.rejected != RejectReason::kNone) std::swap(*pool_[idx], decoded);
  return result;
}

ProcessResult EngineImpl::ProcessRouted(const RoutedEvent& routed, std::vector<Notification>& out) {
  const uint32_t idx = TakePooledEvent();
  return Admit(idx, FillRouted(routed, *pool_[idx]), out);
}

RejectReason EngineImpl::FillRouted(const RoutedEvent& r, DecodedEvent& ev) const {
  if (r.rule >= compiled_.size()) return RejectReason::kInvalidMessage;
  const CompiledRule& cr = compiled_[r.rule];
  if (r.group.size() != cr.group_fields.size()) return RejectReason::kInvalidMessage;
  const Condition::Kind kind = cr.rule->condition.kind;
  const bool has_values = kind == Condition::Kind::kUnique || kind == Condition::Kind::kNewValue;
  if (!has_values && !r.values.empty()) return RejectReason::kInvalidMessage;
  ev.routed = true;
  ev.rule = r.rule;
  ev.denominator = r.denominator;
  ev.numerator = r.numerator;
  ev.time_ms = r.time_ms;
  ev.raw.assign(r.raw);
  ev.arena.clear();
  ev.values.clear();
  auto push = [&ev](uint32_t field, std::string_view text, ValueType type) {
    ev.values.push_back({.field = field,
                         .offset = static_cast<uint32_t>(ev.arena.size()),
                         .length = static_cast<uint32_t>(text.size()),
                         .type = type});
    ev.arena.append(text);
  };
  // Values grouped by field in field order, as the decoder leaves them; only this rule's.
  const size_t fields = fields_.fields().size();
  ev.field_begin.assign(fields + 1, 0);
  for (uint32_t f = 0; f < fields; ++f) {
    ev.field_begin[f] = static_cast<uint32_t>(ev.values.size());
    const auto g = std::find(cr.group_fields.begin(), cr.group_fields.end(), f);
    const std::optional<std::string_view>* group =
        g == cr.group_fields.end() ? nullptr : &r.group[g - cr.group_fields.begin()];
    if (has_values && f == cr.value_field) {
      // One field both grouped by and counted: the group is its first value, the values are
      // all but those without text; a first value without text (absent group) leads.
      if (group != nullptr) {
        if (group->has_value() && (r.values.empty() || r.values.front() != **group)) {
          return RejectReason::kInvalidMessage;
        }
        if (!group->has_value() && !r.values.empty()) push(f, {}, ValueType::kPresent);
      }
      for (std::string_view v : r.values) push(f, v, ValueType::kString);
    } else if (group != nullptr && group->has_value()) {
      push(f, **group, ValueType::kString);
    }
  }
  ev.field_begin[fields] = static_cast<uint32_t>(ev.values.size());
  ev.event_id_offset = static_cast<uint32_t>(ev.arena.size());
  ev.event_id_length = static_cast<uint32_t>(r.event_id.size());
  ev.arena.append(r.event_id);
  return RejectReason::kNone;
}

ProcessResult EngineImpl::Admit(uint32_t idx, RejectReason reason, std::vector<Notification>& out) {
  ProcessResult result;
  ++stats_.received;
  DecodedEvent* ev = pool_[idx].get();
  if (reason == RejectReason::kNone && ev->time_ms > options_.max_event_time_ms) {
    reason = RejectReason::kFutureTimestamp;
  }
  if (reason != RejectReason::kNone) {
    ++stats_.rejected[static_cast<int>(reason)];
    free_events_.push_back(idx);
    result.rejected = reason;
    return result;
  }
  ++stats_.accepted;
  ev->sequence = queue_.Accept();
  result.sequence = ev->sequence;
  result.event_time_ms = ev->time_ms;
  if (ev->time_ms < queue_.watermark()) {
    // Late: window state and timers have moved past it; counted and skipped (README).
    ++stats_.late;
    result.late = true;
    queue_.Done(ev->sequence);
    free_events_.push_back(idx);
    return result;
  }
  Accept(ev, idx, out);
  return result;
}

void EngineImpl::Accept(DecodedEvent* ev, uint32_t idx, std::vector<Notification>& out) {
  queue_.Hold({ev->time_ms, ev->sequence, idx});
  queue_.SeeEventTime(ev->time_ms);
  if (!options_.advance_on_event) return;  // the caller's AdvanceTo releases it
  out_ = &out;
  Run(std::max(queue_.watermark(), SatSub(queue_.max_time(), options_.allowed_lateness_ms)));
  out_ = nullptr;
}

void EngineImpl::AdvanceTo(int64_t now_ms, std::vector<Notification>& out) {
  out_ = &out;
  Run(std::max(queue_.watermark(), SatSub(now_ms, options_.allowed_lateness_ms)));
  out_ = nullptr;
}

void EngineImpl::Flush(std::vector<Notification>& out) {
  out_ = &out;
  Run(std::max(queue_.watermark(), queue_.max_time()));
  out_ = nullptr;
}

// Releases held events and fires timers in time order up to `target` (the queue decides the
// order, see event_time_queue.h).
void EngineImpl::Run(int64_t target) {
  run_target_ = target;
  EventTimeQueue::Due due;
  while (queue_.PopDue(target, due)) {
    if (due.is_timer) {
      const Timer& t = due.timer;
      CompiledRule& cr = compiled_[t.rule];
      Group& g = cr.state->groups[t.slot];
      if (!g.alive || g.gen != t.gen) continue;
      g.scheduled = kNever;
      Update(cr, t.slot, t.due, nullptr);
    } else {
      const Held& h = due.held;
      Evaluate(*pool_[h.idx]);
      queue_.Done(h.seq);
      free_events_.push_back(h.idx);
    }
  }
  queue_.RaiseWatermark(target);
}

void EngineImpl::Evaluate(const DecodedEvent& ev) {
  if (ev.routed) {  // matched upstream: its one rule, group and sides as given
    CompiledRule& cr = compiled_[ev.rule];
    const bool counts = !cr.counts_some || ev.denominator;
    if (counts) ++cr.state->stats.matches;
    ApplyRule(cr, ev, counts);
    return;
  }
  index_.Candidates(ev, candidates_);
  // With thousands of rules each match costs a few cache misses (rule, state, group, ring).
  // Issue them for all candidates at once, level by level, so they overlap.
  if (candidates_.size() > 1) {
    for (uint32_t r : candidates_) __builtin_prefetch(&compiled_[r]);
    for (uint32_t r : candidates_) __builtin_prefetch(compiled_[r].state.get());
    for (uint32_t r : candidates_) {
      const CompiledRule& cr = compiled_[r];
      const RuleState& st = *cr.state;
      if (!cr.group_fields.empty()) {
        BuildGroupKey(cr, ev);
        const uint64_t h = KeyHash(key_buf_);
        st.table.Prefetch(h);
        candidate_hashes_.push_back(h);
        continue;
      }
      if (st.single_slot == kNil) continue;
      __builtin_prefetch(&st.groups[st.single_slot]);
      if (!st.ring.empty()) __builtin_prefetch(st.ring.data() + st.single_slot * cr.k);
    }
    size_t next_hash = 0;
    for (uint32_t r : candidates_) {
      const CompiledRule& cr = compiled_[r];
      if (cr.group_fields.empty()) continue;
      const RuleState& st = *cr.state;
      const uint32_t slot = st.table.Guess(candidate_hashes_[next_hash++]);
      if (slot == kNil) continue;
      __builtin_prefetch(&st.groups[slot]);
      if (!st.ring.empty()) __builtin_prefetch(st.ring.data() + slot * cr.k);
    }
    candidate_hashes_.clear();
  }
  for (uint32_t r : candidates_) {
    CompiledRule& cr = compiled_[r];
    if (!cr.index_exact && !cr.filter.Eval(ev)) continue;
    // A ratio's own events are its denominator's; the others only move its groups' clocks.
    const bool counts = !cr.counts_some || cr.kind->Counts(cr, ev);
    if (counts) ++cr.state->stats.matches;
    ApplyRule(cr, ev, counts);
  }
}

size_t EngineImpl::MatchRules(const DecodedEvent& ev, std::vector<RuleMatch>& out) {
  index_.Candidates(ev, candidates_);
  size_t n = 0;
  for (uint32_t r : candidates_) {
    const CompiledRule& cr = compiled_[r];
    // As Evaluate: every event the filter admits goes to its group (a ratio's events outside
    // its denominator too: they move the group's clock).
    if (!cr.index_exact && !cr.filter.Eval(ev)) continue;
    if (n == out.size()) out.emplace_back();
    FillMatch(cr, ev, out[n++]);
  }
  return n;
}

void EngineImpl::FillMatch(const CompiledRule& cr, const DecodedEvent& ev, RuleMatch& m) const {
  m.rule = cr.index;
  m.group.clear();
  // As BuildGroupKey: a field's first value; absent, or present without a value, is null.
  for (uint32_t f : cr.group_fields) {
    const DecodedValue* v = ev.Begin(f);
    if (v == ev.End(f) || v->type == ValueType::kPresent) {
      m.group.emplace_back(std::nullopt);
    } else {
      m.group.emplace_back(ev.Text(*v));
    }
  }
  // As the window kinds' Add: what unique / new-value count, what a ratio counts.
  m.values.clear();
  const Condition::Kind kind = cr.rule->condition.kind;
  if (kind == Condition::Kind::kUnique || kind == Condition::Kind::kNewValue) {
    for (const DecodedValue* v = ev.Begin(cr.value_field); v != ev.End(cr.value_field); ++v) {
      if (v->type != ValueType::kPresent) m.values.push_back(ev.Text(*v));
    }
  }
  if (ev.routed) {
    m.denominator = ev.denominator;
    m.numerator = ev.numerator;
    return;
  }
  m.denominator = kind == Condition::Kind::kRatio && cr.kind->Counts(cr, ev);
  m.numerator = m.denominator && cr.numerator.Eval(ev);
}

// A routed event's encoding in snapshots: a NUL byte (no JSON text starts with one), a version,
// then its rule's id (indices change with a reload), time, id, sides, group, values and JSON.
constexpr uint8_t kRoutedHeldVersion = 1;

std::string EngineImpl::HeldBytes(const DecodedEvent& ev) const {
  if (!ev.routed) return ev.raw;
  RuleMatch m;
  FillMatch(compiled_[ev.rule], ev, m);
  std::string out;
  StateWriter w(out);
  w.U8(0);
  w.U8(kRoutedHeldVersion);
  w.Str(rules_.rules[ev.rule].id);
  w.I64(ev.time_ms);
  w.Str(ev.EventId());
  w.U8(static_cast<uint8_t>((m.denominator ? 1 : 0) | (m.numerator ? 2 : 0)));
  w.U32(static_cast<uint32_t>(m.group.size()));
  for (const std::optional<std::string_view>& g : m.group) {
    w.U8(g.has_value() ? 1 : 0);
    if (g.has_value()) w.Str(*g);
  }
  w.U32(static_cast<uint32_t>(m.values.size()));
  for (std::string_view v : m.values) w.Str(v);
  w.Str(ev.raw);
  return out;
}

RejectReason EngineImpl::DecodeHeld(std::string_view bytes, DecodedEvent& ev) {
  if (bytes.empty() || bytes.front() != '\0') return decoder_->Decode(bytes, ev);
  StateReader r(bytes.substr(1));
  if (r.U8() != kRoutedHeldVersion) return RejectReason::kInvalidMessage;
  RoutedEvent routed;
  const std::string_view rule_id = r.Str();
  const auto rule = std::find_if(rules_.rules.begin(), rules_.rules.end(),
                                 [&](const Rule& x) { return x.id == rule_id; });
  routed.rule = static_cast<uint32_t>(rule - rules_.rules.begin());  // past the end: refused
  routed.time_ms = r.I64();
  routed.event_id = r.Str();
  const uint8_t sides = r.U8();
  routed.denominator = (sides & 1) != 0;
  routed.numerator = (sides & 2) != 0;
  std::vector<std::optional<std::string_view>> group(r.Count(1));
  for (auto& g : group) {
    if (r.U8() != 0) g = r.Str();
  }
  std::vector<std::string_view> values(r.Count(4));
  for (auto& v : values) v = r.Str();
  routed.group = group;
  routed.values = values;
  routed.raw = r.Str();
  if (!r.ok() || r.Left() != 0) return RejectReason::kInvalidMessage;
  return FillRouted(routed, ev);
}

// ---- groups --------------------------------------------------------------------------------

void EngineImpl::Unlink(RuleState& st, uint32_t slot) {
  Group& g = st.groups[slot];
  if (g.prev == kNil && g.next == kNil && st.lru_head != slot) return;  // not linked
  if (g.prev != kNil)
    st.groups[g.prev].next = g.next;
  else
    st.lru_head = g.next;
  if (g.next != kNil)
    st.groups[g.next].prev = g.prev;
  else
    st.lru_tail = g.prev;
  g.prev = g.next = kNil;
}

void EngineImpl::Touch(RuleState& st, uint32_t slot) {
  MarkDirty(st, slot);
  st.groups[slot].touched = st.track_changes;
  LinkTail(st, slot);
}

void EngineImpl::LinkTail(RuleState& st, uint32_t slot) {
  if (st.lru_tail == slot) return;
  Unlink(st, slot);
  Group& g = st.groups[slot];
  g.prev = st.lru_tail;
  if (st.lru_tail != kNil) st.groups[st.lru_tail].next = slot;
  st.lru_tail = slot;
  if (st.lru_head == kNil) st.lru_head = slot;
}

bool EngineImpl::Evictable(const CompiledRule& cr, const Group& g, int64_t t) const {
  return g.life == Life::kInactive && cr.kind->Evictable(cr, g, t);
}

void EngineImpl::Evict(CompiledRule& cr, uint32_t slot) {
  RuleState& st = *cr.state;
  Group& g = st.groups[slot];
  Unlink(st, slot);
  st.table.Erase(g.key_hash, slot);
  g.alive = false;
  ++g.gen;  // invalidates its timers
  g.extra.reset();
  MarkDirty(st, slot);
  st.free_slots.push_back(slot);
  --st.stats.groups;
}

uint32_t EngineImpl::FindOrCreateGroup(CompiledRule& cr, int64_t t) {
  RuleState& st = *cr.state;
  if (cr.group_fields.empty() && st.single_slot != kNil && st.groups[st.single_slot].alive) {
    return st.single_slot;  // no group by: one group, no key lookup
  }
  const uint64_t h = KeyHash(key_buf_);
  const uint32_t found =
      st.table.Find(key_buf_, h, [&](uint32_t s) -> std::string_view { return st.groups[s].key; });
  if (found != kNil) return found;
  if (st.stats.groups >= options_.max_groups_per_rule) {
    uint32_t victim = kNil;
    uint32_t s = st.lru_head;
    for (int i = 0; i < kEvictionScan && s != kNil; ++i, s = st.groups[s].next) {
      if (Evictable(cr, st.groups[s], t)) {
        victim = s;
        break;
      }
    }
    ++st.stats.groups_dropped;
    if (victim == kNil) return kNil;  // refused: counted, never unbounded
    Evict(cr, victim);
  }
  uint32_t slot;
  if (!st.free_slots.empty()) {
    slot = st.free_slots.back();
    st.free_slots.pop_back();
  } else {
    st.groups.emplace_back();
    slot = static_cast<uint32_t>(st.groups.size() - 1);
    cr.kind->SizeSlots(cr, st, st.groups.size(), options_.explain);
  }
  st.table.Insert(h, slot);
  Group& g = st.groups[slot];
  const uint32_t gen = g.gen + 1;
  const bool dirty = g.dirty;  // the slot may already be listed in dirty_slots
  g = Group();
  g.gen = gen;
  g.dirty = dirty;
  g.key = key_buf_;
  g.key_hash = h;
  g.alive = true;
  g.first_seen = t;
  g.last_event = t;
  ++st.stats.groups;
  Touch(st, slot);
  if (cr.group_fields.empty()) st.single_slot = slot;
  return slot;
}

std::vector<std::optional<std::string>> EngineImpl::GroupValues(const Group& g) const {
  std::vector<std::optional<std::string>> out;
  std::string_view k = g.key;
  while (!k.empty()) {
    if (k[0] == 0) {
      out.emplace_back(std::nullopt);
      k.remove_prefix(1);
      continue;
    }
    uint32_t len;
    std::memcpy(&len, k.data() + 1, 4);
    out.emplace_back(std::string(k.substr(5, len)));
    k.remove_prefix(5 + len);
  }
  return out;
}

// ---- conditions ----------------------------------------------------------------------------

// Group key: per field, 0 for null or 1 + u32 length + bytes of its first value.
void EngineImpl::BuildGroupKey(const CompiledRule& cr, const DecodedEvent& ev) {
  key_buf_.clear();
  for (uint32_t f : cr.group_fields) {
    const DecodedValue* v = ev.Begin(f);
    if (v == ev.End(f) || v->type == ValueType::kPresent) {
      key_buf_.push_back('\0');
      continue;
    }
    std::string_view text = ev.Text(*v);
    const auto len = static_cast<uint32_t>(text.size());
    key_buf_.push_back('\1');
    key_buf_.append(reinterpret_cast<const char*>(&len), 4);
    key_buf_.append(text);
  }
}

void EngineImpl::ApplyRule(CompiledRule& cr, const DecodedEvent& ev, bool counts) {
  const int64_t t = ev.time_ms;
  BuildGroupKey(cr, ev);
  const uint32_t slot = FindOrCreateGroup(cr, t);
  if (slot == kNil) return;
  RuleState& st = *cr.state;
  Group& g = st.groups[slot];
  g.last_event = t;
  Touch(st, slot);
  // Kinds without a lifecycle (every, new value) notify for the event being added.
  struct FireAtEvent final : WindowSink {
    FireAtEvent(EngineImpl& e, CompiledRule& r, uint32_t s, const DecodedEvent& v)
        : engine(e), cr(r), slot(s), ev(v) {}
    void Fire(Group& group) override {
      engine.Emit(cr, group, slot, AlertState::kFiring, ev.time_ms, &ev);
    }
    EngineImpl& engine;
    CompiledRule& cr;
    uint32_t slot;
    const DecodedEvent& ev;
  } sink(*this, cr, slot, ev);
  cr.kind->Add(cr, st, slot, ev, counts, options_.explain, sink);
  Update(cr, slot, t, &ev);
}

// Evaluates the condition at t, runs the pure lifecycle step (lifecycle.h) and applies what it
// returned: counters, the triggering event, the notification and the next timer.
void EngineImpl::Update(CompiledRule& cr, uint32_t slot, int64_t t, const DecodedEvent* ev) {
  RuleState& st = *cr.state;
  Group& g = st.groups[slot];
  MarkDirty(st, slot);
  if (!cr.has_lifecycle) return;
  cr.kind->Evaluate(cr, st, slot, t);
  const Life before = g.life;
  const LifecycleStep step = StepLifecycle({g.life, g.since, g.false_since, g.repeat_index},
                                           cr.lifecycle, g.cond, t, run_target_);
  g.life = step.next.life;
  g.since = step.next.since;
  g.false_since = step.next.false_since;
  g.repeat_index = step.next.repeat_index;
  switch (step.transition) {
    case Transition::kNone:
      break;
    case Transition::kPending:
      SaveTrigger(cr, g, slot, ev);
      ++st.stats.pending;
      break;
    case Transition::kCancelled:
      --st.stats.pending;
      break;
    case Transition::kFiring:
      if (before == Life::kInactive) SaveTrigger(cr, g, slot, ev);
      if (before == Life::kPending) --st.stats.pending;
      ++st.stats.firing;
      Emit(cr, g, slot, AlertState::kFiring, step.at, ev);
      break;
    case Transition::kRepeat:
      Emit(cr, g, slot, AlertState::kRepeat, step.at, ev);
      break;
    case Transition::kResolved:
      --st.stats.firing;
      Emit(cr, g, slot, AlertState::kResolved, step.at, ev);
      break;
  }
  int64_t due = std::min(cr.kind->NextChange(cr, st, slot, t), step.next_due);
  if (due <= t) due = t + 1;  // never re-run the same instant
  Schedule(cr, slot, due);
}

void EngineImpl::Schedule(CompiledRule& cr, uint32_t slot, int64_t due) {
  if (due == kNever) return;
  Group& g = cr.state->groups[slot];
  if (g.scheduled <= due) return;  // an earlier wake-up re-plans anyway
  g.scheduled = due;
  ++g.gen;
  queue_.Schedule({due, cr.index, slot, g.gen});
}

void EngineImpl::SaveTrigger(CompiledRule& cr, Group& g, uint32_t slot, const DecodedEvent* ev) {
  GroupExtra& x = g.X();
  x.trigger_json.assign(ev ? ev->Raw() : std::string_view());
  x.trigger_ids.clear();
  if (options_.explain) cr.kind->TriggerIds(cr, *cr.state, slot, ev, x.trigger_ids);
}

void EngineImpl::Emit(const CompiledRule& cr, Group& g, uint32_t slot, AlertState state, int64_t at,
                      const DecodedEvent* ev) {
  ++cr.state->stats.notifications;
  if (out_ == nullptr) return;
  const Rule& r = *cr.rule;
  Notification n;
  n.at_ms = at;
  n.rule_index = cr.index;
  n.rule_name = r.name;
  n.rule_id = r.id;
  n.state = state;
  n.group = GroupValues(g);
  n.value = cr.kind->Value(cr, *cr.state, slot, at);
  n.threshold = r.condition.threshold;
  n.window_ms = r.condition.window_ms;
  n.episode_start_ms = g.since;
  n.repeat_index = g.repeat_index;
  n.window_start_ms = at - r.condition.window_ms;
  n.window_end_ms = at;
  if (!cr.has_lifecycle) {
    n.one_shot = true;
    if (ev) n.event_json.assign(ev->Raw());
    if (options_.explain && ev && !ev->EventId().empty()) n.event_ids.emplace_back(ev->EventId());
  } else if (g.extra) {
    n.event_json = g.extra->trigger_json;
    if (options_.explain) n.event_ids = g.extra->trigger_ids;
  }
  out_->push_back(std::move(n));
}

const EngineStats& EngineImpl::Stats() const {
  for (size_t i = 0; i < compiled_.size(); ++i) stats_.rules[i] = compiled_[i].state->stats;
  return stats_;
}

std::optional<double> EngineImpl::RuleValue(uint32_t rule_index, bool highest) const {
  for (const auto& cr : compiled_) {
    if (cr.index != rule_index) continue;
    if (!cr.has_lifecycle) return std::nullopt;
    std::optional<double> best;
    const RuleState& st = *cr.state;
    for (size_t i = 0; i < st.groups.size(); ++i) {
      if (!st.groups[i].alive) continue;
      const double v = cr.kind->Value(cr, st, static_cast<uint32_t>(i), queue_.watermark());
      if (!best || (highest ? v > *best : v < *best)) best = v;
    }
    return best;
  }
  return std::nullopt;
}

std::vector<ActiveAlert> EngineImpl::ActiveAlerts() const {
  std::vector<ActiveAlert> out;
  titles_next_.clear();
  for (const auto& cr : compiled_) {
    for (const Group& g : cr.state->groups) {
      if (!g.alive || g.life == Life::kInactive) continue;
      const auto slot = static_cast<uint32_t>(&g - cr.state->groups.data());
      ActiveAlert a;
      a.rule_index = cr.index;
      a.group = GroupValues(g);
      a.firing = g.life == Life::kFiring;
      a.value = cr.kind->Value(cr, *cr.state, slot, queue_.watermark());
      a.since_ms = g.since;
      if (g.extra && !g.extra->trigger_json.empty()) {
        const std::string& json = g.extra->trigger_json;
        const uint64_t key = (uint64_t{cr.index} << 32) | slot;
        auto known = titles_.find(key);
        KnownTitle& t = titles_next_[key];
        if (known != titles_.end() && known->second.since == g.since &&
            known->second.trigger_bytes == json.size()) {
          t = std::move(known->second);
        } else {
          t = {g.since, json.size(), TriggerTitle(json)};
        }
        a.trigger = t.title;
      }
      out.push_back(std::move(a));
    }
  }
  titles_.swap(titles_next_);
  return out;
}

std::string EngineImpl::TriggerTitle(const std::string& trigger_json) const {
  if (!title_decoder_) {
    FieldRef title;
    title.name = "title";
    title.kind = FieldRef::Kind::kDerived;
    title.path = {"title"};
    title_decoder_ = std::make_unique<EventDecoder>(std::vector<FieldRef>{title}, options_);
  }
  // The trigger was accepted by this engine's own decoder, so it decodes again; should it not,
  // the page shows no title rather than a wrong one.
  if (title_decoder_->Decode(trigger_json, title_event_) != RejectReason::kNone ||
      !title_event_.Has(0)) {
    return {};
  }
  return std::string(title_event_.Text(*title_event_.Begin(0)));
}

// ---- state snapshots -----------------------------------------------------------------------
// Layout and rules in engine/README.md ("State snapshots"). Groups keep their slots, and the LRU
// and free-slot orders are kept too: timers at one instant run in slot order and eviction
// follows the LRU, so a restored engine must make the choices the saving engine would have.

constexpr char kStateMagic[8] = {'K', 'L', 'X', 'S', 'T', 'A', 'T', 'E'};
constexpr uint32_t kStateVersion = 1;
constexpr uint32_t kStateHasIds = 1;  // header flag: small count rings carry event ids (explain)
constexpr size_t kStateHeaderBytes = sizeof(kStateMagic) + 4;  // magic, version
constexpr size_t kStateTrailerBytes = 8;                       // FNV-1a 64 of all before it
// A held backlog spanning more sequences than this is taken for corruption (the tracker would
// need one byte per sequence of the span).
constexpr uint64_t kMaxRestoredSequenceSpan = uint64_t{1} << 28;
// Rows of one rule from which a restore parses its groups on two threads.
constexpr size_t kParallelRestoreRows = 8192;
constexpr uint8_t kGroupAlive = 1;
constexpr uint8_t kGroupCond = 2;
constexpr uint8_t kGroupExtra = 4;
Status SnapshotError(const std::string& what) {
  return Status::InvalidArgument("state snapshot: " + what);
}

Status EngineImpl::SaveState(std::string& out) const {
  out.clear();
  StateWriter w(out);
  out.append(kStateMagic, sizeof(kStateMagic));
  w.U32(kStateVersion);
  w.U32(options_.explain ? kStateHasIds : 0);
  SaveEnginePart(w);
  w.U32(static_cast<uint32_t>(compiled_.size()));
  for (const CompiledRule& cr : compiled_) SaveRule(cr, w);
  w.U64(Fnv1a64(out));
  return Status::Ok();
}

// Watermark, sequences, counters and held events: what follows the flags in both formats.
void EngineImpl::SaveEnginePart(StateWriter& w) const {
  w.I64(queue_.watermark());
  w.I64(queue_.max_time());
  w.U64(queue_.next_seq());
  w.U64(stats_.received);
  w.U64(stats_.accepted);
  w.U64(stats_.late);
  w.U32(static_cast<uint32_t>(RejectReason::kCount_));
  for (uint64_t n : stats_.rejected) w.U64(n);
  // Held events in evaluation order, so equal states give equal bytes whatever the heap layout.
  std::vector<Held> held = queue_.held();
  std::sort(held.begin(), held.end(), [](const Held& a, const Held& b) { return b > a; });
  w.U32(static_cast<uint32_t>(held.size()));
  for (const Held& h : held) {
    w.I64(h.time);
    w.U64(h.seq);
    w.Str(HeldBytes(*pool_[h.idx]));
  }
}

void EngineImpl::SaveRule(const CompiledRule& cr, StateWriter& w) const {
  const RuleState& st = *cr.state;
  w.Str(cr.rule->id);
  // The layout the section was written for; an id can only meet another layout across engine
  // versions, and then the rule starts empty rather than misreading.
  w.U8(static_cast<uint8_t>(cr.mode));
  w.U8(cr.small_ring ? 1 : 0);
  w.U64(cr.k);
  const size_t length_at = w.Size();
  w.U64(0);
  const size_t begin = w.Size();
  w.U64(st.stats.matches);
  w.U64(st.stats.notifications);
  w.U64(st.stats.groups_dropped);
  w.U32(static_cast<uint32_t>(st.groups.size()));
  w.U32(st.single_slot);
  for (uint32_t s = 0; s < st.groups.size(); ++s) SaveGroup(cr, s, w);
  w.U32(static_cast<uint32_t>(st.free_slots.size()));
  for (uint32_t s : st.free_slots) w.U32(s);
  w.U32(static_cast<uint32_t>(st.stats.groups));
  for (uint32_t s = st.lru_head; s != kNil; s = st.groups[s].next) w.U32(s);
  w.PatchU64(length_at, w.Size() - begin);
}

// One group slot as a rule section holds it (the rows of incremental snapshots too).
void EngineImpl::SaveGroup(const CompiledRule& cr, uint32_t s, StateWriter& w) const {
  const RuleState& st = *cr.state;
  const Group& g = st.groups[s];
  if (!g.alive) {
    w.U8(0);  // a free slot: nothing of its last group matters
    return;
  }
  w.U8(static_cast<uint8_t>(kGroupAlive | (g.cond ? kGroupCond : 0) | (g.extra ? kGroupExtra : 0)));
  w.Str(g.key);
  w.U8(static_cast<uint8_t>(g.life));
  w.U32(g.repeat_index);
  w.I64(g.first_seen);
  w.I64(g.last_event);
  w.I64(g.since);
  w.I64(g.false_since);
  w.I64(g.last_notified);
  w.I64(g.scheduled);
  w.F64(g.value);
  cr.kind->Save(cr, st, s, options_.explain, w);
  if (!g.extra) return;
  // A group has one or two of these parts; a mask saves the framing of the empty ones.
  const GroupExtra& x = *g.extra;
  const uint8_t parts =
      static_cast<uint8_t>(cr.kind->Parts(x) | (x.trigger_json.empty() ? 0 : kExtraTrigger) |
                           (x.trigger_ids.empty() ? 0 : kExtraIds));
  w.U8(parts);
  cr.kind->SaveParts(x, parts, w);
  if (parts & kExtraTrigger) w.Str(x.trigger_json);
  if (parts & kExtraIds) {
    w.U32(static_cast<uint32_t>(x.trigger_ids.size()));
    for (const auto& id : x.trigger_ids) w.Str(id);
  }
}

// ---- incremental snapshots ----------------------------------------------------------------
// The head is the snapshot without its groups (engine/README.md, "Incremental snapshots"):
// "KLXSHEAD", u32 version, u32 flags, u64 length + the engine part, u32 rule count and per rule
// its id, layout (u8 mode, u8 ring kind, u64 k), counters, u32 slots, u32 single slot and the
// free slots; at the end the FNV-1a 64 of every byte before it. Rows are SaveGroup's bytes.

constexpr char kHeadMagic[8] = {'K', 'L', 'X', 'S', 'H', 'E', 'A', 'D'};

// Magic, version, checksum and flags of a snapshot (`head` false) or a head; `r` then reads
// what follows the flags. The version comes before the checksum: another version may checksum
// differently.
Status OpenFramed(std::string_view bytes, bool head, StateReader& r, bool& has_ids) {
  const std::string noun = head ? "head" : "snapshot";
  if (bytes.size() < kStateHeaderBytes + kStateTrailerBytes) {
    return SnapshotError(std::string(head ? "truncated head (" : "truncated (") +
                         std::to_string(bytes.size()) + " bytes)");
  }
  if (std::memcmp(bytes.data(), head ? kHeadMagic : kStateMagic, sizeof(kStateMagic)) != 0) {
    return SnapshotError("not a Klaxon state " + noun + " (bad magic)");
  }
  const uint32_t version = StateReader(bytes.substr(sizeof(kStateMagic))).U32();
  if (version != kStateVersion) {
    return SnapshotError("format version " + std::to_string(version) + ", this Klaxon reads " +
                         std::to_string(kStateVersion));
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kStateTrailerBytes);
  if (StateReader(bytes.substr(body.size())).U64() != Fnv1a64(body)) {
    return SnapshotError(std::string(head ? "head " : "") +
                         "checksum mismatch (truncated or corrupt)");
  }
  r = StateReader(body.substr(kStateHeaderBytes));
  const uint32_t flags = r.U32();
  has_ids = (flags & kStateHasIds) != 0;
  if ((flags & ~kStateHasIds) != 0) return SnapshotError("corrupt (unknown flags)");
  return Status::Ok();
}

Status EngineImpl::SaveStateChanges(StateChanges& out) {
  out.head.clear();
  StateWriter w(out.head);
  out.head.append(kHeadMagic, sizeof(kHeadMagic));
  w.U32(kStateVersion);
  w.U32(options_.explain ? kStateHasIds : 0);
  const size_t length_at = w.Size();
  w.U64(0);
  const size_t begin = w.Size();
  SaveEnginePart(w);
  w.PatchU64(length_at, w.Size() - begin);
  w.U32(static_cast<uint32_t>(compiled_.size()));
  for (const CompiledRule& cr : compiled_) {
    const RuleState& st = *cr.state;
    w.Str(cr.rule->id);
    w.U8(static_cast<uint8_t>(cr.mode));
    w.U8(cr.small_ring ? 1 : 0);
    w.U64(cr.k);
    w.U64(st.stats.matches);
    w.U64(st.stats.notifications);
    w.U64(st.stats.groups_dropped);
    w.U32(static_cast<uint32_t>(st.groups.size()));
    w.U32(st.single_slot);
    w.U32(static_cast<uint32_t>(st.free_slots.size()));
    for (uint32_t slot : st.free_slots) w.U32(slot);
  }
  w.U64(Fnv1a64(out.head));

  out.full = full_changes_;
  out.group_count = 0;
  for (CompiledRule& cr : compiled_) {
    RuleState& st = *cr.state;
    uint32_t s = st.lru_head;
    if (!full_changes_) {
      // Groups touched since the last save were each moved to the LRU tail then, so they are
      // the tail's run of touched groups: they alone get new (higher) ranks, in LRU order.
      s = st.lru_tail;
      while (s != kNil && st.groups[s].touched) s = st.groups[s].prev;
      s = s == kNil ? st.lru_head : st.groups[s].next;
    }
    for (; s != kNil; s = st.groups[s].next) AddRow(out, cr.index, s, next_rank_++);
    for (uint32_t d : st.dirty_slots) {
      Group& g = st.groups[d];
      if (!full_changes_ && !(g.alive && g.touched)) AddRow(out, cr.index, d, 0);
      g.dirty = false;
      g.touched = false;
    }
    st.dirty_slots.clear();
    st.track_changes = true;
  }
  full_changes_ = false;
  return Status::Ok();
}

void EngineImpl::AddRow(StateChanges& out, uint32_t rule, uint32_t slot, uint64_t rank) const {
  if (out.group_count == out.groups.size()) out.groups.emplace_back();
  StateGroupRow& row = out.groups[out.group_count++];
  row.rule = rule;
  row.slot = slot;
  row.rank = rank;
  row.bytes.clear();  // keeps its capacity for the next save
  const CompiledRule& cr = compiled_[rule];
  if (!cr.state->groups[slot].alive) return;
  StateWriter w(row.bytes);
  SaveGroup(cr, slot, w);
}

// A rule's counters, slot count and single slot, as a snapshot section or a head lists them.
std::unique_ptr<RuleState> EngineImpl::BeginRule(const CompiledRule& cr, StateReader& r,
                                                 size_t rows, size_t slot_bytes,
                                                 std::string& error) const {
  auto st = std::make_unique<RuleState>();
  st->stats.matches = r.U64();
  st->stats.notifications = r.U64();
  st->stats.groups_dropped = r.U64();
  const uint32_t slots = r.U32();
  st->single_slot = r.U32();
  if (!r.ok()) {
    error = "truncated";
    return nullptr;
  }
  // Every slot takes bytes (its flags in a section, a row or a free-slot entry in a head): a
  // corrupt count never sizes the slab.
  if (slots > rows + r.Left() / slot_bytes) {
    error = "truncated";
    return nullptr;
  }
  if (st->single_slot != kNil && st->single_slot >= slots) {
    error = "group slot out of range";
    return nullptr;
  }
  st->groups.resize(slots);
  st->table.Reserve(slots);
  cr.kind->SizeSlots(cr, *st, slots, options_.explain);
  return st;
}

// One live group after its flags byte: the fields SaveGroup wrote, into slot `s`.
bool EngineImpl::LoadGroup(const CompiledRule& cr, RuleState& st, uint32_t s, uint8_t flags,
                           bool has_ids, StateReader& r, std::string& error) const {
  return ParseGroup(cr, st, s, flags, has_ids, r, error) && IndexGroup(st, s, error);
}

bool EngineImpl::IndexGroup(RuleState& st, uint32_t s, std::string& error) {
  const Group& g = st.groups[s];
  auto key_of = [&](uint32_t slot) -> std::string_view { return st.groups[slot].key; };
  if (st.table.Find(g.key, g.key_hash, key_of) != kNil) {
    error = "duplicate group key";
    return false;
  }
  st.table.Insert(g.key_hash, s);
  ++st.stats.groups;
  st.stats.pending += g.life == Life::kPending;
  st.stats.firing += g.life == Life::kFiring;
  return true;
}

bool EngineImpl::ParseGroup(const CompiledRule& cr, RuleState& st, uint32_t s, uint8_t flags,
                            bool has_ids, StateReader& r, std::string& error) const {
  Group& g = st.groups[s];
  g.alive = true;
  g.cond = (flags & kGroupCond) != 0;
  g.key.assign(r.Str());
  g.key_hash = KeyHash(g.key);
  const uint8_t life = r.U8();
  if (life > static_cast<uint8_t>(Life::kFiring)) {
    error = "unknown lifecycle state";
    return false;
  }
  g.life = static_cast<Life>(life);
  g.repeat_index = r.U32();
  g.first_seen = r.I64();
  g.last_event = r.I64();
  g.since = r.I64();
  g.false_since = r.I64();
  g.last_notified = r.I64();
  g.scheduled = r.I64();
  g.value = r.F64();
  if (!cr.kind->Restore(cr, st, s, has_ids, options_.explain, r, error)) return false;
  if ((flags & kGroupExtra) != 0) {
    GroupExtra& x = g.X();
    const uint8_t parts = r.U8();
    if ((parts & ~kExtraAll) != 0) {
      error = "unknown group parts";
      return false;
    }
    if (!cr.kind->RestoreParts(parts & kExtraWindowParts, r, x, error)) return false;
    if (parts & kExtraTrigger) x.trigger_json.assign(r.Str());
    if (parts & kExtraIds) {
      const uint32_t ids = r.Count(4);
      x.trigger_ids.reserve(ids);
      for (uint32_t i = 0; i < ids; ++i) x.trigger_ids.emplace_back(r.Str());
    }
  }
  if (!r.ok()) {
    error = "truncated";
    return false;
  }
  return true;
}

// A rule's free slots (`dead` of them, each a slot without a group), marked in `listed`.
// False (and `error`) when they do not fit; a truncated list leaves `r` failed.
bool ReadFreeSlots(StateReader& r, uint32_t dead, RuleState& st, std::vector<uint8_t>& listed,
                   std::string& error) {
  const uint32_t slots = static_cast<uint32_t>(st.groups.size());
  const uint32_t free_slots = r.Count(4);
  if (r.ok() && free_slots != dead) {
    error = "free slots do not match the dead groups";
    return false;
  }
  listed.assign(slots, 0);
  for (uint32_t i = 0; i < free_slots; ++i) {
    const uint32_t s = r.U32();
    if (!r.ok()) break;
    if (s >= slots || st.groups[s].alive || listed[s]) {
      error = "bad free slot";
      return false;
    }
    listed[s] = 1;
    st.free_slots.push_back(s);
  }
  return true;
}

// Reads one rule's section into a new RuleState; nullptr (and `error`) when it is inconsistent.
std::unique_ptr<RuleState> EngineImpl::LoadRule(const CompiledRule& cr, bool has_ids,
                                                StateReader& r, std::string& error) {
  auto fail = [&](std::string_view what) {
    error = "rule " + cr.rule->id + ": ";
    error.append(what);
    return nullptr;
  };
  std::string what;
  auto st = BeginRule(cr, r, 0, 1, what);
  if (!st) return fail(what);
  const uint32_t slots = static_cast<uint32_t>(st->groups.size());
  uint32_t dead = 0;
  for (uint32_t s = 0; s < slots && r.ok(); ++s) {
    const uint8_t flags = r.U8();
    if ((flags & ~(kGroupAlive | kGroupCond | kGroupExtra)) != 0)
      return fail("unknown group flags");
    if ((flags & kGroupAlive) == 0) {
      ++dead;
      continue;
    }
    if (!LoadGroup(cr, *st, s, flags, has_ids, r, what)) return fail(what);
  }
  std::vector<uint8_t> listed;
  if (!ReadFreeSlots(r, dead, *st, listed, what)) return fail(what);
  const uint32_t lru = r.Count(4);
  if (r.ok() && lru != st->stats.groups) return fail("LRU order does not list every group");
  for (uint32_t i = 0; i < lru; ++i) {
    const uint32_t s = r.U32();
    if (!r.ok()) break;
    if (s >= slots || !st->groups[s].alive || listed[s]) return fail("bad LRU entry");
    listed[s] = 1;
    LinkTail(*st, s);
  }
  if (!r.ok()) return fail("truncated");
  if (r.Left() != 0) return fail("bytes left over");
  return st;
}

// The engine part of a snapshot or head, read and checked before anything is committed.
struct EngineImpl::RestoredPart {
  struct HeldRaw {
    int64_t time;
    uint64_t seq;
    std::string_view raw;
  };
  int64_t watermark = kNone;
  int64_t max_time = kNone;
  uint64_t next_seq = 0;
  uint64_t received = 0;
  uint64_t accepted = 0;
  uint64_t late = 0;
  uint64_t rejected[static_cast<int>(RejectReason::kCount_)] = {};
  std::vector<HeldRaw> held;
};

namespace {

// Watermark, sequences, counters and held events (SaveEnginePart).
Status ReadEnginePart(StateReader& r, auto& part) {
  part.watermark = r.I64();
  part.max_time = r.I64();
  part.next_seq = r.U64();
  part.received = r.U64();
  part.accepted = r.U64();
  part.late = r.U64();
  const uint32_t reasons = r.Count(8);
  if (reasons > static_cast<uint32_t>(RejectReason::kCount_)) {
    return SnapshotError("corrupt (unknown reject reasons)");
  }
  for (uint32_t i = 0; i < reasons; ++i) part.rejected[i] = r.U64();
  part.held.resize(r.Count(8 + 8 + 4));
  std::vector<uint64_t> pending;
  pending.reserve(part.held.size());
  for (auto& h : part.held) {
    h.time = r.I64();
    h.seq = r.U64();
    h.raw = r.Str();
    pending.push_back(h.seq);
  }
  std::sort(pending.begin(), pending.end());
  if (!r.ok()) return SnapshotError("corrupt (held events)");
  if (!pending.empty() && (pending.front() == 0 || pending.back() >= part.next_seq ||
                           part.next_seq - pending.front() > kMaxRestoredSequenceSpan ||
                           std::adjacent_find(pending.begin(), pending.end()) != pending.end())) {
    return SnapshotError("corrupt (held event sequences)");
  }
  return Status::Ok();
}

// Rules are matched by id, in order, as a reload matches them (TakeStateFrom): the compiled
// rule a saved rule's state goes to, or nullptr (gone, changed, or another layout).
class RuleMatcher {
 public:
  explicit RuleMatcher(const std::vector<CompiledRule>& compiled) : compiled_(compiled) {
    for (size_t i = compiled.size(); i-- > 0;) {
      by_id_[compiled[i].rule->id].push_back(static_cast<uint32_t>(i));
    }
  }
  const CompiledRule* Match(std::string_view id, uint8_t mode, bool small_ring, uint64_t k) {
    auto it = by_id_.find(id);
    if (it == by_id_.end() || it->second.empty()) return nullptr;
    const CompiledRule& cr = compiled_[it->second.back()];
    it->second.pop_back();
    if (mode != static_cast<uint8_t>(cr.mode) || small_ring != cr.small_ring || k != cr.k) {
      return nullptr;  // another layout for the same id: starts empty
    }
    return &cr;
  }

 private:
  const std::vector<CompiledRule>& compiled_;
  std::unordered_map<std::string_view, std::vector<uint32_t>> by_id_;
};

}  // namespace

Status EngineImpl::CheckFresh() const {
  bool fresh = stats_.received == 0 && queue_.watermark() == kNone && queue_.HeldCount() == 0;
  for (const CompiledRule& cr : compiled_) fresh = fresh && cr.state->groups.empty();
  if (!fresh) {
    return Status::FailedPrecondition(
        "state snapshot: restore into a fresh engine, before any event or AdvanceTo");
  }
  return Status::Ok();
}

Status EngineImpl::RestoreState(std::string_view bytes) {
  if (Status s = CheckFresh(); !s.ok()) return s;
  // Everything is read and checked into local state first: a refused snapshot leaves no trace.
  StateReader r({});
  bool has_ids = false;
  if (Status s = OpenFramed(bytes, /*head=*/false, r, has_ids); !s.ok()) return s;
  RestoredPart part;
  if (Status s = ReadEnginePart(r, part); !s.ok()) return s;

  RuleMatcher matcher(compiled_);
  std::vector<std::unique_ptr<RuleState>> states(compiled_.size());
  const uint32_t rules = r.Count(4 + 1 + 1 + 8 + 8);
  // Every rule at its position, saved with the same options: the snapshot's groups are this
  // engine's groups byte for byte (ContinueChanges).
  bool in_place = rules == compiled_.size() && has_ids == options_.explain;
  for (uint32_t i = 0; i < rules && r.ok(); ++i) {
    const std::string_view id = r.Str();
    const uint8_t mode = r.U8();
    const bool small_ring = r.U8() != 0;
    const uint64_t k = r.U64();
    StateReader section(r.Bytes(r.U64()));
    if (!r.ok()) break;
    const CompiledRule* cr = matcher.Match(id, mode, small_ring, k);
    if (cr == nullptr) continue;
    std::string error;
    states[cr->index] = LoadRule(*cr, has_ids, section, error);
    if (!states[cr->index]) return SnapshotError("corrupt (" + error + ")");
    in_place = in_place && cr->index == i;
  }
  if (!r.ok()) return SnapshotError("corrupt (rules)");
  if (r.Left() != 0) return SnapshotError("corrupt (bytes left over)");
  CommitRestore(part, states, in_place);
  return Status::Ok();
}

void EngineImpl::ParseRows(const CompiledRule& cr, RuleState& st,
                           const std::vector<StateGroupView>& rows, size_t first, size_t end,
                           bool has_ids, RowProblem& problem) const {
  std::string error;
  for (size_t i = first; i < end; ++i) {
    StateReader g(rows[i].bytes);
    const uint8_t flags = g.U8();
    if ((flags & ~(kGroupAlive | kGroupCond | kGroupExtra)) != 0) {
      problem = {i, "unknown group flags", false};
    } else if ((flags & kGroupAlive) == 0) {
      problem = {i, "corrupt (group row)", true};
    } else if (!ParseGroup(cr, st, rows[i].slot, flags, has_ids, g, error)) {
      problem = {i, error, false};
    } else if (g.Left() != 0) {
      problem = {i, "bytes left over", false};
    }
    if (problem.row != SIZE_MAX) return;
  }
}

// An incremental checkpoint straight from its head and rows: the checks of AssembleState and
// RestoreState, without building the whole snapshot and reading it again (a restart with a
// million groups spent half its time on that).
Status EngineImpl::RestoreChanges(std::string_view head, std::vector<StateGroupView>& rows) {
  if (Status s = CheckFresh(); !s.ok()) return s;
  StateReader r({});
  bool has_ids = false;
  if (Status s = OpenFramed(head, /*head=*/true, r, has_ids); !s.ok()) return s;
  StateReader engine_part(r.Bytes(r.U64()));
  RestoredPart part;
  if (Status s = ReadEnginePart(engine_part, part); !s.ok()) return s;
  if (engine_part.Left() != 0) return SnapshotError("corrupt (bytes left over)");

  auto by_group = [](const StateGroupView& a, const StateGroupView& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.slot < b.slot;
  };
  if (!std::is_sorted(rows.begin(), rows.end(), by_group)) {
    std::sort(rows.begin(), rows.end(), by_group);
  }
  RuleMatcher matcher(compiled_);
  std::vector<std::unique_ptr<RuleState>> states(compiled_.size());
  const uint32_t rules = r.Count(4 + 1 + 1 + 8 + 3 * 8 + 4 + 4 + 4);
  if (!r.ok()) return SnapshotError("corrupt (head)");
  if (!rows.empty() && rows.back().rule >= rules) {
    return SnapshotError("corrupt (group row of no rule)");
  }
  bool in_place = rules == compiled_.size() && has_ids == options_.explain;
  size_t row = 0;
  std::vector<std::pair<uint64_t, uint32_t>> lru;  // (rank, slot)
  std::vector<uint8_t> listed;
  std::string error;
  for (uint32_t rule = 0; rule < rules && r.ok(); ++rule) {
    const std::string_view id = r.Str();
    const uint8_t mode = r.U8();
    const bool small_ring = r.U8() != 0;
    const uint64_t k = r.U64();
    const size_t first = row;
    while (row < rows.size() && rows[row].rule == rule) ++row;
    for (size_t i = first; i < row; ++i) {
      if (rows[i].bytes.empty() || rows[i].rank == 0) return SnapshotError("corrupt (group row)");
      if (i > first && rows[i].slot == rows[i - 1].slot) {
        return SnapshotError("corrupt (two rows for one group)");
      }
    }
    const CompiledRule* cr = matcher.Match(id, mode, small_ring, k);
    if (cr == nullptr) {
      // Not restored, but its header is read (and checked) to reach the next rule.
      for (int i = 0; i < 3; ++i) r.U64();
      const uint32_t slots = r.U32();
      r.U32();
      const uint32_t free_slots = r.Count(4);
      for (uint32_t i = 0; i < free_slots; ++i) r.U32();
      if (r.ok() && row > first && rows[row - 1].slot >= slots) {
        return SnapshotError("corrupt (group row past the rule's slots)");
      }
      continue;
    }
    auto fail = [&](std::string_view what) {
      return SnapshotError("corrupt (rule " + cr->rule->id + ": " + std::string(what) + ")");
    };
    auto st = BeginRule(*cr, r, row - first, 4, error);
    if (!st) return fail(error);
    const uint32_t slots = static_cast<uint32_t>(st->groups.size());
    if (row > first && rows[row - 1].slot >= slots) {
      return SnapshotError("corrupt (group row past the rule's slots)");
    }
    // Parsing the groups is most of a restart's time: a large rule's rows are parsed on two
    // threads (each its own slots), then indexed here in row order.
    RowProblem problems[2];
    {
      const size_t mid = row - first >= kParallelRestoreRows ? first + (row - first) / 2 : row;
      std::jthread second;
      if (mid < row) {
        second =
            std::jthread([&, mid] { ParseRows(*cr, *st, rows, mid, row, has_ids, problems[1]); });
      }
      ParseRows(*cr, *st, rows, first, mid, has_ids, problems[0]);
    }
    for (const RowProblem& p : problems) {
      if (p.row == SIZE_MAX) continue;
      return p.whole ? SnapshotError(p.what) : fail(p.what);
    }
    lru.clear();
    lru.reserve(row - first);
    for (size_t i = first; i < row; ++i) {
      if (!IndexGroup(*st, rows[i].slot, error)) return fail(error);
      lru.emplace_back(rows[i].rank, rows[i].slot);
    }
    if (!ReadFreeSlots(r, slots - static_cast<uint32_t>(row - first), *st, listed, error)) {
      return fail(error);
    }
    // Alive slots in rank order form the LRU list.
    std::sort(lru.begin(), lru.end());
    for (const auto& [rank, slot] : lru) LinkTail(*st, slot);
    states[cr->index] = std::move(st);
    in_place = in_place && cr->index == rule;
  }
  if (!r.ok()) return SnapshotError("corrupt (head)");
  if (r.Left() != 0) return SnapshotError("corrupt (bytes left over in the head)");
  if (row != rows.size()) return SnapshotError("corrupt (group row of no rule)");
  CommitRestore(part, states, in_place);
  return Status::Ok();
}

// Nothing here can fail: what was read is checked.
void EngineImpl::CommitRestore(RestoredPart& part, std::vector<std::unique_ptr<RuleState>>& states,
                               bool in_place) {
  // Held events are decoded for this engine's field table, as a reload does.
  std::vector<std::unique_ptr<DecodedEvent>> events;
  std::vector<uint64_t> still_pending;
  for (const RestoredPart::HeldRaw& h : part.held) {
    auto ev = std::make_unique<DecodedEvent>();
    if (DecodeHeld(h.raw, *ev) != RejectReason::kNone) continue;  // done, as in a reload
    ev->time_ms = h.time;
    ev->sequence = h.seq;
    events.push_back(std::move(ev));
    still_pending.push_back(h.seq);
  }
  std::sort(still_pending.begin(), still_pending.end());

  for (const auto& st : states) in_place = in_place && st != nullptr;
  for (CompiledRule& cr : compiled_) {
    if (!states[cr.index]) continue;
    cr.state = std::move(states[cr.index]);
    RuleState& st = *cr.state;
    for (uint32_t s = 0; s < st.groups.size(); ++s) {
      const Group& g = st.groups[s];
      if (g.alive && g.scheduled != kNever)
        queue_.AddUnordered(Timer{g.scheduled, cr.index, s, g.gen});
    }
  }
  stats_.received = part.received;
  stats_.accepted = part.accepted;
  stats_.late = part.late;
  std::copy(std::begin(part.rejected), std::end(part.rejected), std::begin(stats_.rejected));
  for (auto& ev : events) {
    queue_.AddUnordered(Held{ev->time_ms, ev->sequence, static_cast<uint32_t>(pool_.size())});
    pool_.push_back(std::move(ev));
  }
  queue_.RestoreHeaps();
  queue_.RestoreTime(part.watermark, part.max_time, part.next_seq, still_pending);
  restored_in_place_ = in_place;
}

bool EngineImpl::ContinueChanges(uint64_t last_rank) {
  // After the first SaveStateChanges the rows no longer match what the store holds.
  if (!restored_in_place_ || !full_changes_ || last_rank == 0) return false;
  full_changes_ = false;
  next_rank_ = last_rank + 1;
  for (CompiledRule& cr : compiled_) cr.state->track_changes = true;
  return true;
}

// Rebuilds a version-1 snapshot (SaveState's layout) from a head and its rows.
template <typename Row>
Status AssembleHead(std::string_view head, std::vector<Row>& rows, std::string& out) {
  StateReader r({});
  bool has_ids = false;
  if (Status s = OpenFramed(head, /*head=*/true, r, has_ids); !s.ok()) return s;
  const uint32_t flags = has_ids ? kStateHasIds : 0;
  const std::string_view engine_part = r.Bytes(r.U64());
  const uint32_t rules = r.Count(4 + 1 + 1 + 8 + 3 * 8 + 4 + 4 + 4);
  if (!r.ok()) return SnapshotError("corrupt (head)");
  auto by_group = [](const Row& a, const Row& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.slot < b.slot;
  };
  if (!std::is_sorted(rows.begin(), rows.end(), by_group)) {
    std::sort(rows.begin(), rows.end(), by_group);
  }
  out.clear();
  StateWriter w(out);
  out.append(kStateMagic, sizeof(kStateMagic));
  w.U32(kStateVersion);
  w.U32(flags);
  out.append(engine_part);
  w.U32(rules);
  size_t row = 0;
  std::vector<std::pair<uint64_t, uint32_t>> lru;  // (rank, slot)
  for (uint32_t rule = 0; rule < rules; ++rule) {
    w.Str(r.Str());  // id
    w.U8(r.U8());    // mode
    w.U8(r.U8());    // ring kind
    w.U64(r.U64());  // k
    const size_t length_at = w.Size();
    w.U64(0);
    const size_t begin = w.Size();
    for (int i = 0; i < 3; ++i) w.U64(r.U64());  // matches, notifications, groups dropped
    const uint32_t slots = r.U32();
    w.U32(slots);
    w.U32(r.U32());  // single slot
    if (!r.ok()) return SnapshotError("corrupt (head)");
    lru.clear();
    for (uint32_t slot = 0; slot < slots; ++slot) {
      if (row == rows.size() || rows[row].rule != rule || rows[row].slot != slot) {
        w.U8(0);  // a free slot
        continue;
      }
      const Row& g = rows[row++];
      if (g.bytes.empty() || g.rank == 0) return SnapshotError("corrupt (group row)");
      if (row < rows.size() && rows[row].rule == rule && rows[row].slot == slot) {
        return SnapshotError("corrupt (two rows for one group)");
      }
      out.append(g.bytes);
      lru.emplace_back(g.rank, slot);
    }
    const uint32_t free_slots = r.Count(4);
    w.U32(free_slots);
    for (uint32_t i = 0; i < free_slots; ++i) w.U32(r.U32());
    std::sort(lru.begin(), lru.end());
    w.U32(static_cast<uint32_t>(lru.size()));
    for (const auto& [rank, slot] : lru) w.U32(slot);
    w.PatchU64(length_at, w.Size() - begin);
    if (row < rows.size() && rows[row].rule == rule) {
      return SnapshotError("corrupt (group row past the rule's slots)");
    }
  }
  if (!r.ok()) return SnapshotError("corrupt (head)");
  if (r.Left() != 0) return SnapshotError("corrupt (bytes left over in the head)");
  if (row != rows.size()) return SnapshotError("corrupt (group row of no rule)");
  w.U64(Fnv1a64(out));
  return Status::Ok();
}

}  // namespace

std::vector<RuleProblem> ValidateRule(const Rule& r) {
  using Part = RuleProblem::Part;
  std::vector<RuleProblem> out;
  auto bad = [&](Part part, std::string what, std::string hint = "", size_t index = 0) {
    out.push_back({part, index, std::move(what), std::move(hint)});
  };
  auto bad_field = [](const FieldRef& f) {
    return f.path.empty() && (f.kind == FieldRef::Kind::kPath || (f.tag.empty() && f.name.empty()));
  };
  for (size_t i = 0; i < r.group_by.size(); ++i) {
    if (bad_field(r.group_by[i])) bad(Part::kGroupBy, "group by field without a path", "", i);
  }
  const Condition& c = r.condition;
  if (!std::isfinite(c.threshold)) bad(Part::kThreshold, "threshold is not a finite number");
  if (r.pending_ms < 0 || r.keep_firing_ms < 0 || r.repeat_ms < 0) {
    bad(Part::kRule, "negative duration");
  }
  const bool windowed = c.kind != Condition::Kind::kEvery && c.kind != Condition::Kind::kNewValue;
  if (windowed && c.window_ms <= 0) bad(Part::kWindow, "window must be positive");
  switch (c.kind) {
    case Condition::Kind::kNewValue:
      if (bad_field(c.field)) bad(Part::kField, "new() needs a field");
      break;
    case Condition::Kind::kUnique: {
      if (bad_field(c.field)) bad(Part::kField, "unique() needs a field");
      uint64_t k = 0;
      bool lower = false;
      if (std::isfinite(c.threshold)) ThresholdToK(c.op, c.threshold, k, lower);
      if (k > kMaxUniqueK) {
        bad(Part::kThreshold, "unique() thresholds above 100000 are not supported",
            "the engine keeps at most 100000 distinct values per group; `>= 100000` is the "
            "highest threshold");
      }
      break;
    }
    case Condition::Kind::kChange:
      if (c.offset_ms <= 0) bad(Part::kOffset, "change needs a positive offset");
      break;
    default:
      break;
  }
  return out;
}

GroupStateBytes StateBytesPerGroup(const Rule& rule) {
  GroupStateBytes b;
  // Lifecycle and bookkeeping: the Group record (its key inline up to 15 bytes) and its
  // entries in the group table (kept at most half full).
  const size_t group = sizeof(Group) + 2 * sizeof(GroupTable::Entry);  // table half full
  // A small count ring's head and size live in Group and count as window state (window_count).
  const size_t ring_header = 2 * sizeof(uint32_t);
  b.window = WindowKindFor(rule.condition.kind).Bytes(rule.condition);
  b.total = group - ring_header + b.window;
  return b;
}

std::optional<uint64_t> ValueSaturation(const Rule& rule) {
  if (rule.condition.kind != Condition::Kind::kCount) return std::nullopt;
  uint64_t k = 0;
  bool lower = false;
  ThresholdToK(rule.condition.op, rule.condition.threshold, k, lower);
  if (k > kMaxRingK) return std::nullopt;
  return k;
}

Status AssembleState(std::string_view head, std::vector<StateGroupRow>& rows, std::string& out) {
  return AssembleHead(head, rows, out);
}

Status AssembleState(std::string_view head, std::vector<StateGroupView>& rows, std::string& out) {
  return AssembleHead(head, rows, out);
}

Result<std::unique_ptr<Engine>> Engine::Create(RuleSet rules, EngineOptions options,
                                               Engine* previous) {
  auto engine = std::make_unique<EngineImpl>();
  Status s =
      engine->Init(std::move(rules), std::move(options), dynamic_cast<EngineImpl*>(previous));
  if (!s.ok()) return s;
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace klaxon
