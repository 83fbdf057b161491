// Kafka connector benchmark tool, driven by bench/kafka_bench.sh against the local broker.
//
//   kafka_consume_bench produce BROKERS TOPIC N   produce N generated ~1.4 KB Sentry-style events
//   kafka_consume_bench consume BROKERS TOPIC N   consume N records through KafkaSource (each
//                                                 marked processed) and print the rate
//
// The consume figure is the connector's ceiling for `klaxon run`: librdkafka plus Klaxon's
// offset bookkeeping, without the engine.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "connectors/kafka_producer.h"
#include "connectors/kafka_source.h"

namespace {

using klaxon::LogLevel;
using klaxon::connectors::KafkaProducer;
using klaxon::connectors::KafkaSource;
using klaxon::connectors::NextStatus;
using klaxon::connectors::Record;

void Quiet(LogLevel level, std::string_view message) {
  if (level >= LogLevel::kWarn) {
    std::fprintf(stderr, "kafka: %.*s\n", static_cast<int>(message.size()), message.data());
  }
}

// A deterministic event of about 1.4 KB: 50 services, 40 exception types, a stack trace.
std::string Event(int64_t i) {
  static constexpr int64_t kStartMs = 1764028800000;
  uint64_t x = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  const int service = static_cast<int>(x % 50);
  const int type = static_cast<int>((x >> 8) % 40);
  std::string e = "{\"timestamp\":" + std::to_string(kStartMs + i * 10) + ",\"event_id\":\"" +
                  std::to_string(x) + "\",\"level\":\"error\"" +
                  ",\"platform\":\"python\",\"environment\":\"production\"" +
                  ",\"tags\":{\"service\":\"svc-" + std::to_string(service) +
                  "\",\"region\":\"eu-west-1\",\"release\":\"2025.11." + std::to_string(type % 7) +
                  "\"},\"exception\":{\"type\":\"Error" + std::to_string(type) +
                  "\",\"value\":\"something failed while handling request " + std::to_string(i) +
                  "\",\"stacktrace\":{\"frames\":[";
  for (int f = 0; f < 8; ++f) {
    if (f) e += ',';
    e += "{\"filename\":\"app/module_" + std::to_string(f) + ".py\",\"function\":\"handler_" +
         std::to_string(f) + "\",\"lineno\":" + std::to_string(100 + f * 7) + ",\"in_app\":true}";
  }
  e += "]}},\"user\":{\"id\":\"" + std::to_string(x % 100000) +
       "\"},\"request\":{\"url\":\"https://api.example.com/v1/orders\",\"method\":\"POST\"}}";
  return e;
}

int Produce(const std::string& brokers, const std::string& topic, int64_t n) {
  klaxon::connectors::KafkaClientOptions options;
  options.brokers = brokers;
  options.log = Quiet;
  options.properties = {{"linger.ms", "20"},
                        {"batch.size", "1000000"},
                        {"compression.type", "lz4"},
                        {"queue.buffering.max.messages", "500000"}};
  auto producer = KafkaProducer::Open(options);
  if (!producer.ok()) {
    std::fprintf(stderr, "%s\n", producer.status().message().c_str());
    return 1;
  }
  size_t bytes = 0;
  for (int64_t i = 0; i < n; ++i) {
    const std::string event = Event(i);
    bytes += event.size();
    if (auto s = (*producer)->Produce(topic, event); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      return 1;
    }
  }
  if (auto s = (*producer)->Flush(std::chrono::minutes(5)); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  std::printf("produced=%lld avg_bytes=%zu\n", static_cast<long long>(n),
              n ? bytes / static_cast<size_t>(n) : 0);
  return 0;
}

int Consume(const std::string& brokers, const std::string& topic, int64_t n) {
  klaxon::connectors::KafkaSourceOptions options;
  options.client.brokers = brokers;
  options.client.log = Quiet;
  options.topics = {topic};
  options.group_id =
      "klaxon-bench-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  auto source = KafkaSource::Open(options);
  if (!source.ok()) {
    std::fprintf(stderr, "%s\n", source.status().message().c_str());
    return 1;
  }
  Record record;
  int64_t got = 0;
  size_t bytes = 0;
  int idle = 0;
  auto start = std::chrono::steady_clock::time_point{};
  while (got < n && idle < 300) {
    auto next = (*source)->Next(std::chrono::milliseconds(100), &record);
    if (!next.ok()) {
      std::fprintf(stderr, "%s\n", next.status().message().c_str());
      return 1;
    }
    if (*next != NextStatus::kRecord) {
      if (got > 0) ++idle;
      continue;
    }
    if (got == 0) start = std::chrono::steady_clock::now();  // from the first record: no join
    ++got;
    bytes += record.payload.size();
    (*source)->MarkProcessed(record);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  (void)(*source)->Close();
  std::printf("consumed=%lld seconds=%.3f records_per_s=%.0f mb_per_s=%.1f\n",
              static_cast<long long>(got), seconds, got / seconds, bytes / seconds / 1e6);
  return got == n ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s produce|consume BROKERS TOPIC N\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const int64_t n = std::atoll(argv[4]);
  if (mode == "produce") return Produce(argv[2], argv[3], n);
  if (mode == "consume") return Consume(argv[2], argv[3], n);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
