#include "connectors/kafka_partition_reader.h"

#include <librdkafka/rdkafkacpp.h>

#include <vector>

namespace klaxon::connectors {

namespace {

class LogEvents final : public RdKafka::EventCb {
 public:
  LogEvents(LogFn log, std::string what) : log_(std::move(log)), what_(std::move(what)) {}
  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_ERROR) {
      internal::Log(log_, LogLevel::kWarn,
                    what_ + ": " + RdKafka::err2str(event.err()) + ": " + event.str());
    } else if (event.type() == RdKafka::Event::EVENT_LOG && event.severity() <= 4) {
      internal::Log(log_, LogLevel::kWarn, event.fac() + ": " + event.str());
    }
  }

 private:
  LogFn log_;
  std::string what_;
};

std::string Where(const std::string& topic, const std::map<int32_t, int64_t>& partitions) {
  std::string where = topic + " [";
  bool first = true;
  for (const auto& [p, offset] : partitions) {
    where += (first ? "" : ",") + std::to_string(p);
    first = false;
  }
  return where + "]";
}

}  // namespace

Result<std::unique_ptr<PartitionReader>> PartitionReader::Open(const KafkaClientOptions& options,
                                                               std::string topic,
                                                               std::string what) {
  std::unique_ptr<PartitionReader> reader(new PartitionReader(std::move(topic), std::move(what)));
  auto conf = internal::NewGlobalConf(options);
  if (!conf.ok()) return conf.status();
  // Assigned, never subscribed: no group is joined and nothing is committed; group.id is only
  // what librdkafka's consumer requires.
  const std::pair<const char*, const char*> settings[] = {
      {"group.id", "klaxon-changelog-reader"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      {"isolation.level", "read_committed"},
      {"queued.max.messages.kbytes", "65536"},
      {"auto.offset.reset", "earliest"},
      // The end of a partition is known from a fetch that returned nothing: waiting the default
      // 500 ms for one would add that to every restore, once or twice (a transaction marker
      // ends most partitions). 50 ms costs an idle standby 20 small fetches a second.
      {"fetch.wait.max.ms", "50"},
  };
  for (const auto& [key, value] : settings) {
    if (Status s = internal::SetProperty(**conf, key, value); !s.ok()) return s;
  }
  reader->events_ = std::make_unique<LogEvents>(options.log, reader->what_);
  std::string error;
  if ((*conf)->set("event_cb", reader->events_.get(), error) != RdKafka::Conf::CONF_OK) {
    return Status::Internal(reader->what_ + ": " + error);
  }
  reader->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!reader->consumer_) return Status::InvalidArgument(reader->what_ + ": " + error);
  return reader;
}

PartitionReader::PartitionReader(std::string topic, std::string what)
    : topic_(std::move(topic)), what_(std::move(what)) {}

PartitionReader::~PartitionReader() {
  if (consumer_) consumer_->close();
}

Status PartitionReader::Assign(const std::map<int32_t, int64_t>& from) {
  std::map<int32_t, Progress> progress;
  std::vector<RdKafka::TopicPartition*> assignment;
  for (const auto& [p, offset] : from) {
    auto known = progress_.find(p);
    if (known != progress_.end() && known->second.next == offset) {
      progress[p] = known->second;
    } else {
      progress[p] = Progress{offset, false};
    }
    assignment.push_back(RdKafka::TopicPartition::create(topic_, p, offset));
  }
  // The whole assignment again: positions are the offsets given, which the reader tracks.
  const RdKafka::ErrorCode assigned = consumer_->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (assigned != RdKafka::ERR_NO_ERROR) {
    return Status::Unavailable(what_ + ": reading " + Where(topic_, from) + ": " +
                               RdKafka::err2str(assigned));
  }
  progress_ = std::move(progress);
  return Status::Ok();
}

