#include "service/shuffle_route.h"

#include "engine/event_decoder.h"
#include "engine/hash.h"

namespace klaxon::service {

int32_t ShufflePartition(std::string_view rule_id,
                         std::span<const std::optional<std::string_view>> group,
                         int32_t partitions) {
  if (partitions <= 1) return 0;
  uint64_t h = Fnv1a64(rule_id);
  for (const std::optional<std::string_view>& value : group) {
    h = Fnv1a64Extend(h, value.has_value() ? std::string_view("\1", 1) : std::string_view("\0", 1));
    if (!value.has_value()) continue;
    // The length first: ("ab", "c") and ("a", "bc") are different groups.
    char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<char>(value->size() >> (8 * i));
    h = Fnv1a64Extend(h, std::string_view(length, 8));
    h = Fnv1a64Extend(h, *value);
  }
  return static_cast<int32_t>(h % static_cast<uint64_t>(partitions));
}

std::span<const ShuffleRoute> ShuffleRouter::Route(const DecodedEvent& ev) {
  const size_t n = engine_->MatchRules(ev, matches_);
  const std::vector<Rule>& rules = engine_->Rules().rules;
  routes_.clear();
  for (size_t i = 0; i < n; ++i) {
    const RuleMatch& m = matches_[i];
    const std::string_view rule_id = rules[m.rule].id;
    routes_.push_back({.rule = m.rule,
                       .rule_id = rule_id,
                       .match = &m,
                       .partition = ShufflePartition(rule_id, m.group, partitions_)});
  }
  return routes_;
}

void FillShuffleRecord(const ShuffleRoute& route, const DecodedEvent& ev,
                       const ShuffleSource& source, ShuffleRecord& record) {
  const RuleMatch& m = *route.match;
  record.source = source;
  record.rule_id = route.rule_id;
  record.group.assign(m.group.begin(), m.group.end());
  record.event_time_ms = ev.time_ms;
  record.event_id = ev.EventId();
  record.numerator = m.numerator;
  record.denominator = m.denominator;
  record.values.assign(m.values.begin(), m.values.end());
  record.event_json.reset();
}

}  // namespace klaxon::service
