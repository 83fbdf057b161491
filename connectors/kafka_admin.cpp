#include "connectors/kafka_admin.h"

#include <librdkafka/rdkafka.h>

#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include "connectors/kafka_producer.h"

namespace klaxon::connectors {
namespace {

// librdkafka's C objects with their destroy function, so every early return frees them.
template <auto kDestroy>
struct Destroy {
  template <typename T>
  void operator()(T* p) const {
    kDestroy(p);
  }
};
using EventPtr = std::unique_ptr<rd_kafka_event_t, Destroy<rd_kafka_event_destroy>>;

int Ms(std::chrono::milliseconds d) { return static_cast<int>(d.count()); }

// Sends one admin request (`send` queues it on the given queue) and waits for its result, up to
// the timeout plus a second for librdkafka to report its own timeout first. Null: no answer.
template <typename Send>
EventPtr RunAdmin(rd_kafka_t* rk, rd_kafka_admin_op_t op, std::chrono::milliseconds timeout,
                  Send send) {
  std::unique_ptr<rd_kafka_AdminOptions_t, Destroy<rd_kafka_AdminOptions_destroy>> options(
      rd_kafka_AdminOptions_new(rk, op));
  char error[256];
  rd_kafka_AdminOptions_set_request_timeout(options.get(), Ms(timeout), error, sizeof(error));
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS) {
    rd_kafka_AdminOptions_set_operation_timeout(options.get(), Ms(timeout), error, sizeof(error));
  }
  std::unique_ptr<rd_kafka_queue_t, Destroy<rd_kafka_queue_destroy>> queue(rd_kafka_queue_new(rk));
  send(options.get(), queue.get());
  return EventPtr(rd_kafka_queue_poll(queue.get(), Ms(timeout) + 1000));
}

bool TimedOut(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
         err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT;
}

// What the brokers said about a spec they refused: the spec's fault, or the cluster's.
Status Refused(const std::string& topic, rd_kafka_resp_err_t err, const char* message) {
  const std::string text = "kafka topic '" + topic + "' cannot be created: " +
                           (message != nullptr && *message ? message : rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
      return Status::InvalidArgument(text);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return Status::FailedPrecondition(text);
    default:
      return Status::Unavailable(text);
  }
}

// A comma-separated list as a set: "compact,delete" and "delete, compact" are one policy.
std::set<std::string> ListSet(std::string_view value) {
  std::set<std::string> out;
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

bool SameConfigValue(const std::string& name, const std::string& have, const std::string& need) {
  if (name == "cleanup.policy") return ListSet(have) == ListSet(need);
  return have == need;
}

}  // namespace

KafkaAdmin::KafkaAdmin(std::string brokers, std::chrono::milliseconds timeout,
                       std::unique_ptr<KafkaProducer> client)
    : brokers_(std::move(brokers)), timeout_(timeout), client_(std::move(client)) {}

KafkaAdmin::~KafkaAdmin() = default;

Result<std::unique_ptr<KafkaAdmin>> KafkaAdmin::Open(const KafkaClientOptions& options,
                                                     std::chrono::milliseconds timeout) {
  KafkaClientOptions admin_options = options;
  // A metadata request for a missing topic must not create it with the broker's defaults.
  admin_options.properties.emplace("allow.auto.create.topics", "false");
  auto client = KafkaProducer::Open(admin_options);
  if (!client.ok()) return client.status();
  return std::unique_ptr<KafkaAdmin>(
      new KafkaAdmin(options.brokers, timeout, std::move(client).value()));
}

Status KafkaAdmin::NoAnswer(const std::string& what) const {
  return Status::Unavailable(what + ": no answer from the Kafka brokers (" + brokers_ +
                             ") within " + std::to_string(timeout_.count()) + " ms");
}

Status KafkaAdmin::CreateTopic(const TopicSpec& spec) {
  rd_kafka_t* rk = client_->c_handle();
  char error[512] = {0};
  std::unique_ptr<rd_kafka_NewTopic_t, Destroy<rd_kafka_NewTopic_destroy>> new_topic(
      rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, spec.replication_factor, error,
                            sizeof(error)));
  if (new_topic == nullptr) {
    return Status::InvalidArgument("kafka topic '" + spec.name + "': " + error);
  }
  std::map<std::string, std::string> configs = spec.created_with;
  for (const auto& [name, value] : spec.configs) configs[name] = value;
  for (const auto& [name, value] : configs) {
    if (rd_kafka_NewTopic_set_config(new_topic.get(), name.c_str(), value.c_str()) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::InvalidArgument("kafka topic '" + spec.name + "': bad config " + name);
    }
  }
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  EventPtr event = RunAdmin(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_,
                            [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
                              rd_kafka_CreateTopics(rk, topics, 1, options, queue);
                            });
  const std::string what = "create kafka topic '" + spec.name + "'";
  if (event == nullptr) return NoAnswer(what);
  if (const rd_kafka_resp_err_t err = rd_kafka_event_error(event.get()); err) {
    if (TimedOut(err)) return NoAnswer(what);
    return Status::Unavailable(what + ": " + rd_kafka_event_error_string(event.get()));
  }
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      continue;
    }
    if (TimedOut(err)) return NoAnswer(what);
    return Refused(spec.name, err, rd_kafka_topic_result_error_string(results[i]));
  }
  return Status::Ok();
}

