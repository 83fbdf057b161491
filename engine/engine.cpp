// The Klaxon evaluation engine. See engine/README.md for the window algorithms, the lifecycle
// state machine, the timer ordering and how lateness is handled.
#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "engine/event_decoder.h"
#include "engine/event_time_queue.h"
#include "engine/group_table.h"
#include "engine/hash.h"
#include "engine/lifecycle.h"
#include "engine/predicate.h"
#include "engine/rule_index.h"
#include "engine/run_ring.h"
#include "engine/state_codec.h"
#include "engine/time_math.h"

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
    case RejectReason::kCount_:
      break;
  }
  return "unknown";
}

namespace {

// Count thresholds up to this keep exact timestamps in a fixed ring (8 bytes per event).
constexpr uint32_t kMaxRingK = 64;
// Past it, and for ratio/change, runs of events are merged when closer than W / kRunsPerWindow.
constexpr int64_t kRunsPerWindow = 4096;
constexpr uint32_t kMaxUniqueK = 100000;
constexpr size_t kMaxNewValues = 100000;
constexpr int kEvictionScan = 16;

// FNV-1a (engine/hash.h) with a final mix: unique and new-value sets bucket by the low bits.
uint64_t Hash64(std::string_view s) {
  const uint64_t h = Fnv1a64(s);
  return h ^ (h >> 29);
}

enum class Mode { kEvery, kNewValue, kCount, kUnique, kChange, kRatio };

// Rarely needed or per-kind state, allocated when a group first needs it.
struct GroupExtra {
  RunRing a;  // count (large k), change: all events; ratio: A and B
  RunRing b;  // ratio: B
  std::vector<std::pair<uint64_t, int64_t>> unique;  // (value hash, last seen), oldest first
  std::unordered_set<uint64_t> seen;                 // new value
  std::string trigger_json;
  std::vector<std::string> trigger_ids;
};

struct Group {
  std::string key;  // the group-by values, encoded (see ApplyRule)
  uint64_t key_hash = 0;
  uint32_t prev = kNil;
  uint32_t next = kNil;
  uint32_t gen = 0;
  uint32_t ring_head = 0;
  uint32_t ring_size = 0;
  uint32_t repeat_index = 0;
  bool alive = false;
  bool cond = false;
  Life life = Life::kInactive;
  int64_t first_seen = 0;
  int64_t last_event = 0;
  int64_t since = 0;  // pending since, or episode start while firing
  int64_t false_since = kNone;
  int64_t last_notified = kNone;
  int64_t scheduled = kNever;
  double value = 0;
  std::unique_ptr<GroupExtra> extra;

  GroupExtra& X() {
    if (!extra) extra = std::make_unique<GroupExtra>();
    return *extra;
  }
};

// Everything that survives a reload of an unchanged rule.
struct RuleState {
  GroupTable table;
  std::vector<Group> groups;
  std::vector<uint32_t> free_slots;
  std::vector<int64_t> ring;          // k timestamps per slot (small count rules)
  std::vector<std::string> ring_ids;  // parallel event ids (explain)
  uint32_t lru_head = kNil;
  uint32_t lru_tail = kNil;
  uint32_t single_slot = kNil;  // the group of a rule without group by
  RuleStats stats;
};

// Fields read per matching event come first and are copied out of Rule, so a match touches
// few cache lines (10,000 rules do not fit in L1/L2).
struct CompiledRule {
  Mode mode = Mode::kEvery;
  bool lower = false;  // count/unique `<`/`<=`: the condition is "fewer than k"
  bool small_ring = false;
  bool index_exact = false;  // the index key implies the whole filter: skip evaluating it
  uint32_t index = 0;
  uint32_t value_field = 0;
  uint64_t k = 1;  // count/unique: the condition is about "at least k"
  int64_t merge_ms = 1;
  int64_t window = 0;
  int64_t offset = 0;
  LifecycleRule lifecycle;
  std::vector<uint32_t> group_fields;
  std::unique_ptr<RuleState> state;
  CompiledPredicate filter;
  const Rule* rule = nullptr;
  CompiledPredicate numerator;
  CompiledPredicate denominator;
};

// (1-based) threshold k such that the rule's count condition is "count >= k" (upper) or
// "count < k" (lower).
void ThresholdToK(CompareOp op, double x, uint64_t& k, bool& lower) {
  auto clamp = [](double v) -> uint64_t {
    if (v <= 0) return 0;
    if (v > 1e15) return static_cast<uint64_t>(1e15);
    return static_cast<uint64_t>(v);
  };
  switch (op) {
    case CompareOp::kGt:
      k = clamp(std::floor(x) + 1);
      lower = false;
      break;
    case CompareOp::kGe:
    case CompareOp::kEq:  // == N on a count is treated as >= N (documented)
      k = clamp(std::ceil(x));
      lower = false;
      break;
    case CompareOp::kLt:
      k = clamp(std::ceil(x));
      lower = true;
      break;
    case CompareOp::kLe:
      k = clamp(std::floor(x) + 1);
      lower = true;
      break;
  }
  if (!lower && k == 0) k = 1;
}

class EngineImpl final : public Engine {
 public:
  Status Init(RuleSet rules, EngineOptions options, EngineImpl* previous);

