// The `klaxon run` configuration: one YAML file, `${VAR}` / `${VAR:-default}` interpolation in
// values, `KEY_file: PATH` beside any string KEY to read a secret from a file, and
// `--section.key=value` flags that override any setting. Every key is documented in
// docs/config.md; unknown keys are errors (a typo must not silently fall back to a default).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/duration.h"
#include "engine/engine.h"
#include "engine/status.h"

namespace klaxon::cli {

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
using FileReader = std::function<Result<std::string>(const std::string& path)>;

struct KafkaConfig {
  std::string brokers = "127.0.0.1:9092";
  std::vector<std::string> topics;
  std::string topic_regex;
  std::string group_id = "klaxon";
  std::string client_id = "klaxon";
  std::string security_protocol;  // plaintext, ssl, sasl_plaintext, sasl_ssl
  std::string sasl_mechanism;
  std::string sasl_username;
  std::string sasl_password;  // secret
  std::string ssl_ca_location;
  std::string ssl_certificate_location;
  std::string ssl_key_location;
  std::string ssl_key_password;  // secret
  int64_t statistics_interval_ms = 5000;
  // Messages a partition paused for alignment keeps prefetched (KafkaSourceOptions).
  int64_t paused_prefetch_messages = 2000;
  std::string dead_letter_topic;
  std::map<std::string, std::string> properties;  // any librdkafka property, applied last
  // json: one event JSON per message; sentry_ingest: Relay's msgpack messages on a
  // self-hosted Sentry's ingest-events topic (connectors/sentry_ingest_format.h).
  std::string format = "json";
};

struct FileSourceConfig {
  std::string path = "-";
  bool follow = false;
};

// `sentry:`: Sentry's ingestion endpoint (ingest/). With `source: sentry` its events feed the
// pipeline; beside `source: kafka` it produces each event to the first of kafka.topics.
struct SentryProjectConfig {
  int64_t id = 0;
  std::string name;
  std::vector<std::string> keys;
  double rate_per_second = 0;  // `rate_limit`; 0: unlimited
  int64_t burst = 0;           // 0: one second's worth of rate_limit
};

struct SentryConfig {
  bool enabled = false;  // a `sentry:` block is present (or source: sentry)
  std::string listen = "127.0.0.1:9000";
  std::vector<SentryProjectConfig> projects;
  size_t max_request_bytes = size_t{20} << 20;  // a body, compressed and decoded
  size_t max_event_bytes = size_t{1} << 20;     // one event item or store body
  int threads = 32;
  int64_t read_timeout_ms = 5000;
  int64_t request_timeout_ms = 30000;
  int64_t queue_size = 10000;             // source: sentry
  size_t queue_bytes = size_t{64} << 20;  // source: sentry
  int64_t ack_timeout_ms = 10000;         // source: kafka: the broker's acknowledgement
  std::string capture;  // a JSON Lines file receiving every accepted event (debugging)
};

// `scale_out:`: several instances share the evaluation through Kafka (docs/scale_out.md).
struct ScaleOutConfig {
  bool enabled = false;
  std::string application_id;  // "": kafka.group_id; names the internal topics and groups
  int partitions = 8;          // of the repartition topic: at most this many instances evaluate
  bool warm_standby = false;   // keep the state of the tasks assigned elsewhere ready
  bool exactly_once = false;   // stage 1 in Kafka transactions: nothing re-sent after a failover
};

struct Config {
  std::string base_dir;  // the config file's folder; relative paths resolve against it
  std::vector<std::string> rules;
  std::string source_kind = "kafka";  // kafka | file | stdin | sentry
  KafkaConfig kafka;
  SentryConfig sentry;
  FileSourceConfig file;
  EngineOptions engine;
  std::string outbox_path = "klaxon-outbox.db";
  int64_t outbox_max_age_ms = 3600000;
  int64_t drain_timeout_ms = 10000;
  int workers = 2;
  int64_t connect_timeout_ms = 5000;
  int64_t read_timeout_ms = 15000;
  int64_t request_deadline_ms = 30000;  // a whole request: connect, send, headers and body
  int64_t max_retry_after_ms = 300000;  // Retry-After is honoured up to this
  int64_t stop_grace_ms = 1000;         // requests still running at stop get this long
  int64_t warning_interval_ms = 10000;  // repeated delivery warnings: one line per interval
  std::vector<std::string> http_allow;  // CIDRs or hosts allowed despite the SSRF deny list
  std::string admin_listen = "127.0.0.1:9464";
  bool enable_reload_endpoint = false;
  // Bearer token for mutating admin requests (reload, silences); required for them beyond
  // loopback.
  std::string admin_token_file;
  std::string log_format = "logfmt";  // logfmt | json
  std::string log_level = "info";     // debug | info | warn | error
  int64_t idle_tick_ms = 200;         // how often the wall clock advances the engine when idle
  // How much event time a restart re-reads to rebuild window state (offsets are committed this
  // far behind the watermark, at most); see docs/operations.md.
  int64_t restore_horizon_ms = 3600000;
  // A Kafka partition whose event time runs this far ahead of the slowest is paused until the
  // others catch up (event-time alignment); 0: four times the allowed lateness, at least 10 s.
  int64_t max_partition_skew_ms = 0;
  // A caught-up Kafka partition stops holding event time back after this long without records;
  // 0: the allowed lateness, at least 1 s.
  int64_t partition_idle_timeout_ms = 0;
  // Events stamped more than this ahead of the machine's clock are rejected (future_timestamp).
  int64_t future_limit_ms = kDefaultFutureLimitMs;
  // Checkpoints of the engine's state and the Kafka offsets it covers (service/state_store.h).
  bool state_enabled = true;
  std::string state_path;  // "": the outbox path + ".state"
  int64_t checkpoint_interval_ms = 10000;
  ScaleOutConfig scale_out;
};

// ParseConfig's work keeping everything: the configuration as far as it could be read (defaults
// where a value was wrong) and every problem, one line each, as ParseConfig lists them.
struct ParsedConfig {
  Config config;
  std::vector<std::string> problems;  // empty: valid
  bool structure_ok = false;          // the YAML parsed into a mapping (keys were read)
};
ParsedConfig ParseConfigProblems(const std::string& text,
                                 const std::map<std::string, std::string>& overrides,
                                 const EnvLookup& env, const FileReader& read_file,
                                 const std::string& file_name = "");

// Parses `text` (YAML) with `overrides` ("section.key" -> value, from flags) applied on top.
// Every problem is reported at once, one per line, as `FILE:LINE:COL: key: message` in file
// order (`file_name` may be empty; problems in flags have no position).
Result<Config> ParseConfig(const std::string& text,
                           const std::map<std::string, std::string>& overrides,
                           const EnvLookup& env, const FileReader& read_file,
                           const std::string& file_name = "");

// Expands ${VAR} and ${VAR:-default}; `$$` is a literal `$`. An unset variable without a
// default is an error naming it.
Result<std::string> Interpolate(const std::string& value, const EnvLookup& env);

// Durations ("30s", "5min", "1h30m") are parsed by engine/duration.h's ParseDurationMs, the
// same parser as rule files'.

// A whole number from `min` to `max`: "out of range" otherwise, never an overflow.
Result<int64_t> ParseCount(const std::string& text, int64_t min, int64_t max);

// `rate_limit`: "100/s", "6000/min", "100000/h" -> events per second.
Result<double> ParseRate(const std::string& text);

// Largest size ParseBytes accepts.
constexpr int64_t kMaxBytes = int64_t{1} << 40;

// "1MiB", "512KiB", "1000000" -> bytes; "out of range" beyond kMaxBytes.
Result<int64_t> ParseBytes(const std::string& text);

}  // namespace klaxon::cli
