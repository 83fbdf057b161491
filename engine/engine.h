// Engine: evaluates a RuleSet over a stream of raw JSON events in event time.
//
// Owns all window and lifecycle state. Not thread-safe: one thread drives an Engine (the run
// loop or replay). Never reads a clock: callers pass time in through Process (event time) and
// AdvanceTo (the watermark while no events arrive).
#pragma once

#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/notification.h"
#include "engine/rule.h"
#include "engine/status.h"

namespace klaxon {

class EventDecoder;
struct DecodedEvent;

struct EngineOptions {
  // JSON path of the event time; epoch seconds (fractional allowed) or RFC 3339.
  std::vector<std::string> timestamp_path = {"timestamp"};
  int64_t allowed_lateness_ms = 5000;
  size_t max_groups_per_rule = 100000;
  size_t max_event_bytes = 1 << 20;
  size_t max_depth = 64;
  // Keep event ids in window state so notifications can say which events fired them.
  bool explain = false;
  // Decode `event_id` even without explain: a routing stage sends it on (RoutedEvent).
  bool decode_event_id = false;
  // true: the watermark follows the newest event time admitted (one ordered input: a file,
  // stdin, one partition). false: only AdvanceTo moves it, because the caller tracks event
  // time per input partition and passes the minimum (service/partition_time.h); events are
  // held until then.
  bool advance_on_event = true;
  // Events stamped later than this are rejected (`future_timestamp`): one event from a broken
  // clock would otherwise move event time years ahead, making every later event late and
  // firing every flatline. The caller derives it from its clock (Engine::SetMaxEventTime);
  // INT64_MAX: no bound.
  int64_t max_event_time_ms = INT64_MAX;
};

// How far ahead of the machine's clock an event may be stamped by default (1 h): producers'
// clocks drift by seconds, a broken clock by years.
constexpr int64_t kDefaultFutureLimitMs = 3600 * 1000;

// Why an event was not evaluated. Stable names are used in metrics and replay summaries.
enum class RejectReason {
  kNone = 0,
  kInvalidJson,
  kNotObject,
  kInvalidUtf8,
  kTooLarge,
  kTooDeep,
  kMissingTimestamp,
  kInvalidTimestamp,
  kTrailingContent,  // more than one JSON value in one line or message
  kFutureTimestamp,  // stamped later than EngineOptions::max_event_time_ms
  kInvalidMessage,   // not in the source's message format (kafka.format sentry_ingest)
  kCount_            // number of reasons; keep last
};
const char* RejectReasonName(RejectReason r);  // "invalid_json", "not_object", ...

struct ProcessResult {
  RejectReason rejected = RejectReason::kNone;  // kNone: accepted
  bool late = false;      // accepted but older than the watermark; see docs/rules.md
  uint64_t sequence = 0;  // 1-based sequence of accepted events
  int64_t event_time_ms = 0;
};

struct RuleStats {
  uint64_t matches = 0;
  uint64_t notifications = 0;
  uint64_t groups = 0;          // groups currently held
  uint64_t groups_dropped = 0;  // new groups refused or evicted at the cap
  uint64_t firing = 0;          // groups currently firing
  uint64_t pending = 0;         // groups currently pending
};

struct EngineStats {
  uint64_t received = 0;
  uint64_t accepted = 0;
  uint64_t late = 0;
  uint64_t rejected[static_cast<int>(RejectReason::kCount_)] = {};
  std::vector<RuleStats> rules;  // by rule index
};

struct ActiveAlert {
  uint32_t rule_index = 0;
  std::vector<std::optional<std::string>> group;
  bool firing = false;  // false: pending
  double value = 0;
  int64_t since_ms = 0;
  // The triggering event's title, as Sentry titles issues ("Type: value", else the message);
  // empty when the episode has no triggering event (absence, or a restored empty trigger).
  std::string trigger;
};

// Bytes of state one (rule, group) costs, from the engine's own type sizes (for benchmarks and
// capacity planning). `window` is the sliding-window part, `total` adds lifecycle fields and the
// group-key index entry (key bytes excluded).
struct GroupStateBytes {
  size_t window = 0;
  size_t total = 0;
};
GroupStateBytes StateBytesPerGroup(const Rule& rule);
// The most a rule's measured value reports: a count rule with a small threshold keeps only the
// newest k event times per group (k = N+1 for `> N`, at most 64), so its value is exact up to k
// and stays at k above it. nullopt: the value is exact at any size.
std::optional<uint64_t> ValueSaturation(const Rule& rule);

// A reason Engine::Create refuses a rule, with the part of the rule it is about so that
// `klaxon check` can point at it in the file.
struct RuleProblem {
  enum class Part { kRule, kThreshold, kWindow, kOffset, kField, kGroupBy };
  Part part = Part::kRule;
  size_t index = 0;  // kGroupBy: which field
  std::string message;
  std::string hint;  // may be empty
};

// The checks Engine::Create makes on each rule (Create fails with the first). rules-dsl runs
// them while checking, so that a file `klaxon check` accepts also loads.
std::vector<RuleProblem> ValidateRule(const Rule& rule);

// One group's row of an incremental checkpoint (Engine::SaveStateChanges).
struct StateGroupRow {
  uint32_t rule = 0;  // the rule's position in the head
  uint32_t slot = 0;  // the group's slot in the rule
  uint64_t rank = 0;  // LRU position (higher: used more recently); 0: as in the slot's last row
  std::string bytes;  // the group as SaveState writes it; empty: the slot holds no group now
};

// What changed since the previous SaveStateChanges: a small head (counters, watermark, held
// events, per-rule headers), always whole, and the rows of the groups that changed.
struct StateChanges {
  std::string head;
  std::vector<StateGroupRow> groups;  // reused: only the first `group_count` are this save's
  size_t group_count = 0;
  bool full = false;  // every live group is listed: rows kept from earlier saves are void
};

// Rebuilds the SaveState bytes of an incremental checkpoint from its latest head and, for every
// live group, its latest row (with its latest non-zero rank), in any order. Refuses (as
// RestoreState would) a head or rows that do not fit together.
Status AssembleState(std::string_view head, std::vector<StateGroupRow>& rows, std::string& out);
// The same over rows whose bytes live in the caller's buffers (a store merging its parts copies
// no group).
struct StateGroupView {
  uint32_t rule = 0;
  uint32_t slot = 0;
  uint64_t rank = 0;
  std::string_view bytes;
};
Status AssembleState(std::string_view head, std::vector<StateGroupView>& rows, std::string& out);

// A rule an event matches and the group it falls in, as evaluation finds them
// (Engine::MatchRules): the routing of scale-out's first stage (docs/scale_out.md).
struct RuleMatch {
  uint32_t rule = 0;  // index in Rules()
  // One value per group-by field (its first value; nullopt when absent), as views into the
  // event: valid while the event is.
  std::vector<std::optional<std::string_view>> group;
  // unique(...) and new(...): the field's values in the event (views), as the window counts
  // them (values without text, e.g. an empty object, left out). Empty for other kinds.
  std::vector<std::string_view> values;
  // A ratio: the event is in its denominator, and in its numerator too (only counted when in
  // the denominator). Both false for other kinds.
  bool denominator = false;
  bool numerator = false;
};

// An event for one rule and group as a routing stage matched it (a RuleMatch, the event's time
// and id: scale-out's repartition record), evaluated without the event's fields
// (Engine::ProcessRouted). Views, valid for the call.
struct RoutedEvent {
  uint32_t rule = 0;  // index in Rules()
  int64_t time_ms = 0;
  std::string_view event_id;
  std::span<const std::optional<std::string_view>> group;  // as RuleMatch::group
  std::span<const std::string_view> values;                // as RuleMatch::values
  bool denominator = false;
  bool numerator = false;
  // What notifications carry as the event (templates, payloads, a one-shot rule's idempotency
  // key): the event's JSON, or as much of it as the caller has; may be empty.
  std::string_view raw;
};

class Engine {
 public:
  // Validates and indexes the rules. When `previous` is given, the state of every rule whose
  // id is unchanged is moved over from it (reload); `previous` must not be used afterwards.
  static Result<std::unique_ptr<Engine>> Create(RuleSet rules, EngineOptions options,
                                                Engine* previous = nullptr);
  virtual ~Engine() = default;