Result<int64_t> PartitionReader::Poll(std::chrono::milliseconds wait, size_t max_records,
                                      const PartitionRecordFn& on_record) {
  int64_t count = 0;
  for (size_t n = 0; n < max_records && !progress_.empty(); ++n) {
    std::unique_ptr<RdKafka::Message> m(
        consumer_->consume(n == 0 ? static_cast<int>(wait.count()) : 0));
    auto it = progress_.find(m->partition());
    switch (m->err()) {
      case RdKafka::ERR_NO_ERROR: {
        if (it == progress_.end()) continue;  // fetched before the partition was unassigned
        ++count;
        it->second.next = m->offset() + 1;
        it->second.at_end = false;
        const std::string_view key =
            m->key_pointer() != nullptr
                ? std::string_view(static_cast<const char*>(m->key_pointer()), m->key_len())
                : std::string_view();
        std::optional<std::string_view> value;
        if (m->payload() != nullptr) {
          value = std::string_view(static_cast<const char*>(m->payload()), m->len());
        }
        if (Status st = on_record(m->partition(), m->offset(), key, value); !st.ok()) return st;
        break;
      }
      case RdKafka::ERR__PARTITION_EOF:
        if (it != progress_.end()) {
          it->second.at_end = true;
          // An empty partition (or one read to its end) has this position from now on.
          if (m->offset() >= 0) it->second.next = m->offset();
        }
        break;
      case RdKafka::ERR__TIMED_OUT:
        return count;
      default:
        if (m->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART ||
            m->err() == RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED) {
          return Status::Unavailable(what_ + ": reading " + topic_ + " [" +
                                     std::to_string(m->partition()) + "]: " + m->errstr());
        }
        break;  // transient: librdkafka retries
    }
  }
  return count;
}

Result<int64_t> PartitionReader::ReadToEnd(const std::vector<int32_t>& partitions,
                                           std::chrono::milliseconds timeout,
                                           const PartitionRecordFn& on_record) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now());
  };
  std::map<int32_t, int64_t> end;
  for (int32_t p : partitions) {
    if (!progress_.contains(p)) {
      return Status::Internal(what_ + ": partition " + std::to_string(p) + " is not assigned");
    }
    int64_t low = 0;
    int64_t high = 0;
    // Honours isolation.level: the last stable offset (librdkafka 1.8 and later).
    const RdKafka::ErrorCode err = consumer_->query_watermark_offsets(
        topic_, p, &low, &high, static_cast<int>(std::max<int64_t>(1, left().count())));
    if (err != RdKafka::ERR_NO_ERROR) {
      return Status::Unavailable(what_ + ": the end of " + topic_ + " [" + std::to_string(p) +
                                 "]: " + RdKafka::err2str(err));
    }
    end[p] = high;
  }
  auto reached = [&] {
    // The last record may be followed by a transaction marker: the end-of-partition event then
    // moves the position to the end.
    for (const auto& [p, offset] : end) {
      if (progress_[p].next < offset) return false;
    }
    return true;
  };
  int64_t count = 0;
  while (!reached()) {
    if (left().count() <= 0) {
      return Status::Unavailable(what_ + ": reading " + topic_ + " to its end took more than " +
                                 std::to_string(timeout.count() / 1000) + " s");
    }
    Result<int64_t> read = Poll(std::chrono::milliseconds(100), 65536, on_record);
    if (!read.ok()) return read.status();
    count += *read;
  }
  return count;
}

int64_t PartitionReader::Position(int32_t partition) const {
  auto it = progress_.find(partition);
  return it == progress_.end() ? kFromBeginning : it->second.next;
}

bool PartitionReader::AtEnd(int32_t partition) const {
  auto it = progress_.find(partition);
  return it != progress_.end() && it->second.at_end;
}

int64_t PartitionReader::Lag(int32_t partition) const {
  auto it = progress_.find(partition);
  if (it == progress_.end()) return 0;
  int64_t low = 0;
  int64_t high = 0;
  if (consumer_->get_watermark_offsets(topic_, partition, &low, &high) != RdKafka::ERR_NO_ERROR ||
      high < 0) {
    return 0;
  }
  const int64_t next = it->second.next >= 0 ? it->second.next : low;
  return std::max<int64_t>(0, high - next);
}

Result<int64_t> ReadPartitions(const KafkaClientOptions& options, const std::string& topic,
                               const std::map<int32_t, int64_t>& from,
                               std::chrono::milliseconds timeout,
                               const PartitionRecordFn& on_record) {
  if (from.empty()) return 0;
  const std::string where = Where(topic, from);
  Result<std::unique_ptr<PartitionReader>> reader =
      PartitionReader::Open(options, topic, "changelog reader");
  if (!reader.ok()) return reader.status();
  if (Status st = (*reader)->Assign(from); !st.ok()) return st;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int64_t count = 0;
  auto at_end = [&] {
    for (const auto& [p, offset] : from) {
      if (!(*reader)->AtEnd(p)) return false;
    }
    return true;
  };
  while (!at_end()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("reading " + where + ": its end was not reached in " +
                                 std::to_string(timeout.count() / 1000) +
                                 " s (brokers unreachable?)");
    }
    Result<int64_t> read = (*reader)->Poll(std::chrono::milliseconds(200), 65536, on_record);
    if (!read.ok()) return Status(read.status().code(), read.status().message());
    count += *read;
  }
  return count;
}

}  // namespace klaxon::connectors
