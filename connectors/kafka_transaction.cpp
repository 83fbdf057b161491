#include "connectors/kafka_transaction.h"

#include <librdkafka/rdkafka.h>

#include <utility>

#include "connectors/kafka_producer.h"
#include "connectors/kafka_source.h"

namespace klaxon::connectors {

namespace {

int TimeoutMs(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::min<int64_t>(timeout.count(), INT32_MAX));
}

}  // namespace

KafkaTransactionalProducer::KafkaTransactionalProducer(LogFn log,
                                                       std::unique_ptr<KafkaProducer> producer)
    : log_(std::move(log)), producer_(std::move(producer)) {}

KafkaTransactionalProducer::~KafkaTransactionalProducer() {
  if (open_) (void)Abort(std::chrono::seconds(5));
}

Result<std::unique_ptr<KafkaTransactionalProducer>> KafkaTransactionalProducer::Open(
    const TransactionalProducerOptions& options, std::chrono::milliseconds timeout) {
  if (options.transactional_id.empty()) {
    return Status::InvalidArgument("kafka transactions: no transactional.id");
  }
  KafkaClientOptions client = options.client;
  client.properties["transactional.id"] = options.transactional_id;
  client.properties["transaction.timeout.ms"] = std::to_string(options.transaction_timeout.count());
  client.properties["enable.idempotence"] = "true";
  client.properties["acks"] = "all";
  client.properties["linger.ms"] = "5";
  Result<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Open(client);
  if (!producer.ok()) return producer.status();
  std::unique_ptr<KafkaTransactionalProducer> txn(
      new KafkaTransactionalProducer(options.client.log, std::move(producer).value()));
  if (rd_kafka_error_t* error =
          rd_kafka_init_transactions(txn->producer_->c_handle(), TimeoutMs(timeout))) {
    std::string message = rd_kafka_error_string(error);
    const bool timed_out = rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__TIMED_OUT;
    rd_kafka_error_destroy(error);
    return timed_out ? Status::Unavailable(
                           "kafka transactions: the transaction coordinator did "
                           "not answer: " +
                           message)
                     : Status::FailedPrecondition("kafka transactions: " + message);
  }
  return txn;
}

Status KafkaTransactionalProducer::Fail(const char* what, rd_kafka_error_t* error,
                                        std::chrono::milliseconds timeout) {
  std::string message =
      std::string("kafka transaction ") + what + ": " + rd_kafka_error_string(error);
  const bool fatal = rd_kafka_error_is_fatal(error);
  const bool abortable = rd_kafka_error_txn_requires_abort(error);
  rd_kafka_error_destroy(error);
  if (fatal) {
    open_ = false;
    return Status::FailedPrecondition(message);
  }
  if (abortable || open_) {
    if (Status aborted = Abort(timeout); !aborted.ok()) {
      return Status(aborted.code(), message + "; then " + aborted.message());
    }
  }
  return Status::Unavailable(message);
}

Status KafkaTransactionalProducer::Begin() {
  if (rd_kafka_error_t* error = rd_kafka_begin_transaction(producer_->c_handle())) {
    return Fail("begin", error, std::chrono::seconds(10));
  }
  open_ = true;
  return Status::Ok();
}

Status KafkaTransactionalProducer::Produce(const std::string& topic, int32_t partition,
                                           std::string_view key,
                                           std::optional<std::string_view> value) {
  // A tombstone is a null value, not an empty one.
  Status st = producer_->Produce(topic, value ? *value : std::string_view(), 0, {}, key,
                                 std::chrono::seconds(30), partition);
  if (st.ok()) return st;
  // Fenced (another process took over the transactional id) or failed for good: say so, as
  // Commit does, so the caller stops rather than tries again.
  char reason[512] = "";
  if (rd_kafka_fatal_error(producer_->c_handle(), reason, sizeof(reason)) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    open_ = false;
    return Status::FailedPrecondition("kafka transaction produce: " + std::string(reason));
  }
  return st;
}

Status KafkaTransactionalProducer::Commit(std::span<const CommitOffset> offsets,
                                          KafkaSource& consumer,
                                          std::chrono::milliseconds timeout) {
  if (!offsets.empty()) {
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
    for (const CommitOffset& o : offsets) {
      rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition)->offset = o.next_offset;
    }
    rd_kafka_consumer_group_metadata_t* group =
        rd_kafka_consumer_group_metadata(consumer.c_handle());
    rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(producer_->c_handle(), list,
                                                                   group, TimeoutMs(timeout));
    rd_kafka_consumer_group_metadata_destroy(group);
    rd_kafka_topic_partition_list_destroy(list);
    if (error != nullptr) return Fail("send offsets", error, timeout);
  }
  if (rd_kafka_error_t* error =
          rd_kafka_commit_transaction(producer_->c_handle(), TimeoutMs(timeout))) {
    return Fail("commit", error, timeout);
  }
  open_ = false;
  ++commits_;
  return Status::Ok();
}

Status KafkaTransactionalProducer::Abort(std::chrono::milliseconds timeout) {
  if (!open_) return Status::Ok();
  rd_kafka_error_t* error = rd_kafka_abort_transaction(producer_->c_handle(), TimeoutMs(timeout));
  if (error == nullptr) {
    open_ = false;
    ++aborts_;
    return Status::Ok();
  }
  std::string message = std::string("kafka transaction abort: ") + rd_kafka_error_string(error);
  const bool fatal = rd_kafka_error_is_fatal(error);
  rd_kafka_error_destroy(error);
  if (fatal) open_ = false;
  return fatal ? Status::FailedPrecondition(message) : Status::Unavailable(message);
}

}  // namespace klaxon::connectors
