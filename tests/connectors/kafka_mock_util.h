// librdkafka's in-process mock cluster for deterministic Kafka tests (fault injection), and
// helpers to consume from a KafkaSource with bounded waits.
#pragma once

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/kafka_producer.h"
#include "connectors/kafka_source.h"

namespace klaxon::connectors::testing {

// Kafka protocol API keys (rdkafka_protocol.h is not installed).
inline constexpr int16_t kApiFetch = 1;
inline constexpr int16_t kApiOffsetCommit = 8;

class MockCluster {
 public:
  explicit MockCluster(int brokers = 1) {
    char error[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", error, sizeof(error));
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    REQUIRE(handle_ != nullptr);
    cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
    REQUIRE(cluster_ != nullptr);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  rd_kafka_mock_cluster_t* get() { return cluster_; }
  std::string brokers() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void CreateTopic(const std::string& topic, int partitions) {
    REQUIRE(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

// Collects log lines instead of printing them (librdkafka logs on its own threads too).
class LogSink {
 public:
  LogFn fn() {
    return [this](LogLevel level, std::string_view message) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back(std::to_string(static_cast<int>(level)) + " " + std::string(message));
    };
  }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

struct Consumed {
  std::string payload;
  std::string topic;
  int32_t partition;
  int64_t offset;
  std::string key;
};

inline KafkaClientOptions ClientOptions(const std::string& brokers, LogSink& sink) {
  KafkaClientOptions options;
  options.brokers = brokers;
  options.log = sink.fn();
  return options;
}

inline KafkaSourceOptions SourceOptions(const std::string& brokers, const std::string& topic,
                                        const std::string& group, LogSink& sink) {
  KafkaSourceOptions options;
  options.client = ClientOptions(brokers, sink);
  options.client.properties = {{"session.timeout.ms", "6000"},
                               {"heartbeat.interval.ms", "200"},
                               {"topic.metadata.refresh.interval.ms", "1000"}};
  options.topics = {topic};
  options.group_id = group;
  return options;
}

inline std::unique_ptr<KafkaSource> OpenSource(const KafkaSourceOptions& options) {
  auto source = KafkaSource::Open(options);
  REQUIRE_MESSAGE(source.ok(), source.status().message());
  return std::move(source).value();
}

// Reads until `want` records arrived or `max_polls` polls of up to 100 ms passed (generous: a
// loaded CI machine can take seconds to form a group). Marks each record
// processed when `mark` is true.
inline std::vector<Consumed> ConsumeN(KafkaSource& source, size_t want, bool mark = true,
                                      int max_polls = 600) {
  std::vector<Consumed> out;
  Record record;
  for (int i = 0; i < max_polls && out.size() < want; ++i) {
    auto next = source.Next(std::chrono::milliseconds(100), &record);
    REQUIRE_MESSAGE(next.ok(), next.status().message());
    if (*next != NextStatus::kRecord) continue;
    out.push_back({std::string(record.payload), record.topic, record.partition, record.offset,
                   std::string(record.key)});
    if (mark) source.MarkProcessed(record);
  }
  return out;
}

inline void Produce(const std::string& brokers, const std::string& topic, int from, int to,
                    LogSink& sink) {
  auto producer = KafkaProducer::Open(ClientOptions(brokers, sink));
  REQUIRE_MESSAGE(producer.ok(), producer.status().message());
  for (int i = from; i < to; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE((*producer)->Produce(topic, "{\"n\":" + std::to_string(i) + "}", 0, {}, key).ok());
  }
  Status flushed = (*producer)->Flush(std::chrono::seconds(30));
  REQUIRE_MESSAGE(flushed.ok(), flushed.message());
}

inline std::string Payload(int n) { return "{\"n\":" + std::to_string(n) + "}"; }

}  // namespace klaxon::connectors::testing
