#include "connectors/kafka_producer.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstdio>
#include <utility>

#include "connectors/file_source.h"

namespace klaxon::connectors {

// Called from Producer::poll()/flush() on the producing thread.
class KafkaProducer::DeliveryReports final : public RdKafka::DeliveryReportCb,
                                             public RdKafka::EventCb {
 public:
  explicit DeliveryReports(KafkaProducer* producer) : producer_(producer) {}

  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      ++producer_->delivered_;
      return;
    }
    ++producer_->failed_;
    internal::Log(producer_->log_, LogLevel::kWarn,
                  "delivery to " + message.topic_name() + " failed: " + message.errstr());
  }

  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_ERROR) {
      internal::Log(producer_->log_, event.fatal() ? LogLevel::kError : LogLevel::kWarn,
                    "producer: " + RdKafka::err2str(event.err()) + ": " + event.str());
    } else if (event.type() == RdKafka::Event::EVENT_LOG && event.severity() <= 4) {
      internal::Log(producer_->log_, LogLevel::kWarn, event.fac() + ": " + event.str());
    }
  }

 private:
  KafkaProducer* producer_;
};

KafkaProducer::KafkaProducer(LogFn log)
    : log_(std::move(log)), reports_(std::make_unique<DeliveryReports>(this)) {}

Result<std::unique_ptr<KafkaProducer>> KafkaProducer::Open(const KafkaClientOptions& options) {
  std::unique_ptr<KafkaProducer> producer(new KafkaProducer(options.log));
  auto conf = internal::NewGlobalConf(options);
  if (!conf.ok()) return conf.status();
  for (const auto& [key, value] : internal::kProducerDefaults) {
    if (Status s = internal::SetProperty(**conf, key, value); !s.ok()) return s;
  }
  // kafka.properties are shared with the consumer: its own would only draw warnings here.
  if (Status s = internal::ApplyProperties(**conf, ProducerProperties(options.properties));
      !s.ok()) {
    return s;
  }
  std::string error;
  if ((*conf)->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(producer->reports_.get()),
                   error) != RdKafka::Conf::CONF_OK ||
      (*conf)->set("event_cb", static_cast<RdKafka::EventCb*>(producer->reports_.get()), error) !=
          RdKafka::Conf::CONF_OK) {
    return Status::Internal("kafka producer: " + error);
  }
  producer->producer_.reset(RdKafka::Producer::create(conf->get(), error));
  if (!producer->producer_) return Status::InvalidArgument("kafka producer: " + error);
  return producer;
}

KafkaProducer::~KafkaProducer() {
  if (producer_) (void)Flush(std::chrono::seconds(10));
}

Status KafkaProducer::Produce(const std::string& topic, std::string_view payload,
                              int64_t timestamp_ms, std::span<const KafkaHeader> headers,
                              std::string_view key, std::chrono::milliseconds queue_full_timeout,
                              int32_t partition) {
  RdKafka::Headers* kafka_headers = nullptr;
  if (!headers.empty()) {
    kafka_headers = RdKafka::Headers::create();
    for (const KafkaHeader& h : headers) {
      kafka_headers->add(std::string(h.key), h.value.data(), h.value.size());
    }
  }
  constexpr int kPollMs = 50;
  for (int64_t waited = 0;; waited += kPollMs) {
    // RK_MSG_COPY: the payload belongs to the caller (it may be a source's reused buffer).
    RdKafka::ErrorCode err = producer_->produce(
        topic, partition < 0 ? RdKafka::Topic::PARTITION_UA : partition,
        RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(payload.data()), payload.size(),
        key.empty() ? nullptr : key.data(), key.size(), timestamp_ms, kafka_headers, nullptr);
    if (err == RdKafka::ERR_NO_ERROR) {
      producer_->poll(0);  // serve delivery reports
      return Status::Ok();
    }
    if (err != RdKafka::ERR__QUEUE_FULL || waited >= queue_full_timeout.count()) {
      delete kafka_headers;  // ownership passes to librdkafka only on success
      return Status::Unavailable("kafka produce to " + topic + ": " + RdKafka::err2str(err));
    }
    producer_->poll(kPollMs);
  }
}

rd_kafka_t* KafkaProducer::c_handle() { return producer_->c_ptr(); }

Status KafkaProducer::Flush(std::chrono::milliseconds timeout) {
  producer_->flush(static_cast<int>(timeout.count()));
  const int queued = producer_->outq_len();
  const int64_t failed = failed_.load() - failed_at_last_flush_;
  failed_at_last_flush_ = failed_.load();
  if (queued > 0) {
    return Status::Unavailable("kafka producer: " + std::to_string(queued) +
                               " message(s) still queued after flush timeout");
  }
  if (failed > 0) {
    return Status::Unavailable("kafka producer: " + std::to_string(failed) +
                               " message(s) could not be delivered");
  }
  return Status::Ok();
}

Result<int64_t> ProduceJsonLines(KafkaProducer& producer, const std::string& topic,
                                 const std::string& path, int64_t timestamp_ms) {
  auto source = FileSource::Open({.path = path});
  if (!source.ok()) return source.status();
  int64_t count = 0;
  Record record;
  for (;;) {
    auto next = (*source)->Next(std::chrono::milliseconds(1000), &record);
    if (!next.ok()) return next.status();
    if (*next == NextStatus::kEnd) break;
    if (*next != NextStatus::kRecord) continue;
    if (Status s = producer.Produce(topic, record.payload, timestamp_ms); !s.ok()) return s;
    ++count;
  }
  if (Status s = producer.Flush(std::chrono::seconds(60)); !s.ok()) return s;
  return count;
}

Result<std::unique_ptr<KafkaDeadLetterProducer>> KafkaDeadLetterProducer::Open(
    const DeadLetterOptions& options) {
  if (options.topic.empty()) return Status::InvalidArgument("dead letters: no topic");
  auto producer = KafkaProducer::Open(options.client);
  if (!producer.ok()) return producer.status();
  return std::unique_ptr<KafkaDeadLetterProducer>(
      new KafkaDeadLetterProducer(options.topic, std::move(producer).value()));
}

KafkaDeadLetterProducer::~KafkaDeadLetterProducer() { (void)Close(); }

Status KafkaDeadLetterProducer::Send(const Record& original, std::string_view reason,
                                     std::string_view detail) {
  if (closed_) return Status::FailedPrecondition("dead letters: closed");
  char partition[16];
  char offset[24];
  const int partition_len = std::snprintf(partition, sizeof(partition), "%d", original.partition);
  const int offset_len =
      std::snprintf(offset, sizeof(offset), "%lld", static_cast<long long>(original.offset));
  const KafkaHeader headers[] = {
      {"klaxon-reason", reason},
      {"klaxon-source-topic", original.topic},
      {"klaxon-source-partition", std::string_view(partition, partition_len)},
      {"klaxon-source-offset", std::string_view(offset, offset_len)},
      {"klaxon-detail", detail},
  };
  // The original timestamp travels along, so the dead letter sorts where the event did.
  const int64_t timestamp = original.broker_timestamp_ms > 0 ? original.broker_timestamp_ms : 0;
  Status status = producer_->Produce(topic_, original.payload, timestamp,
                                     std::span(headers, detail.empty() ? 4 : 5), original.key);
  if (status.ok()) ++sent_;
  return status;
}

Status KafkaDeadLetterProducer::Close(std::chrono::milliseconds timeout) {
  if (closed_) return Status::Ok();
  closed_ = true;
  return producer_->Flush(timeout);
}

}  // namespace klaxon::connectors
