// RuntimeOptions: everything the runtime (service/runtime.h) is told, built by the composition
// root (cli/runtime_options.cpp from the YAML configuration). Paths are resolved already; the
// runtime reads no configuration file, environment variable or rule syntax itself.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actions/action.h"
#include "actions/dispatcher.h"
#include "actions/http_types.h"
#include "connectors/kafka_source.h"
#include "connectors/source.h"
#include "engine/engine.h"
#include "engine/rule.h"
#include "engine/status.h"
#include "ingest/sentry_ingest.h"
#include "service/decode_pool.h"

namespace klaxon::service {

// One generation of rules and the actions they name, as the rule loader builds them.
struct RuleBundle {
  RuleSet rules;
  std::vector<std::string> files;   // the rule files read
  std::vector<std::string> sha256;  // of each file's bytes, for the rule-file info metric
  std::vector<std::unique_ptr<actions::Action>> actions;  // one per rules.actions entry
};

// Reads, checks and builds the rules and their actions; called at start and at every reload
// (on the run loop's thread). An error keeps the previous rules.
using RuleLoader = std::function<Result<RuleBundle>()>;

// The Sentry endpoint's options, given the Kafka client it produces with (null: it queues
// events for `source: sentry`).
using SentryOptionsFn =
    std::function<Result<ingest::SentryIngestOptions>(const connectors::KafkaClientOptions*)>;

// Scale-out (docs/scale_out.md): stage 1 routes every (rule, group) through the repartition
// topic to the instance that owns it, stage 2 evaluates the partitions of it assigned here.
struct ScaleOutOptions {
  bool enabled = false;
  std::string application_id;  // names <application_id>-repartition and the consumer groups
  int partitions = 8;          // of the repartition topic
  bool warm_standby = false;   // follow the changelog of the tasks assigned elsewhere
  bool exactly_once = false;   // stage 1 in Kafka transactions (consume-transform-produce)
};

struct RuntimeOptions {
  RuleLoader load_rules;
  EngineOptions engine;
  std::string source_kind = "kafka";  // kafka | file | stdin | sentry
  // source kafka: the consumer (the runtime sets partition events, own-position resume and the
  // log callback); dead-lettered messages go to dead_letter_topic when it is not empty.
  connectors::KafkaSourceOptions kafka;
  std::string dead_letter_topic;
  // kafka.format sentry_ingest: each decode worker's converter of Relay's messages (empty: JSON).
  DecodePool::FormatFactory message_format;
  // Any other source_kind (file, stdin, a test's): the records, one ordered partition. cli opens
  // a FileSource. Kafka and the Sentry endpoint's queue are opened by the runtime: the Kafka
  // consumer starts at the checkpoint's offsets, and the queue belongs to the endpoint.
  std::unique_ptr<connectors::Source> source;
  SentryOptionsFn sentry;  // empty: no Sentry endpoint
  std::string outbox_path = "klaxon-outbox.db";
  std::string state_path;  // the checkpoint store (Kafka only); empty: no checkpoints
  // Start with empty state although the outbox shows an earlier run (`klaxon run --fresh-state`):
  // otherwise a missing state store beside an existing outbox stops the start (state lost).
  bool fresh_state = false;
  actions::DispatcherOptions delivery;  // silencer and log are set by the runtime
  // Sends the actions' requests (cli: a SafeHttpClient; tests: a fake). Shared so whoever made
  // it can still look at it; the runtime keeps it until its dispatcher has stopped.
  std::shared_ptr<actions::Transport> transport;
  int64_t drain_timeout_ms = 10000;
  std::string admin_listen = "127.0.0.1:9464";
  bool enable_reload_endpoint = false;
  std::string admin_token;  // bearer token for mutating admin requests; empty: none
  int64_t idle_tick_ms = 200;
  int64_t restore_horizon_ms = 3600000;
  int64_t max_partition_skew_ms = 0;      // 0: four times the allowed lateness, at least 10 s
  int64_t partition_idle_timeout_ms = 0;  // 0: the allowed lateness, at least 1 s
  // How long a partition restored from the checkpoint but assigned to no one holds event time
  // back (PartitionTime::Restore); cli: the group's session timeout plus 10 s.
  int64_t unassigned_partition_hold_ms = 0;
  int64_t future_limit_ms = kDefaultFutureLimitMs;
  int64_t checkpoint_interval_ms = 10000;
  ScaleOutOptions scale_out;  // enabled: kafka only, no state store
};

}  // namespace klaxon::service
