// ReplayReportBuilder: what `klaxon replay --report FILE` draws, collected while the replay
// runs: each rule's measured value sampled as event time passes, and its notifications turned
// into episodes, firing periods and marks (report/replay_report.h renders them).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "engine/engine.h"
#include "engine/notification.h"
#include "report/replay_report.h"

namespace klaxon::cli {

class ReplayReportBuilder {
 public:
  // At most kMaxSamples values per rule: past that, every other one is dropped and the
  // sampling interval doubles, so a week of events costs what a day does.
  static constexpr size_t kMaxSamples = 4000;

  explicit ReplayReportBuilder(const RuleSet& rules);

  // After each event: samples every rule once event time passed the next sampling point.
  void Sample(const Engine& engine);
  void Add(const Notification& n);
  // An episode already firing when the report starts (replay --since), from its firing
  // notification before then: shown from its real start, without counting that notification.
  void AddOpen(const Notification& firing);
  // Each rule's matches before the report starts, not counted in its table.
  void SetMatchedBefore(std::vector<uint64_t> matched) { matched_before_ = std::move(matched); }
  void Event(int64_t event_time_ms);  // an accepted event: the time range of the report

  report::ReplayReportData Build(const Engine& engine, int64_t end_ms);

 private:
  const RuleSet& rules_;
  std::vector<std::vector<report::Point>> points_;  // by rule index
  int64_t interval_ms_ = 1000;
  int64_t next_sample_ms_ = INT64_MIN;
  int64_t first_ms_ = INT64_MAX;
  int64_t last_ms_ = INT64_MIN;
  std::vector<uint64_t> matched_before_;
  struct Episode {
    report::EpisodeRow row;
    size_t rule = 0;
  };
  // (rule, group, episode start) -> episode, in order of first notification.
  std::map<std::tuple<uint32_t, std::vector<std::optional<std::string>>, int64_t>, size_t> index_;
  std::vector<Episode> episodes_;
  std::vector<std::vector<report::Mark>> marks_;  // by rule index
};

}  // namespace klaxon::cli
