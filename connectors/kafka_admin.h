// KafkaAdmin: the topics Klaxon creates and relies on, through librdkafka's Admin API.
//
// Scale-out (docs/scale_out.md) needs internal topics with an exact shape: the repartition topic
// with as many partitions as there are tasks (a different count moves every (rule, group) to
// another owner) and the changelog compacted (otherwise it grows without bound and restores
// slowly). EnsureTopic creates a missing topic with that shape and refuses an existing one
// that differs, naming the topic, what it has and what is needed: such a topic is never used
// silently, nor altered behind the operator's back.
//
// Every call gives up after the timeout given to Open with Unavailable, naming the brokers, so
// an unreachable cluster is an error, not a hang. Not thread-safe: one thread uses an instance.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "connectors/kafka_config.h"
#include "engine/status.h"

namespace klaxon::connectors {

class KafkaProducer;

struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication_factor = -1;  // -1: the broker's default.replication.factor
  // Set when the topic is created, and required of an existing topic (cleanup.policy is
  // compared as a set: "compact,delete" is not "compact").
  std::map<std::string, std::string> configs = {};
  // Set when the topic is created only: tuning an operator may change later.
  std::map<std::string, std::string> created_with = {};
};

class KafkaAdmin {
 public:
  // Connects lazily: Open fails only on bad settings (InvalidArgument).
  static Result<std::unique_ptr<KafkaAdmin>> Open(
      const KafkaClientOptions& options,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~KafkaAdmin();
  KafkaAdmin(const KafkaAdmin&) = delete;
  KafkaAdmin& operator=(const KafkaAdmin&) = delete;

  // OK when the topic exists (created now, or before) with spec's partitions and configs.
  // FailedPrecondition for an existing topic that differs; InvalidArgument when the brokers
  // refuse the spec (a replication factor above the broker count, an unknown config);
  // Unavailable when the brokers do not answer within the timeout.
  Status EnsureTopic(const TopicSpec& spec);
  // Creates the topic; OK when it exists already, whatever its shape.
  Status CreateTopic(const TopicSpec& spec);
  // The topic's partition count from the cluster's metadata; NotFound when it does not exist.
  Result<int> PartitionCount(const std::string& topic);
  // The topic's configs as the brokers report them (DescribeConfigs): every name with its value,
  // defaults included; NotFound when the topic does not exist.
  Result<std::map<std::string, std::string>> TopicConfigs(const std::string& topic);

 private:
  KafkaAdmin(std::string brokers, std::chrono::milliseconds timeout,
             std::unique_ptr<KafkaProducer> client);
  Status CheckTopic(const TopicSpec& spec);
  Status NoAnswer(const std::string& what) const;

  std::string brokers_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<KafkaProducer> client_;  // any client handle runs admin requests
};

// Creates a topic with `partitions` partitions; OK if it already exists (tests, benchmarks).
// (Brokers with auto.create.topics.enable create topics with their default count on first use.)
Status CreateTopic(const KafkaClientOptions& options, const std::string& topic, int partitions,
                   int replication_factor = 1,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace klaxon::connectors
