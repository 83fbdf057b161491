#include "connectors/kafka_partition_reader.h"

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <vector>

namespace klaxon::connectors {

namespace {

class LogEvents final : public RdKafka::EventCb {
 public:
  explicit LogEvents(const LogFn& log) : log_(log) {}
  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_ERROR) {
      internal::Log(log_, LogLevel::kWarn,
                    "changelog reader: " + RdKafka::err2str(event.err()) + ": " + event.str());
    } else if (event.type() == RdKafka::Event::EVENT_LOG && event.severity() <= 4) {
      internal::Log(log_, LogLevel::kWarn, event.fac() + ": " + event.str());
    }
  }

 private:
  const LogFn& log_;
};

}  // namespace

Result<int64_t> ReadPartitions(const KafkaClientOptions& options, const std::string& topic,
                               const std::vector<int32_t>& partitions,
                               std::chrono::milliseconds timeout,
                               const PartitionRecordFn& on_record) {
  if (partitions.empty()) return 0;
  std::string where = topic + " [";
  for (size_t i = 0; i < partitions.size(); ++i) {
    where += (i ? "," : "") + std::to_string(partitions[i]);
  }
  where += "]";
  auto conf = internal::NewGlobalConf(options);
  if (!conf.ok()) return conf.status();
  // Assigned, never subscribed: no group is joined and nothing is committed; group.id is only
  // what librdkafka's consumer requires.
  const std::pair<const char*, const char*> settings[] = {
      {"group.id", "klaxon-changelog-reader"}, {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},   {"enable.partition.eof", "true"},
      {"isolation.level", "read_committed"},   {"queued.max.messages.kbytes", "65536"},
  };
  for (const auto& [key, value] : settings) {
    if (Status s = internal::SetProperty(**conf, key, value); !s.ok()) return s;
  }
  LogEvents events(options.log);
  std::string error;
  if ((*conf)->set("event_cb", static_cast<RdKafka::EventCb*>(&events), error) !=
      RdKafka::Conf::CONF_OK) {
    return Status::Internal("changelog reader: " + error);
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!consumer) return Status::InvalidArgument("changelog reader: " + error);
  std::vector<RdKafka::TopicPartition*> assignment;
  for (int32_t p : partitions) {
    assignment.push_back(
        RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  const RdKafka::ErrorCode assigned = consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (assigned != RdKafka::ERR_NO_ERROR) {
    consumer->close();
    return Status::Unavailable("reading " + where + ": " + RdKafka::err2str(assigned));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int64_t count = 0;
  Status status = Status::Ok();
  std::vector<int32_t> open = partitions;  // not at their end yet
  while (!open.empty() && status.ok()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      status =
          Status::Unavailable("reading " + where + ": its end was not reached in " +
                              std::to_string(timeout.count() / 1000) + " s (brokers unreachable?)");
      break;
    }
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    switch (m->err()) {
      case RdKafka::ERR_NO_ERROR: {
        ++count;
        const std::string_view key =
            m->key_pointer() != nullptr
                ? std::string_view(static_cast<const char*>(m->key_pointer()), m->key_len())
                : std::string_view();
        std::optional<std::string_view> value;
        if (m->payload() != nullptr) {
          value = std::string_view(static_cast<const char*>(m->payload()), m->len());
        }
        status = on_record(m->partition(), m->offset(), key, value);
        break;
      }
      case RdKafka::ERR__PARTITION_EOF:
        std::erase(open, m->partition());
        break;
      case RdKafka::ERR__TIMED_OUT:
        break;
      default:
        if (m->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART ||
            m->err() == RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED) {
          status = Status::Unavailable("reading " + where + ": " + m->errstr());
        }
        break;  // transient: librdkafka retries
    }
  }
  consumer->close();
  if (!status.ok()) return status;
  return count;
}

}  // namespace klaxon::connectors