  ProcessResult Process(std::string_view raw, std::vector<Notification>& out) override;
  std::unique_ptr<EventDecoder> NewDecoder() const override;
  ProcessResult ProcessDecoded(DecodedEvent& decoded, RejectReason reason,
                               std::vector<Notification>& out) override;
  void AdvanceTo(int64_t now_ms, std::vector<Notification>& out) override;
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
  Status SaveState(std::string& out) const override;
  Status RestoreState(std::string_view snapshot) override;

 private:
  Status Compile();
  void TakeStateFrom(EngineImpl& prev);
  uint32_t TakePooledEvent();
  ProcessResult Admit(uint32_t idx, RejectReason reason, std::vector<Notification>& out);
  void Accept(DecodedEvent* ev, uint32_t idx, std::vector<Notification>& out);
  void Run(int64_t target);
  void Evaluate(const DecodedEvent& ev);
  // `in_ratio`: for a ratio rule, whether the event is one of its denominator's.
  void ApplyRule(CompiledRule& cr, const DecodedEvent& ev, bool in_ratio);
  void BuildGroupKey(const CompiledRule& cr, const DecodedEvent& ev);
  uint32_t FindOrCreateGroup(CompiledRule& cr, int64_t t);
  bool Evictable(const CompiledRule& cr, const Group& g, int64_t t) const;
  void Evict(CompiledRule& cr, uint32_t slot);
  void Touch(RuleState& st, uint32_t slot);
  void Unlink(RuleState& st, uint32_t slot);
  void Update(CompiledRule& cr, uint32_t slot, int64_t t, const DecodedEvent* ev);
  void EvalCondition(CompiledRule& cr, Group& g, uint32_t slot, int64_t t);
  int64_t WindowChange(const CompiledRule& cr, Group& g, uint32_t slot, int64_t t) const;
  void Schedule(CompiledRule& cr, uint32_t slot, int64_t due);
  void SaveTrigger(CompiledRule& cr, Group& g, uint32_t slot, const DecodedEvent* ev);
  void Emit(const CompiledRule& cr, Group& g, uint32_t slot, AlertState state, int64_t at,
            const DecodedEvent* ev);
  double RingCount(const CompiledRule& cr, const Group& g, uint32_t slot, int64_t t) const;
  std::vector<std::optional<std::string>> GroupValues(const Group& g) const;
  void SaveRule(const CompiledRule& cr, StateWriter& w) const;
  std::unique_ptr<RuleState> LoadRule(const CompiledRule& cr, bool has_ids, StateReader& r,
                                      std::string& error);

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
  int64_t run_target_ = kNone;  // how far the current Run goes (see the repeat step in Update)
  std::vector<Notification>* out_ = nullptr;
  mutable EngineStats stats_;
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
    switch (c.kind) {
      case Condition::Kind::kEvery:
        cr.mode = Mode::kEvery;
        break;
      case Condition::Kind::kNewValue:
        cr.mode = Mode::kNewValue;
        cr.value_field = fields_.Intern(c.field);
        break;
      case Condition::Kind::kCount:
        cr.mode = Mode::kCount;
        ThresholdToK(c.op, c.threshold, cr.k, cr.lower);
        cr.small_ring = cr.k <= kMaxRingK;
        cr.merge_ms = cr.small_ring ? 1 : std::max<int64_t>(1, c.window_ms / kRunsPerWindow);
        break;
      case Condition::Kind::kUnique:
        cr.mode = Mode::kUnique;
        cr.value_field = fields_.Intern(c.field);
        ThresholdToK(c.op, c.threshold, cr.k, cr.lower);
        break;
      case Condition::Kind::kChange:
        cr.mode = Mode::kChange;
        cr.merge_ms = std::max<int64_t>(1, (c.window_ms + c.offset_ms) / kRunsPerWindow);
        break;
      case Condition::Kind::kRatio:
        cr.mode = Mode::kRatio;
        cr.numerator = CompiledPredicate::Compile(c.numerator, fields_);
        cr.denominator = CompiledPredicate::Compile(c.denominator, fields_);
        cr.merge_ms = std::max<int64_t>(1, c.window_ms / kRunsPerWindow);
        break;
    }
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
    if (decoder_->Decode(prev.pool_[h.idx]->raw, *ev) != RejectReason::kNone) {
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
  return Admit(idx, reason, out);
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
      if (cr.small_ring) __builtin_prefetch(st.ring.data() + st.single_slot * cr.k);
    }
    size_t next_hash = 0;
    for (uint32_t r : candidates_) {
      const CompiledRule& cr = compiled_[r];
      if (cr.group_fields.empty()) continue;
      const RuleState& st = *cr.state;
      const uint32_t slot = st.table.Guess(candidate_hashes_[next_hash++]);
      if (slot == kNil) continue;
      __builtin_prefetch(&st.groups[slot]);
      if (cr.small_ring) __builtin_prefetch(st.ring.data() + slot * cr.k);
    }
    candidate_hashes_.clear();
  }
  for (uint32_t r : candidates_) {
    CompiledRule& cr = compiled_[r];
    if (!cr.index_exact && !cr.filter.Eval(ev)) continue;
    // A ratio's own events are its denominator's; the others only move its groups' clocks.
    const bool in_ratio = cr.mode == Mode::kRatio && cr.denominator.Eval(ev);
    if (cr.mode != Mode::kRatio || in_ratio) ++cr.state->stats.matches;
    ApplyRule(cr, ev, in_ratio);
  }
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
  if (st.lru_tail == slot) return;
  Unlink(st, slot);
  Group& g = st.groups[slot];
  g.prev = st.lru_tail;
  if (st.lru_tail != kNil) st.groups[st.lru_tail].next = slot;
  st.lru_tail = slot;
  if (st.lru_head == kNil) st.lru_head = slot;
}

