#include "cli/sentry_options.h"

#include <chrono>
#include <filesystem>

#include "service/listen_address.h"

namespace klaxon::cli {

Result<ingest::SentryIngestOptions> SentryIngestOptionsFrom(
    const Config& config, const connectors::KafkaClientOptions* kafka) {
  const SentryConfig& s = config.sentry;
  Result<service::ListenAddress> listen = service::ParseListenAddress(s.listen);
  if (!listen.ok()) return Status::InvalidArgument("sentry.listen: " + listen.status().message());
  ingest::SentryIngestOptions o;
  o.endpoint.host = listen->host;
  o.endpoint.port = listen->port;
  o.endpoint.max_request_bytes = s.max_request_bytes;
  o.endpoint.threads = s.threads;
  o.endpoint.read_timeout_ms = s.read_timeout_ms;
  o.endpoint.request_timeout_ms = s.request_timeout_ms;
  // The rate limiter's clock: the wall clock, read only here, at the composition root.
  o.endpoint.now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  for (const SentryProjectConfig& p : s.projects) {
    o.handler.projects.push_back(
        {p.id, p.name, p.keys, p.rate_per_second, static_cast<double>(p.burst)});
  }
  o.handler.max_event_bytes = s.max_event_bytes;
  o.queue_size = static_cast<size_t>(s.queue_size);
  o.queue_bytes = s.queue_bytes;
  if (kafka != nullptr) {
    o.kafka = *kafka;
    o.kafka_topic = config.kafka.topics.empty() ? "" : config.kafka.topics.front();
  }
  o.ack_timeout = std::chrono::milliseconds(s.ack_timeout_ms);
  if (!s.capture.empty()) {
    std::filesystem::path path(s.capture);
    o.capture_path = path.is_absolute() || config.base_dir.empty()
                         ? s.capture
                         : (std::filesystem::path(config.base_dir) / path).string();
  }
  return o;
}

}  // namespace klaxon::cli
