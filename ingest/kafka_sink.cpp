#include "ingest/kafka_sink.h"

namespace klaxon::ingest {

Result<std::unique_ptr<KafkaSink>> KafkaSink::Open(const connectors::KafkaClientOptions& client,
                                                   std::string topic,
                                                   std::chrono::milliseconds ack_timeout) {
  connectors::KafkaClientOptions options = client;
  // An answered event must be on every in-sync replica; the pass-through properties may not
  // weaken that.
  options.properties["acks"] = "all";
  options.properties["linger.ms"] = "0";
  options.properties["message.timeout.ms"] = std::to_string(ack_timeout.count());
  Result<std::unique_ptr<connectors::KafkaProducer>> producer =
      connectors::KafkaProducer::Open(options);
  if (!producer.ok()) return producer.status();
  return std::unique_ptr<KafkaSink>(
      new KafkaSink(std::move(producer).value(), std::move(topic), ack_timeout));
}

Status KafkaSink::Offer(std::string& event) {
  std::lock_guard lock(mu_);
  Status st = producer_->Produce(topic_, event, 0, {}, {}, ack_timeout_);
  if (!st.ok()) return Status::Unavailable("kafka: " + st.message());
  // Flush reports failures since the last Flush: serialised, that is exactly this event.
  st = producer_->Flush(ack_timeout_ + std::chrono::seconds(1));
  if (!st.ok()) return Status::Unavailable("kafka did not acknowledge the event: " + st.message());
  return Status::Ok();
}

}  // namespace klaxon::ingest
