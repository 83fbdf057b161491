#include "cli/replay_report_builder.h"

#include <algorithm>
#include <climits>

#include "cli/notification_output.h"
#include "engine/time_format.h"
#include "service/notification_fields.h"

namespace klaxon::cli {

namespace {

// An absence rule (`frequency < 1 in 6h`) is about its quietest group; the others about the
// busiest.
bool Highest(const Rule& r) {
  return r.condition.op != CompareOp::kLt && r.condition.op != CompareOp::kLe;
}

std::string ValueLabel(const Rule& r) {
  const Condition& c = r.condition;
  const std::string window = FormatDurationMs(c.window_ms);
  switch (c.kind) {
    case Condition::Kind::kCount: {
      // The engine counts only as far as the rule needs (docs/rules.md): say so on the axis.
      const std::optional<uint64_t> cap = ValueSaturation(r);
      return "events in " + window + (cap ? ", counted up to " + std::to_string(*cap) : "");
    }
    case Condition::Kind::kUnique:
      return "distinct " + c.field.name + " in " + window;
    case Condition::Kind::kChange:
      return "% of " + FormatDurationMs(c.offset_ms) + " ago, per " + window;
    case Condition::Kind::kRatio:
      return "% in " + window;
    default:
      return "";
  }
}

}  // namespace

ReplayReportBuilder::ReplayReportBuilder(const RuleSet& rules)
    : rules_(rules), points_(rules.rules.size()), marks_(rules.rules.size()) {}

void ReplayReportBuilder::Event(int64_t event_time_ms) {
  first_ms_ = std::min(first_ms_, event_time_ms);
  last_ms_ = std::max(last_ms_, event_time_ms);
}

void ReplayReportBuilder::Sample(const Engine& engine) {
  const int64_t now = engine.Watermark();
  if (now == INT64_MIN || now < next_sample_ms_) return;
  for (size_t i = 0; i < rules_.rules.size(); ++i) {
    const Rule& r = rules_.rules[i];
    if (!HasEpisodes(r.condition)) continue;
    const std::optional<double> v = engine.RuleValue(static_cast<uint32_t>(i), Highest(r));
    points_[i].push_back({now, v.value_or(0)});
    if (points_[i].size() > kMaxSamples) {
      std::vector<report::Point>& p = points_[i];
      size_t k = 0;
      for (size_t j = 0; j < p.size(); j += 2) p[k++] = p[j];
      p.resize(k);
      interval_ms_ *= 2;
    }
  }
  next_sample_ms_ = now + interval_ms_;
}

void ReplayReportBuilder::AddOpen(const Notification& firing) {
  const Rule& rule = rules_.rules[firing.rule_index];
  Episode e;
  e.rule = firing.rule_index;
  e.row.group = service::GroupText(rule, firing.group);
  e.row.start_ms = firing.episode_start_ms;
  e.row.end_ms = INT64_MAX;
  episodes_.push_back(std::move(e));
  index_.emplace(std::make_tuple(firing.rule_index, firing.group, firing.episode_start_ms),
                 episodes_.size() - 1);
}

void ReplayReportBuilder::Add(const Notification& n) {
  using report::Mark;
  const Rule& rule = rules_.rules[n.rule_index];
  const auto key = std::make_tuple(n.rule_index, n.group, n.episode_start_ms);
  auto it = index_.find(key);
  if (it == index_.end()) {
    Episode e;
    e.rule = n.rule_index;
    e.row.group = service::GroupText(rule, n.group);
    e.row.start_ms = n.state == AlertState::kResolved ? n.at_ms : n.episode_start_ms;
    // `when FILTER` and new(...) notify once per event or value: an instant, not a period.
    e.row.end_ms = HasEpisodes(rule.condition) ? INT64_MAX : n.at_ms;
    episodes_.push_back(std::move(e));
    it = index_.emplace(key, episodes_.size() - 1).first;
  }
  Episode& e = episodes_[it->second];
  ++e.row.notifications;
  Mark::Kind kind = Mark::Kind::kFiring;
  if (n.state == AlertState::kRepeat) kind = Mark::Kind::kRepeat;
  if (n.state == AlertState::kResolved) {
    kind = Mark::Kind::kResolved;
    e.row.end_ms = n.at_ms;
    index_.erase(it);  // a later episode of the group starts a new row
  }
  const std::string group = e.row.group.empty() ? "" : " " + e.row.group;
  marks_[n.rule_index].push_back({n.at_ms, kind,
                                  std::string(AlertStateName(n.state)) + group + " at " +
                                      FormatTimeMs(n.at_ms) + ", value " +
                                      service::FormatValue(n.value)});
}

report::ReplayReportData ReplayReportBuilder::Build(const Engine& engine, int64_t end_ms) {
  report::ReplayReportData data;
  data.from_ms = first_ms_ == INT64_MAX ? 0 : first_ms_;
  data.to_ms = std::max({data.from_ms + 1, last_ms_, end_ms});
  const EngineStats& stats = engine.Stats();
  for (size_t i = 0; i < rules_.rules.size(); ++i) {
    const Rule& r = rules_.rules[i];
    report::RuleReport rr;
    rr.name = r.name;
    rr.condition = service::ConditionText(r);
    rr.severity = SeverityName(r.severity);
    rr.value_label = ValueLabel(r);
    rr.has_threshold = HasEpisodes(r.condition);
    rr.threshold = r.condition.threshold;
    rr.points = std::move(points_[i]);
    rr.marks = std::move(marks_[i]);
    if (i < stats.rules.size()) {
      rr.matches = stats.rules[i].matches - (i < matched_before_.size() ? matched_before_[i] : 0);
    }
    rr.notifications = rr.marks.size();  // those shown: from --since on
    data.rules.push_back(std::move(rr));
  }
  // Episodes and the periods when any group of the rule was firing (their union).
  std::vector<std::vector<report::Band>> spans(rules_.rules.size());
  for (Episode& e : episodes_) {
    const int64_t end = e.row.end_ms == INT64_MAX ? data.to_ms : e.row.end_ms;
    if (HasEpisodes(rules_.rules[e.rule].condition)) {
      // An episode that began before the report's range is shaded from its start.
      spans[e.rule].push_back({std::max(e.row.start_ms, data.from_ms), end});
    }
    data.rules[e.rule].episodes.push_back(std::move(e.row));
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    std::vector<report::Band>& s = spans[i];
    std::sort(s.begin(), s.end(),
              [](const report::Band& a, const report::Band& b) { return a.from_ms < b.from_ms; });
    for (const report::Band& b : s) {
      std::vector<report::Band>& out = data.rules[i].firing;
      if (!out.empty() && b.from_ms <= out.back().to_ms) {
        out.back().to_ms = std::max(out.back().to_ms, b.to_ms);
      } else {
        out.push_back(b);
      }
    }
  }
  return data;
}

}  // namespace klaxon::cli