bool EngineImpl::Evictable(const CompiledRule& cr, const Group& g, int64_t t) const {
  if (g.life != Life::kInactive) return false;
  switch (cr.mode) {
    case Mode::kEvery:
      return cr.lifecycle.repeat_ms == 0 || g.last_notified == kNone ||
             SatAdd(g.last_notified, cr.lifecycle.repeat_ms) <= t;
    case Mode::kNewValue:
      return false;  // forgetting seen values would re-announce them
    case Mode::kChange:
      return SatAdd(g.last_event, cr.window + cr.offset) <= t;
    default:
      return SatAdd(g.last_event, cr.window) <= t;
  }
}

void EngineImpl::Evict(CompiledRule& cr, uint32_t slot) {
  RuleState& st = *cr.state;
  Group& g = st.groups[slot];
  Unlink(st, slot);
  st.table.Erase(g.key_hash, slot);
  g.alive = false;
  ++g.gen;  // invalidates its timers
  g.extra.reset();
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
    if (cr.mode == Mode::kCount && cr.small_ring) {
      st.ring.resize(st.groups.size() * cr.k);
      if (options_.explain) st.ring_ids.resize(st.groups.size() * cr.k);
    }
  }
  st.table.Insert(h, slot);
  Group& g = st.groups[slot];
  const uint32_t gen = g.gen + 1;
  g = Group();
  g.gen = gen;
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

void EngineImpl::ApplyRule(CompiledRule& cr, const DecodedEvent& ev, bool in_ratio) {
  const int64_t t = ev.time_ms;
  BuildGroupKey(cr, ev);
  const uint32_t slot = FindOrCreateGroup(cr, t);
  if (slot == kNil) return;
  RuleState& st = *cr.state;
  Group& g = st.groups[slot];
  g.last_event = t;
  Touch(st, slot);
  switch (cr.mode) {
    case Mode::kEvery:
      if (cr.lifecycle.repeat_ms > 0 && g.last_notified != kNone &&
          t - g.last_notified < cr.lifecycle.repeat_ms)
        return;
      g.last_notified = t;
      g.value = 1;
      g.since = t;
      Emit(cr, g, slot, AlertState::kFiring, t, &ev);
      return;
    case Mode::kNewValue: {
      GroupExtra& x = g.X();
      for (const DecodedValue* v = ev.Begin(cr.value_field); v != ev.End(cr.value_field); ++v) {
        if (v->type == ValueType::kPresent) continue;
        const uint64_t h = Hash64(ev.Text(*v));
        if (x.seen.count(h)) continue;
        if (x.seen.size() >= kMaxNewValues) {
          ++st.stats.groups_dropped;  // past the bound new values are not tracked
          continue;
        }
        x.seen.insert(h);
        g.value = static_cast<double>(x.seen.size());
        g.since = t;
        Emit(cr, g, slot, AlertState::kFiring, t, &ev);
      }
      return;
    }
    case Mode::kCount:
      if (cr.small_ring) {
        const size_t base = static_cast<size_t>(slot) * cr.k;
        size_t pos;
        if (g.ring_size < cr.k) {
          uint64_t off = g.ring_head + g.ring_size;
          if (off >= cr.k) off -= cr.k;
          pos = base + off;
          ++g.ring_size;
        } else {
          pos = base + g.ring_head;
          if (++g.ring_head == cr.k) g.ring_head = 0;
        }
        st.ring[pos] = t;
        if (options_.explain) st.ring_ids[pos].assign(ev.EventId());
      } else {
        RunRing& a = g.X().a;
        a.Push(t, cr.merge_ms);
        a.TrimKeep(cr.k);
      }
      break;
    case Mode::kUnique: {
      auto& u = g.X().unique;
      for (const DecodedValue* v = ev.Begin(cr.value_field); v != ev.End(cr.value_field); ++v) {
        if (v->type == ValueType::kPresent) continue;
        const uint64_t h = Hash64(ev.Text(*v));
        auto it = std::find_if(u.begin(), u.end(), [&](const auto& p) { return p.first == h; });
        if (it != u.end()) u.erase(it);
        u.emplace_back(h, t);
        if (u.size() > cr.k) u.erase(u.begin());
      }
      break;
    }
    case Mode::kChange:
      g.X().a.Push(t, cr.merge_ms);
      break;
    case Mode::kRatio: {
      if (!in_ratio) break;
      GroupExtra& x = g.X();
      x.b.Push(t, cr.merge_ms);
      if (cr.numerator.Eval(ev)) x.a.Push(t, cr.merge_ms);
      break;
    }
  }
  Update(cr, slot, t, &ev);
}