  // Decodes one raw event and evaluates it once the watermark passes it. Notifications that
  // became due are appended to `out` in event-time order.
  virtual ProcessResult Process(std::string_view raw_event, std::vector<Notification>& out) = 0;

  // Decoding is most of the cost of an event and needs no engine state, so a caller with a
  // second core can decode on another thread: NewDecoder() returns a decoder for this engine's
  // rules (used by one thread at a time), and ProcessDecoded admits what it produced, in the
  // order the events arrived. Results equal Process(raw) exactly. `ev` is swapped with a pooled
  // event, so its buffers come back to the caller for reuse (no allocation in steady state);
  // a rejected event (whatever the reason, kFutureTimestamp included) is left in `ev` as it was.
  virtual std::unique_ptr<EventDecoder> NewDecoder() const = 0;
  virtual ProcessResult ProcessDecoded(DecodedEvent& ev, RejectReason decoded,
                                       std::vector<Notification>& out) = 0;

  // Evaluates an event a routing stage matched: the rule's filter is not evaluated again, and
  // the group, the values and a ratio's sides are taken as given, so the result equals
  // Process(raw) of the whole event in an engine holding that rule alone. Time, lateness and
  // EngineOptions::max_event_time_ms are judged as for any event. A rule index out of range, or
  // a group or values that cannot come from one event, is rejected as kInvalidMessage. Held
  // events are saved in snapshots as routed (by rule id) and restored so.
  virtual ProcessResult ProcessRouted(const RoutedEvent& ev, std::vector<Notification>& out) = 0;

