// Everything `klaxon run` needs for Sentry ingestion, built from one options struct: the HTTP
// endpoint, its handler and metrics, and where events go (a bounded queue read as
// `source: sentry`, or a Kafka topic with acks=all). Owns all of them; Stop() (or destruction)
// stops the endpoint first, so no request is answered after its sink is gone.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "connectors/kafka_config.h"
#include "connectors/source.h"
#include "ingest/http_endpoint.h"
#include "ingest/ingest_handler.h"

namespace klaxon::ingest {

struct SentryIngestOptions {
  EndpointOptions endpoint;
  HandlerOptions handler;
  size_t queue_size = 10000;
  size_t queue_bytes = size_t{64} << 20;
  // Set: produce to `kafka_topic` instead of queueing (no Source then).
  std::optional<connectors::KafkaClientOptions> kafka;
  std::string kafka_topic;
  std::chrono::milliseconds ack_timeout{10000};
  // Set: every accepted event is also appended to this JSON Lines file (capture_sink.h).
  std::string capture_path;
};

class SentryIngest {
 public:
  static Result<std::unique_ptr<SentryIngest>> Start(SentryIngestOptions options);
  ~SentryIngest();

  // The queue as a Source (queue mode only; nullptr with Kafka). The source must not outlive
  // this object.
  std::unique_ptr<connectors::Source> NewSource();
  // Appends the ingestion metrics (Prometheus text).
  void AppendMetrics(std::string& out) const { metrics_.AppendMetrics(out); }
  const IngestMetrics& metrics() const { return metrics_; }
  int port() const { return endpoint_ ? endpoint_->port() : -1; }
  // Stops the endpoint and closes the queue; idempotent.
  void Stop();

 private:
  SentryIngest() = default;

  IngestMetrics metrics_;
  std::unique_ptr<EventQueue> queue_;
  std::unique_ptr<EventSink> sink_;
  std::unique_ptr<IngestHandler> handler_;
  std::unique_ptr<IngestEndpoint> endpoint_;
};

}  // namespace klaxon::ingest