// Sets g.cond and g.value for time t (no event added here).
void EngineImpl::EvalCondition(CompiledRule& cr, Group& g, uint32_t slot, int64_t t) {
  const int64_t cutoff = SatSub(t, cr.window);
  const RuleState& st = *cr.state;
  switch (cr.mode) {
    case Mode::kCount: {
      uint64_t count = 0;
      bool has_k = false;
      if (cr.small_ring) {
        // The ring holds the newest k times, oldest at ring_head: "count >= k" is one compare.
        // The count itself is computed only when a notification reports it.
        const int64_t* ring = st.ring.data() + static_cast<size_t>(slot) * cr.k;
        has_k = cr.k > 0 && g.ring_size == cr.k && ring[g.ring_head] > cutoff;
        g.cond = cr.lower ? (!has_k && SatAdd(g.first_seen, cr.window) <= t) : has_k;
        return;
      } else {
        RunRing& a = g.X().a;
        a.Expire(cutoff);
        count = a.total;
        has_k = count >= cr.k;
      }
      g.value = static_cast<double>(count);
      g.cond = cr.lower ? (!has_k && SatAdd(g.first_seen, cr.window) <= t) : has_k;
      return;
    }
    case Mode::kUnique: {
      uint64_t count = 0;
      for (const auto& p : g.X().unique) count += p.second > cutoff;
      g.value = static_cast<double>(count);
      const bool has_k = count >= cr.k;
      g.cond = cr.lower ? (!has_k && SatAdd(g.first_seen, cr.window) <= t) : has_k;
      return;
    }
    case Mode::kRatio: {
      GroupExtra& x = g.X();
      x.a.Expire(cutoff);
      x.b.Expire(cutoff);
      g.value = x.b.total == 0
                    ? 0
                    : 100.0 * static_cast<double>(x.a.total) / static_cast<double>(x.b.total);
      g.cond =
          x.b.total > 0 && Compare(g.value, cr.rule->condition.op, cr.rule->condition.threshold);
      return;
    }
    case Mode::kChange: {
      RunRing& a = g.X().a;
      const int64_t prev_hi = SatSub(t, cr.offset);
      a.Expire(SatSub(prev_hi, cr.window));
      const uint64_t cur = a.CountIn(cutoff, t);
      const uint64_t prev = a.CountIn(SatSub(prev_hi, cr.window), prev_hi);
      g.value = prev == 0 ? 0 : 100.0 * static_cast<double>(cur) / static_cast<double>(prev);
      const bool covered = SatAdd(g.first_seen, cr.offset + cr.window) <= t;
      g.cond = covered && prev > 0 &&
               Compare(g.value, cr.rule->condition.op, cr.rule->condition.threshold);
      return;
    }
    case Mode::kEvery:
    case Mode::kNewValue:
      g.cond = false;
      return;
  }
}

// The next time the window alone (no new event) could flip the condition, or kNever.
int64_t EngineImpl::WindowChange(const CompiledRule& cr, Group& g, uint32_t slot, int64_t t) const {
  auto oldest_kept = [&]() -> int64_t {  // time of the oldest of the k kept observations
    if (cr.mode == Mode::kCount && cr.small_ring) {
      if (g.ring_size < cr.k || cr.k == 0) return kNone;
      return cr.state->ring[static_cast<size_t>(slot) * cr.k + g.ring_head];
    }
    if (cr.mode == Mode::kCount) return g.X().a.empty() ? kNone : g.X().a.front().ts;
    const auto& u = g.X().unique;
    return u.size() < cr.k || u.empty() ? kNone : u.front().second;
  };
  switch (cr.mode) {
    case Mode::kCount:
    case Mode::kUnique: {
      if (!cr.lower) return g.cond ? SatAdd(oldest_kept(), cr.window) : kNever;
      if (g.cond || cr.k == 0) return kNever;
      const int64_t eligible = SatAdd(g.first_seen, cr.window);
      if (eligible > t) return eligible;
      const int64_t o = oldest_kept();
      return o == kNone ? kNever : std::max(eligible, SatAdd(o, cr.window));
    }
    case Mode::kRatio: {
      if (g.life == Life::kInactive) return kNever;
      int64_t due = kNever;
      if (!g.X().a.empty()) due = std::min(due, SatAdd(g.X().a.front().ts, cr.window));
      if (!g.X().b.empty()) due = std::min(due, SatAdd(g.X().b.front().ts, cr.window));
      return due;
    }
    case Mode::kChange: {
      if (g.life == Life::kInactive) return kNever;
      int64_t due = kNever;
      const RunRing& a = g.X().a;
      for (size_t i = a.head; i < a.runs.size(); ++i) {
        const int64_t ts = a.runs[i].ts;
        for (int64_t d :
             {SatAdd(ts, cr.window), SatAdd(ts, cr.offset), SatAdd(ts, cr.offset + cr.window)}) {
          if (d > t) due = std::min(due, d);
        }
      }
      return due;
    }
    default:
      return kNever;
  }
}

