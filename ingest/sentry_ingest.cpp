#include "ingest/sentry_ingest.h"

#include "ingest/capture_sink.h"
#include "ingest/kafka_sink.h"
#include "ingest/queue_source.h"

namespace klaxon::ingest {

Result<std::unique_ptr<SentryIngest>> SentryIngest::Start(SentryIngestOptions options) {
  std::unique_ptr<SentryIngest> s(new SentryIngest());
  if (options.kafka) {
    Result<std::unique_ptr<KafkaSink>> sink =
        KafkaSink::Open(*options.kafka, options.kafka_topic, options.ack_timeout);
    if (!sink.ok()) return sink.status();
    s->sink_ = std::move(sink).value();
  } else {
    s->queue_ = std::make_unique<EventQueue>(options.queue_size, options.queue_bytes);
    s->sink_ = std::make_unique<QueueSink>(*s->queue_);
  }
  if (!options.capture_path.empty()) {
    Result<std::unique_ptr<CaptureSink>> capture =
        CaptureSink::Open(options.capture_path, std::move(s->sink_));
    if (!capture.ok()) return capture.status();
    s->sink_ = std::move(capture).value();
  }
  s->handler_ = std::make_unique<IngestHandler>(std::move(options.handler), *s->sink_, s->metrics_);
  Result<std::unique_ptr<IngestEndpoint>> endpoint =
      IngestEndpoint::Start(options.endpoint, *s->handler_);
  if (!endpoint.ok()) return endpoint.status();
  s->endpoint_ = std::move(endpoint).value();
  return s;
}

std::unique_ptr<connectors::Source> SentryIngest::NewSource() {
  if (!queue_) return nullptr;
  return std::make_unique<QueueSource>(*queue_);
}

void SentryIngest::Stop() {
  if (endpoint_) endpoint_->Stop();
  if (queue_) queue_->Close();
}

SentryIngest::~SentryIngest() { Stop(); }

}  // namespace klaxon::ingest