Result<int> KafkaAdmin::PartitionCount(const std::string& topic) {
  rd_kafka_t* rk = client_->c_handle();
  std::unique_ptr<rd_kafka_topic_t, Destroy<rd_kafka_topic_destroy>> handle(
      rd_kafka_topic_new(rk, topic.c_str(), nullptr));
  if (handle == nullptr) {
    return Status::InvalidArgument("kafka topic '" + topic +
                                   "': " + rd_kafka_err2str(rd_kafka_last_error()));
  }
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, handle.get(), &raw, Ms(timeout_));
  std::unique_ptr<const rd_kafka_metadata_t, Destroy<rd_kafka_metadata_destroy>> metadata(raw);
  const std::string what = "metadata of kafka topic '" + topic + "'";
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (TimedOut(err)) return NoAnswer(what);
    return Status::Unavailable(what + ": " + rd_kafka_err2str(err));
  }
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic& t = metadata->topics[i];
    if (topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        t.err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
      return Status::NotFound("kafka topic '" + topic + "' does not exist");
    }
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(what + ": " + rd_kafka_err2str(t.err));
    }
    return t.partition_cnt;
  }
  return Status::NotFound("kafka topic '" + topic + "' does not exist");
}

Result<std::map<std::string, std::string>> KafkaAdmin::TopicConfigs(const std::string& topic) {
  rd_kafka_t* rk = client_->c_handle();
  std::unique_ptr<rd_kafka_ConfigResource_t, Destroy<rd_kafka_ConfigResource_destroy>> resource(
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  EventPtr event = RunAdmin(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_,
                            [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
                              rd_kafka_DescribeConfigs(rk, resources, 1, options, queue);
                            });
  const std::string what = "configs of kafka topic '" + topic + "'";
  if (event == nullptr) return NoAnswer(what);
  if (const rd_kafka_resp_err_t err = rd_kafka_event_error(event.get()); err) {
    if (TimedOut(err)) return NoAnswer(what);
    return Status::Unavailable(what + ": " + rd_kafka_event_error_string(event.get()));
  }
  size_t count = 0;
  const rd_kafka_ConfigResource_t** results = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(event.get()), &count);
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < count; ++i) {
    if (const rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(results[i]); err) {
      if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        return Status::NotFound("kafka topic '" + topic + "' does not exist");
      }
      if (TimedOut(err)) return NoAnswer(what);
      const char* message = rd_kafka_ConfigResource_error_string(results[i]);
      return Status::Unavailable(what + ": " + (message ? message : rd_kafka_err2str(err)));
    }
    size_t entries = 0;
    const rd_kafka_ConfigEntry_t** configs = rd_kafka_ConfigResource_configs(results[i], &entries);
    for (size_t j = 0; j < entries; ++j) {
      const char* value = rd_kafka_ConfigEntry_value(configs[j]);
      out.emplace(rd_kafka_ConfigEntry_name(configs[j]), value ? value : "");
    }
  }
  return out;
}

Status KafkaAdmin::CheckTopic(const TopicSpec& spec) {
  // A topic another instance created a moment ago may not be in every broker's metadata yet.
  Result<int> partitions = PartitionCount(spec.name);
  for (int attempt = 0;
       !partitions.ok() && partitions.status().code() == StatusCode::kNotFound && attempt < 20;
       ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    partitions = PartitionCount(spec.name);
  }
  if (!partitions.ok()) return partitions.status();
  if (*partitions != spec.partitions) {
    return Status::FailedPrecondition(
        "kafka topic '" + spec.name + "' has " + std::to_string(*partitions) +
        " partition(s); Klaxon needs " + std::to_string(spec.partitions) +
        " (a different count would move every (rule, group) to another partition: delete the "
        "topic or run with its count)");
  }
  if (spec.configs.empty()) return Status::Ok();
  auto configs = TopicConfigs(spec.name);
  if (!configs.ok()) return configs.status();
  for (const auto& [name, need] : spec.configs) {
    auto it = configs->find(name);
    const std::string have = it == configs->end() ? "(not set)" : it->second;
    if (it == configs->end() || !SameConfigValue(name, have, need)) {
      return Status::FailedPrecondition("kafka topic '" + spec.name + "' has " + name + "=" + have +
                                        "; Klaxon needs " + name + "=" + need +
                                        " (change it with kafka-configs.sh --alter, or delete "
                                        "the topic)");
    }
  }
  return Status::Ok();
}

Status KafkaAdmin::EnsureTopic(const TopicSpec& spec) {
  if (Status s = CreateTopic(spec); !s.ok()) return s;
  // Created now or before: either way it must have the shape asked for (a topic created now
  // has it, and checking costs two small requests at start only).
  return CheckTopic(spec);
}

Status CreateTopic(const KafkaClientOptions& options, const std::string& topic, int partitions,
                   int replication_factor, std::chrono::milliseconds timeout) {
  auto admin = KafkaAdmin::Open(options, timeout);
  if (!admin.ok()) return admin.status();
  return (*admin)->CreateTopic(
      {.name = topic, .partitions = partitions, .replication_factor = replication_factor});
}

}  // namespace klaxon::connectors