  // Moves the watermark to `now_ms` (never backwards): releases held events with time <= now
  // minus the allowed lateness and emits time-driven notifications (resolve, flatline,
  // pending -> firing) due by then. With `advance_on_event` false this is the only way time
  // moves on.
  virtual void AdvanceTo(int64_t now_ms, std::vector<Notification>& out) = 0;

  // The rules a decoded event matches and the group it falls in for each, in rule order, into
  // out[0, n); returns n. Entries from n on keep their buffers for the next call, so nothing is
  // allocated in steady state. Neither reads nor changes window state or time: an engine that
  // only routes (scale-out's first stage) holds no groups.
  virtual size_t MatchRules(const DecodedEvent& ev, std::vector<RuleMatch>& out) = 0;

  // End of input: releases every held event and evaluates up to the latest event time seen.
  virtual void Flush(std::vector<Notification>& out) = 0;

  // All accepted events with a sequence below this have been evaluated (for offset commits).
  virtual uint64_t LowestUnevaluatedSequence() const = 0;

  // Moves the future-timestamp bound (the service: its clock plus a margin, as time passes).
  virtual void SetMaxEventTime(int64_t max_event_time_ms) = 0;

  virtual int64_t Watermark() const = 0;
  // Accepted events not evaluated yet (held back for lateness or by the caller's watermark).
  virtual size_t HeldEvents() const = 0;
  virtual const RuleSet& Rules() const = 0;
  virtual const EngineStats& Stats() const = 0;
  virtual std::vector<ActiveAlert> ActiveAlerts() const = 0;
  // The rule's measured value at the watermark over its live groups, reduced to one number:
  // the highest, or with `highest` false the lowest (what an absence rule is about). nullopt
  // for a rule without a value (`when FILTER`, new(...)) or without groups. Visits every group
  // of the rule: for reports and pages, not per event.
  virtual std::optional<double> RuleValue(uint32_t rule_index, bool highest) const = 0;

  // State snapshots (engine/README.md, "State snapshots"): everything that determines future
  // output (per rule id: groups, windows, lifecycle, timers; the watermark, held events,
  // sequences and counters) as versioned, checksummed bytes. Replaces `out`. Call between
  // Process / AdvanceTo calls; costs nothing while events flow.
  virtual Status SaveState(std::string& out) const = 0;
  // Restores a SaveState snapshot into a fresh engine (nothing processed, time not moved), which
  // then continues exactly as the engine that saved it. Rules whose id is in the snapshot get
  // their state back; changed and new rules start empty; rules only in the snapshot are dropped.
  // A truncated, corrupt or foreign-version snapshot is refused as a whole and the engine stays
  // empty and usable. The engine's own options apply from here on.
  virtual Status RestoreState(std::string_view snapshot) = 0;

  // Restores an incremental checkpoint from its latest head and, for every live group, its
  // latest row (with its latest non-zero rank), straight from the rows: the same engine, and the
  // same refusals, as RestoreState(AssembleState(head, rows)), without building the whole
  // snapshot and reading it again. Sorts `rows` by rule and slot unless they are.
  virtual Status RestoreChanges(std::string_view head, std::vector<StateGroupView>& rows) = 0;

  // Incremental checkpoints (engine/README.md, "Incremental snapshots"): the head and the rows
  // of the groups changed since the previous call; AssembleState of the latest head and rows
  // restores exactly what SaveState would have saved. The first call after Create (a start, a
  // reload or a restore) lists every group (`full`). Marks cost one flag per changed group.
  virtual Status SaveStateChanges(StateChanges& out) = 0;
  // The changes the last SaveStateChanges returned were not stored (the store's write failed):
  // the next call lists every group again, so what was lost cannot be missed.
  virtual void ResendAllChanges() = 0;
  // Right after RestoreState of an incremental checkpoint whose store keeps its groups as rows
  // (ranks up to `last_rank`): the next SaveStateChanges lists only what changes from here,
  // not every group, so a restart does not rewrite the whole state. Refused (false; the next
  // changes list every group) unless the restore brought back every rule at its position with
  // the same options, the only case in which the stored rows are this engine's groups.
  virtual bool ContinueChanges(uint64_t last_rank) = 0;
};

}  // namespace klaxon
