#include "service/shuffle_time.h"

#include <algorithm>
#include <utility>

#include "engine/state_codec.h"

namespace klaxon::service {
namespace {

constexpr uint8_t kStateVersion = 2;  // 2: the rule of the highest record
constexpr uint8_t kReported = 1;
constexpr uint8_t kIdle = 2;
constexpr size_t kPartitionBytes = 8 + 4 + 8 + 1;  // highest offset and rule, time, flags

}  // namespace

void ShuffleTime::SetInputs(const std::vector<InputTopic>& topics) {
  std::vector<Topic> next;
  next.reserve(topics.size());
  for (const InputTopic& listed : topics) {
    Topic topic{.name = listed.name, .partitions = {}};
    for (Topic& old : topics_) {
      if (old.name == listed.name) topic.partitions = std::move(old.partitions);
    }
    topic.partitions.resize(static_cast<size_t>(std::max(listed.partitions, 0)));
    next.push_back(std::move(topic));
  }
  topics_ = std::move(next);
  last_topic_ = 0;
  Recompute();
}

ShuffleTime::Partition* ShuffleTime::Get(std::string_view topic, int32_t partition, bool& added) {
  added = false;
  if (partition < 0) return nullptr;
  if (last_topic_ >= topics_.size() || topics_[last_topic_].name != topic) {
    last_topic_ = topics_.size();
    for (size_t i = 0; i < topics_.size(); ++i) {
      if (topics_[i].name == topic) last_topic_ = i;
    }
    if (last_topic_ == topics_.size()) {
      topics_.push_back({.name = std::string(topic), .partitions = {}});
    }
  }
  std::vector<Partition>& partitions = topics_[last_topic_].partitions;
  if (static_cast<size_t>(partition) >= partitions.size()) {
    partitions.resize(static_cast<size_t>(partition) + 1);
    added = true;
  }
  return &partitions[static_cast<size_t>(partition)];
}

bool ShuffleTime::Accept(const ShuffleSource& source, uint32_t rule) {
  bool added = false;
  Partition* p = Get(source.topic, source.partition, added);
  if (p == nullptr || source.offset < p->highest_offset ||
      (source.offset == p->highest_offset && rule <= p->highest_rule)) {
    return false;
  }
  const Partition before = *p;
  p->highest_offset = source.offset;
  p->highest_rule = rule;
  p->time = std::max(p->time, source.partition_time_ms);
  p->reported = true;
  p->idle = false;
  // Partitions Get added below this one are unreported: they hold time back from now on.
  if (added || !before.reported) {
    Recompute();
  } else {
    Changed(before, *p);
  }
  return true;
}

void ShuffleTime::Mark(const ShuffleMark& mark) {
  bool added = false;
  Partition* p = Get(mark.source.topic, mark.source.partition, added);
  if (p == nullptr) return;
  const Partition before = *p;
  p->time = std::max(p->time, mark.source.partition_time_ms);
  p->reported = true;
  p->idle = mark.idle;
  if (added || !before.reported) {
    Recompute();
  } else {
    Changed(before, *p);
  }
}

void ShuffleTime::Changed(const Partition& before, const Partition& after) {
  if (before.time == after.time && before.idle == after.idle) return;
  // A partition's time only grows, so the minimum moves only when the partition that was at it
  // moves (or when idleness changes which partitions count); the maximum when all are idle.
  if (before.idle != after.idle || all_idle_ || before.time == watermark_) Recompute();
}

void ShuffleTime::Recompute() {
  unreported_ = 0;
  all_idle_ = true;
  bool held = false;  // a partition that counts has no time yet
  int64_t lowest = std::numeric_limits<int64_t>::max();
  int64_t newest = kNone;
  for (const Topic& topic : topics_) {
    for (const Partition& p : topic.partitions) {
      if (!p.reported) {
        ++unreported_;
        all_idle_ = false;
        held = true;
        continue;
      }
      newest = std::max(newest, p.time);
      if (p.idle) continue;
      all_idle_ = false;
      if (p.time == kNone) {
        held = true;
      } else {
        lowest = std::min(lowest, p.time);
      }
    }
  }
  if (held) {
    watermark_ = kNone;
  } else if (all_idle_) {
    watermark_ = newest;
  } else {
    watermark_ = lowest;
  }
}

std::optional<ShuffleTime::Partition> ShuffleTime::Find(std::string_view topic,
                                                        int32_t partition) const {
  for (const Topic& t : topics_) {
    if (t.name == topic && partition >= 0 && static_cast<size_t>(partition) < t.partitions.size()) {
      return t.partitions[static_cast<size_t>(partition)];
    }
  }
  return std::nullopt;
}

void ShuffleTime::SaveState(std::string& out) const {
  StateWriter w(out);
  w.U8(kStateVersion);
  w.U32(static_cast<uint32_t>(topics_.size()));
  for (const Topic& topic : topics_) {
    w.Str(topic.name);
    w.U32(static_cast<uint32_t>(topic.partitions.size()));
    for (const Partition& p : topic.partitions) {
      w.I64(p.highest_offset);
      w.U32(p.highest_rule);
      w.I64(p.time);
      w.U8(static_cast<uint8_t>((p.reported ? kReported : 0) | (p.idle ? kIdle : 0)));
    }
  }
}

Status ShuffleTime::RestoreState(std::string_view bytes) {
  if (!topics_.empty()) {
    return Status::FailedPrecondition("shuffle time: restore into one that has inputs already");
  }
  StateReader r(bytes);
  const uint8_t version = r.U8();
  if (r.ok() && version != kStateVersion) {
    return Status::InvalidArgument("shuffle time state: version " + std::to_string(version) +
                                   "; this Klaxon reads version " + std::to_string(kStateVersion));
  }
  std::vector<Topic> topics(r.Count(4 + 4));  // a name's length and a partition count at least
  for (Topic& topic : topics) {
    topic.name = std::string(r.Str());
    topic.partitions.resize(r.Count(kPartitionBytes));
    for (Partition& p : topic.partitions) {
      p.highest_offset = r.I64();
      p.highest_rule = r.U32();
      p.time = r.I64();
      const uint8_t flags = r.U8();
      if ((flags & ~(kReported | kIdle)) != 0) r.Fail();
      p.reported = (flags & kReported) != 0;
      p.idle = (flags & kIdle) != 0;
    }
  }
  if (!r.ok() || r.Left() != 0) {
    return Status::InvalidArgument("shuffle time state: truncated or corrupt (" +
                                   std::to_string(bytes.size()) + " bytes)");
  }
  topics_ = std::move(topics);
  last_topic_ = 0;
  Recompute();
  return Status::Ok();
}

}  // namespace klaxon::service