// Evaluates the condition at t, runs the pure lifecycle step (lifecycle.h) and applies what it
// returned: counters, the triggering event, the notification and the next timer.
void EngineImpl::Update(CompiledRule& cr, uint32_t slot, int64_t t, const DecodedEvent* ev) {
  RuleState& st = *cr.state;
  Group& g = st.groups[slot];
  if (cr.mode == Mode::kEvery || cr.mode == Mode::kNewValue) return;
  EvalCondition(cr, g, slot, t);
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
  int64_t due = std::min(WindowChange(cr, g, slot, t), step.next_due);
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
  if (!options_.explain) return;
  if (cr.mode == Mode::kCount && cr.small_ring) {
    const size_t base = static_cast<size_t>(slot) * cr.k;
    const int64_t cutoff = SatSub(ev ? ev->time_ms : 0, cr.window);
    for (uint32_t i = 0; i < g.ring_size; ++i) {
      const size_t pos = base + (g.ring_head + i) % cr.k;
      if (cr.state->ring[pos] > cutoff) x.trigger_ids.push_back(cr.state->ring_ids[pos]);
    }
  } else if (ev && !ev->EventId().empty()) {
    x.trigger_ids.emplace_back(ev->EventId());
  }
}

double EngineImpl::RingCount(const CompiledRule& cr, const Group& g, uint32_t slot,
                             int64_t t) const {
  const int64_t* ring = cr.state->ring.data() + static_cast<size_t>(slot) * cr.k;
  const int64_t cutoff = SatSub(t, cr.window);
  uint64_t count = 0;
  uint32_t pos = g.ring_head;
  for (uint32_t i = 0; i < g.ring_size; ++i) {
    count += ring[pos] > cutoff;
    if (++pos == cr.k) pos = 0;
  }
  return static_cast<double>(count);
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
  n.value = cr.mode == Mode::kCount && cr.small_ring ? RingCount(cr, g, slot, at) : g.value;
  n.threshold = r.condition.threshold;
  n.window_ms = r.condition.window_ms;
  n.episode_start_ms = g.since;
  n.repeat_index = g.repeat_index;
  n.window_start_ms = at - r.condition.window_ms;
  n.window_end_ms = at;
  if (cr.mode == Mode::kEvery || cr.mode == Mode::kNewValue) {
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

std::vector<ActiveAlert> EngineImpl::ActiveAlerts() const {
  std::vector<ActiveAlert> out;
  for (const auto& cr : compiled_) {
    for (const Group& g : cr.state->groups) {
      if (!g.alive || g.life == Life::kInactive) continue;
      ActiveAlert a;
      a.rule_index = cr.index;
      a.group = GroupValues(g);
      a.firing = g.life == Life::kFiring;
      a.value = cr.mode == Mode::kCount && cr.small_ring
                    ? RingCount(cr, g, static_cast<uint32_t>(&g - cr.state->groups.data()),
                                queue_.watermark())
                    : g.value;
      a.since_ms = g.since;
      out.push_back(std::move(a));
    }
  }
  return out;
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
constexpr uint8_t kGroupAlive = 1;
constexpr uint8_t kGroupCond = 2;
constexpr uint8_t kGroupExtra = 4;
constexpr uint8_t kExtraA = 1;
constexpr uint8_t kExtraB = 2;
constexpr uint8_t kExtraUnique = 4;
constexpr uint8_t kExtraSeen = 8;
constexpr uint8_t kExtraTrigger = 16;
constexpr uint8_t kExtraIds = 32;
constexpr uint8_t kExtraAll = 63;

void SaveRuns(const RunRing& ring, StateWriter& w) {
  w.U32(static_cast<uint32_t>(ring.runs.size() - ring.head));
  for (size_t i = ring.head; i < ring.runs.size(); ++i) {
    w.I64(ring.runs[i].ts);
    w.U64(ring.runs[i].count);
  }
}

void LoadRuns(StateReader& r, RunRing& ring) {
  const uint32_t n = r.Count(16);
  ring.runs.resize(n);
  for (Run& run : ring.runs) {
    run.ts = r.I64();
    run.count = r.U64();
    ring.total += run.count;
  }
}

Status SnapshotError(const std::string& what) {
  return Status::InvalidArgument("state snapshot: " + what);
}

Status EngineImpl::SaveState(std::string& out) const {
  out.clear();
  StateWriter w(out);
  out.append(kStateMagic, sizeof(kStateMagic));
  w.U32(kStateVersion);
  w.U32(options_.explain ? kStateHasIds : 0);
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
    w.Str(pool_[h.idx]->Raw());
  }
  w.U32(static_cast<uint32_t>(compiled_.size()));
  for (const CompiledRule& cr : compiled_) SaveRule(cr, w);
  w.U64(Fnv1a64(out));
  return Status::Ok();
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
  const bool ring = cr.mode == Mode::kCount && cr.small_ring;
  std::vector<uint64_t> seen;
  for (size_t s = 0; s < st.groups.size(); ++s) {
    const Group& g = st.groups[s];
    w.U8(static_cast<uint8_t>((g.alive ? kGroupAlive : 0) | (g.cond ? kGroupCond : 0) |
                              (g.extra ? kGroupExtra : 0)));
    if (!g.alive) continue;
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
    if (ring) {
      // Oldest first; the restored ring starts at its head 0 (same contents, same order).
      w.U32(g.ring_size);
      for (uint32_t i = 0; i < g.ring_size; ++i) {
        const size_t pos = s * cr.k + (g.ring_head + i) % cr.k;
        w.I64(st.ring[pos]);
        if (options_.explain) w.Str(pos < st.ring_ids.size() ? st.ring_ids[pos] : std::string());
      }
    }
    if (!g.extra) continue;
    // A group has one or two of these parts; a mask saves the framing of the empty ones.
    const GroupExtra& x = *g.extra;
    const uint8_t parts = static_cast<uint8_t>(
        (x.a.empty() ? 0 : kExtraA) | (x.b.empty() ? 0 : kExtraB) |
        (x.unique.empty() ? 0 : kExtraUnique) | (x.seen.empty() ? 0 : kExtraSeen) |
        (x.trigger_json.empty() ? 0 : kExtraTrigger) | (x.trigger_ids.empty() ? 0 : kExtraIds));
    w.U8(parts);
    if (parts & kExtraA) SaveRuns(x.a, w);
    if (parts & kExtraB) SaveRuns(x.b, w);
    if (parts & kExtraUnique) {
      w.U32(static_cast<uint32_t>(x.unique.size()));
      for (const auto& [hash, last_seen] : x.unique) {
        w.U64(hash);
        w.I64(last_seen);
      }
    }
    if (parts & kExtraSeen) {
      seen.assign(x.seen.begin(), x.seen.end());
      std::sort(seen.begin(), seen.end());  // equal sets, equal bytes
      w.U32(static_cast<uint32_t>(seen.size()));
      for (uint64_t h : seen) w.U64(h);
    }
    if (parts & kExtraTrigger) w.Str(x.trigger_json);
    if (parts & kExtraIds) {
      w.U32(static_cast<uint32_t>(x.trigger_ids.size()));
      for (const auto& id : x.trigger_ids) w.Str(id);
    }
  }
  w.U32(static_cast<uint32_t>(st.free_slots.size()));
  for (uint32_t s : st.free_slots) w.U32(s);
  w.U32(static_cast<uint32_t>(st.stats.groups));
  for (uint32_t s = st.lru_head; s != kNil; s = st.groups[s].next) w.U32(s);
  w.PatchU64(length_at, w.Size() - begin);
}

// Reads one rule's section into a new RuleState; nullptr (and `error`) when it is inconsistent.
std::unique_ptr<RuleState> EngineImpl::LoadRule(const CompiledRule& cr, bool has_ids,
                                                StateReader& r, std::string& error) {
  auto st = std::make_unique<RuleState>();
  auto fail = [&](const char* what) {
    error = "rule " + cr.rule->id + ": " + what;
    return nullptr;
  };
  st->stats.matches = r.U64();
  st->stats.notifications = r.U64();
  st->stats.groups_dropped = r.U64();
  const uint32_t slots = r.Count(1);
  st->single_slot = r.U32();
  if (!r.ok()) return fail("truncated");
  if (st->single_slot != kNil && st->single_slot >= slots) return fail("group slot out of range");
  const bool ring = cr.mode == Mode::kCount && cr.small_ring;
  st->groups.resize(slots);
  if (ring) {
    st->ring.assign(static_cast<size_t>(slots) * cr.k, 0);
    if (options_.explain) st->ring_ids.resize(st->ring.size());
  }
  uint32_t dead = 0;
  for (uint32_t s = 0; s < slots && r.ok(); ++s) {
    Group& g = st->groups[s];
    const uint8_t flags = r.U8();
    if ((flags & ~(kGroupAlive | kGroupCond | kGroupExtra)) != 0)
      return fail("unknown group flags");
    if ((flags & kGroupAlive) == 0) {
      ++dead;
      continue;
    }
    g.alive = true;
    g.cond = (flags & kGroupCond) != 0;
    g.key.assign(r.Str());
    g.key_hash = KeyHash(g.key);
    const uint8_t life = r.U8();
    if (life > static_cast<uint8_t>(Life::kFiring)) return fail("unknown lifecycle state");
    g.life = static_cast<Life>(life);
    g.repeat_index = r.U32();
    g.first_seen = r.I64();
    g.last_event = r.I64();
    g.since = r.I64();
    g.false_since = r.I64();
    g.last_notified = r.I64();
    g.scheduled = r.I64();
    g.value = r.F64();
    if (ring) {
      const uint32_t size = r.U32();
      if (size > cr.k) return fail("count ring larger than the threshold");
      g.ring_size = size;
      for (uint32_t i = 0; i < size; ++i) {
        const size_t pos = static_cast<size_t>(s) * cr.k + i;
        st->ring[pos] = r.I64();
        if (!has_ids) continue;
        const std::string_view id = r.Str();
        if (options_.explain) st->ring_ids[pos].assign(id);
      }
    }
    if ((flags & kGroupExtra) != 0) {
      GroupExtra& x = g.X();
      const uint8_t parts = r.U8();
      if ((parts & ~kExtraAll) != 0) return fail("unknown group parts");
      if (parts & kExtraA) LoadRuns(r, x.a);
      if (parts & kExtraB) LoadRuns(r, x.b);
      if (parts & kExtraUnique) {
        const uint32_t unique = r.Count(16);
        if (unique > kMaxUniqueK) return fail("too many unique values");
        x.unique.resize(unique);
        for (auto& [hash, last_seen] : x.unique) {
          hash = r.U64();
          last_seen = r.I64();
        }
      }
      if (parts & kExtraSeen) {
        const uint32_t seen = r.Count(8);
        if (seen > kMaxNewValues) return fail("too many new values");
        x.seen.reserve(seen);
        for (uint32_t i = 0; i < seen; ++i) x.seen.insert(r.U64());
      }
      if (parts & kExtraTrigger) x.trigger_json.assign(r.Str());
      if (parts & kExtraIds) {
        const uint32_t ids = r.Count(4);
        x.trigger_ids.reserve(ids);
        for (uint32_t i = 0; i < ids; ++i) x.trigger_ids.emplace_back(r.Str());
      }
    }
    if (!r.ok()) break;
    auto key_of = [&](uint32_t slot) -> std::string_view { return st->groups[slot].key; };
    if (st->table.Find(g.key, g.key_hash, key_of) != kNil) return fail("duplicate group key");
    st->table.Insert(g.key_hash, s);
    ++st->stats.groups;
    st->stats.pending += g.life == Life::kPending;
    st->stats.firing += g.life == Life::kFiring;
  }
  const uint32_t free_slots = r.Count(4);
  if (r.ok() && free_slots != dead) return fail("free slots do not match the dead groups");
  std::vector<uint8_t> listed(slots, 0);
  for (uint32_t i = 0; i < free_slots; ++i) {
    const uint32_t s = r.U32();
    if (!r.ok()) break;
    if (s >= slots || st->groups[s].alive || listed[s]) return fail("bad free slot");
    listed[s] = 1;
    st->free_slots.push_back(s);
  }
  const uint32_t lru = r.Count(4);
  if (r.ok() && lru != st->stats.groups) return fail("LRU order does not list every group");
  for (uint32_t i = 0; i < lru; ++i) {
    const uint32_t s = r.U32();
    if (!r.ok()) break;
    if (s >= slots || !st->groups[s].alive || listed[s]) return fail("bad LRU entry");
    listed[s] = 1;
    Touch(*st, s);
  }
  if (!r.ok()) return fail("truncated");
  if (r.Left() != 0) return fail("bytes left over");
  return st;
}

Status EngineImpl::RestoreState(std::string_view bytes) {
  bool fresh = stats_.received == 0 && queue_.watermark() == kNone && queue_.HeldCount() == 0;
  for (const CompiledRule& cr : compiled_) fresh = fresh && cr.state->groups.empty();
  if (!fresh) {
    return Status::FailedPrecondition(
        "state snapshot: restore into a fresh engine, before any event or AdvanceTo");
  }
  if (bytes.size() < kStateHeaderBytes + kStateTrailerBytes) {
    return SnapshotError("truncated (" + std::to_string(bytes.size()) + " bytes)");
  }
  if (std::memcmp(bytes.data(), kStateMagic, sizeof(kStateMagic)) != 0) {
    return SnapshotError("not a Klaxon state snapshot (bad magic)");
  }
  // The version comes before the checksum: another version may checksum differently.
  const uint32_t version = StateReader(bytes.substr(sizeof(kStateMagic))).U32();
  if (version != kStateVersion) {
    return SnapshotError("format version " + std::to_string(version) + ", this Klaxon reads " +
                         std::to_string(kStateVersion));
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kStateTrailerBytes);
  if (StateReader(bytes.substr(body.size())).U64() != Fnv1a64(body)) {
    return SnapshotError("checksum mismatch (truncated or corrupt)");
  }

  // Everything is read and checked into local state first: a refused snapshot leaves no trace.
  StateReader r(body.substr(kStateHeaderBytes));
  const uint32_t flags = r.U32();
  const bool has_ids = (flags & kStateHasIds) != 0;
  if ((flags & ~kStateHasIds) != 0) return SnapshotError("corrupt (unknown flags)");
  const int64_t watermark = r.I64();
  const int64_t max_time = r.I64();
  const uint64_t next_seq = r.U64();
  const uint64_t received = r.U64();
  const uint64_t accepted = r.U64();
  const uint64_t late = r.U64();
  uint64_t rejected[static_cast<int>(RejectReason::kCount_)] = {};
  const uint32_t reasons = r.Count(8);
  if (reasons > static_cast<uint32_t>(RejectReason::kCount_)) {
    return SnapshotError("corrupt (unknown reject reasons)");
  }
  for (uint32_t i = 0; i < reasons; ++i) rejected[i] = r.U64();

  struct HeldRaw {
    int64_t time;
    uint64_t seq;
    std::string_view raw;
  };
  std::vector<HeldRaw> held(r.Count(8 + 8 + 4));
  std::vector<uint64_t> pending;
  pending.reserve(held.size());
  for (HeldRaw& h : held) {
    h.time = r.I64();
    h.seq = r.U64();
    h.raw = r.Str();
    pending.push_back(h.seq);
  }
  std::sort(pending.begin(), pending.end());
  if (!r.ok()) return SnapshotError("corrupt (held events)");
  if (!pending.empty() && (pending.front() == 0 || pending.back() >= next_seq ||
                           next_seq - pending.front() > kMaxRestoredSequenceSpan ||
                           std::adjacent_find(pending.begin(), pending.end()) != pending.end())) {
    return SnapshotError("corrupt (held event sequences)");
  }

  // Rules are matched by id, in order, as a reload matches them (TakeStateFrom).
  std::unordered_map<std::string_view, std::vector<uint32_t>> by_id;
  for (size_t i = compiled_.size(); i-- > 0;) {
    by_id[compiled_[i].rule->id].push_back(static_cast<uint32_t>(i));
  }
  std::vector<std::unique_ptr<RuleState>> states(compiled_.size());
  const uint32_t rules = r.Count(4 + 1 + 1 + 8 + 8);
  for (uint32_t i = 0; i < rules && r.ok(); ++i) {
    const std::string_view id = r.Str();
    const uint8_t mode = r.U8();
    const bool small_ring = r.U8() != 0;
    const uint64_t k = r.U64();
    StateReader section(r.Bytes(r.U64()));
    if (!r.ok()) break;
    auto it = by_id.find(id);
    if (it == by_id.end() || it->second.empty()) continue;  // the rule is gone or changed
    const CompiledRule& cr = compiled_[it->second.back()];
    it->second.pop_back();
    if (mode != static_cast<uint8_t>(cr.mode) || small_ring != cr.small_ring || k != cr.k) {
      continue;  // another layout for the same id: starts empty
    }
    std::string error;
    states[cr.index] = LoadRule(cr, has_ids, section, error);
    if (!states[cr.index]) return SnapshotError("corrupt (" + error + ")");
  }
  if (!r.ok()) return SnapshotError("corrupt (rules)");
  if (r.Left() != 0) return SnapshotError("corrupt (bytes left over)");

  // Held events are decoded for this engine's field table, as a reload does.
  std::vector<std::unique_ptr<DecodedEvent>> events;
  std::vector<uint64_t> still_pending;
  for (const HeldRaw& h : held) {
    auto ev = std::make_unique<DecodedEvent>();
    if (decoder_->Decode(h.raw, *ev) != RejectReason::kNone) continue;  // done, as in a reload
    ev->time_ms = h.time;
    ev->sequence = h.seq;
    events.push_back(std::move(ev));
    still_pending.push_back(h.seq);
  }
  std::sort(still_pending.begin(), still_pending.end());

  // Commit: nothing below can fail.
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
  stats_.received = received;
  stats_.accepted = accepted;
  stats_.late = late;
  std::copy(std::begin(rejected), std::end(rejected), std::begin(stats_.rejected));
  for (auto& ev : events) {
    queue_.AddUnordered(Held{ev->time_ms, ev->sequence, static_cast<uint32_t>(pool_.size())});
    pool_.push_back(std::move(ev));
  }
  queue_.RestoreHeaps();
  queue_.RestoreTime(watermark, max_time, next_seq, still_pending);
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
  uint64_t k = 1;
  bool lower = false;
  const Condition& c = rule.condition;
  // Lifecycle and bookkeeping: the Group record (its key inline up to 15 bytes) and its
  // entries in the group table (kept at most half full).
  const size_t group = sizeof(Group) + 2 * sizeof(GroupTable::Entry);  // table half full
  // Ring head/size live in Group; count them as window state.
  const size_t ring_header = 2 * sizeof(uint32_t);
  switch (c.kind) {
    case Condition::Kind::kCount:
      ThresholdToK(c.op, c.threshold, k, lower);
      if (k <= kMaxRingK) {
        b.window = k * sizeof(int64_t) + ring_header;
      } else {
        b.window = sizeof(GroupExtra) + std::min<uint64_t>(k, kRunsPerWindow + 1) * sizeof(Run);
      }
      break;
    case Condition::Kind::kUnique:
      ThresholdToK(c.op, c.threshold, k, lower);
      b.window = sizeof(GroupExtra) + k * sizeof(std::pair<uint64_t, int64_t>);
      break;
    default:
      b.window = sizeof(GroupExtra);  // plus runs or seen values as they arrive
      break;
  }
  b.total = group - ring_header + b.window;
  return b;
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
