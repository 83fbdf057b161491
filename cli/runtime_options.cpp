#include "cli/runtime_options.h"

#include <map>
#include <sstream>
#include <utility>

#include "actions/http_client.h"
#include "cli/preflight.h"
#include "cli/rule_files.h"
#include "cli/secrets.h"
#include "cli/sentry_options.h"
#include "connectors/file_source.h"
#include "connectors/sentry_ingest_format.h"
#include "service/assignment_wait.h"

namespace klaxon::cli {
namespace {

Result<service::RuleBundle> LoadRuleBundle(const std::vector<std::string>& paths,
                                           const EnvLookup& env, const std::string& base_dir) {
  std::ostringstream diagnostics;
  Result<LoadedRules> files = LoadRules(paths, diagnostics);
  if (!files.ok()) {
    std::string text = diagnostics.str();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return Status::InvalidArgument(files.status().message() + (text.empty() ? "" : "\n" + text));
  }
  // As at start (cli/preflight.cpp): a reload to files without rules keeps the rules running.
  if (files->rules.rules.empty()) {
    return Status::InvalidArgument(NoRulesIn(files->files) + ": nothing to evaluate");
  }
  service::RuleBundle bundle;
  bundle.rules = std::move(files->rules);
  bundle.files = std::move(files->files);
  bundle.sha256 = std::move(files->sha256);
  actions::SecretResolver secrets = MakeSecretResolver(env, base_dir);
  actions::ActionOptions action_options;
  for (const ActionDef& def : bundle.rules.actions) {
    Result<std::unique_ptr<actions::Action>> a =
        actions::CreateAction(def, secrets, action_options);
    if (!a.ok()) {
      return Status::InvalidArgument("action " + def.name + ": " + a.status().message());
    }
    bundle.actions.push_back(std::move(a).value());
  }
  return bundle;
}

}  // namespace

connectors::KafkaSourceOptions KafkaOptionsFrom(const KafkaConfig& kafka) {
  connectors::KafkaClientOptions client_options;
  client_options.brokers = kafka.brokers;
  client_options.client_id = kafka.client_id;
  client_options.security.protocol = kafka.security_protocol;
  client_options.security.sasl_mechanism = kafka.sasl_mechanism;
  client_options.security.sasl_username = kafka.sasl_username;
  client_options.security.sasl_password = kafka.sasl_password;
  client_options.security.ssl_ca_location = kafka.ssl_ca_location;
  client_options.security.ssl_certificate_location = kafka.ssl_certificate_location;
  client_options.security.ssl_key_location = kafka.ssl_key_location;
  client_options.security.ssl_key_password = kafka.ssl_key_password;
  client_options.properties = kafka.properties;
  connectors::KafkaSourceOptions options;
  options.client = client_options;
  options.topics = kafka.topics;
  if (!kafka.topic_regex.empty()) {
    std::string regex = kafka.topic_regex;
    if (regex[0] != '^') regex = "^" + regex;
    options.topics.push_back(regex);
  }
  options.group_id = kafka.group_id;
  options.statistics_interval_ms = static_cast<int>(kafka.statistics_interval_ms);
  options.paused_prefetch_messages = static_cast<int>(kafka.paused_prefetch_messages);
  return options;
}

namespace {

// A killed process stays a member of the consumer group for its session timeout; a partition
// not assigned waits that long, and a rebalance more.
int64_t UnassignedPartitionHoldMs(const std::map<std::string, std::string>& properties) {
  return service::SessionTimeoutMs(properties) + 10000;
}

}  // namespace

Result<service::RuntimeOptions> RuntimeOptionsFrom(const Config& config, const EnvLookup& env) {
  service::RuntimeOptions o;
  std::vector<std::string> paths;
  for (const std::string& p : config.rules) paths.push_back(ResolvePath(config.base_dir, p));
  o.load_rules = [paths, env, base_dir = config.base_dir] {
    return LoadRuleBundle(paths, env, base_dir);
  };
  o.engine = config.engine;
  o.source_kind = config.source_kind;
  o.kafka = KafkaOptionsFrom(config.kafka);
  o.dead_letter_topic = config.kafka.dead_letter_topic;
  if (config.source_kind == "kafka" && config.kafka.format == "sentry_ingest") {
    std::map<int64_t, std::string> names;
    for (const SentryProjectConfig& p : config.sentry.projects) names[p.id] = p.name;
    o.message_format = [names] { return std::make_unique<connectors::SentryIngestFormat>(names); };
  }
  if (config.source_kind == "file" || config.source_kind == "stdin") {
    connectors::FileSourceOptions file;
    file.path =
        config.source_kind == "stdin" ? "-" : ResolvePath(config.base_dir, config.file.path);
    file.follow = config.file.follow;
    file.max_line_bytes = config.engine.max_event_bytes + 1;
    Result<std::unique_ptr<connectors::FileSource>> source = connectors::FileSource::Open(file);
    if (!source.ok()) return source.status();
    o.source = std::move(source).value();
  }
  if (config.sentry.enabled) {
    o.sentry = [config](const connectors::KafkaClientOptions* kafka) {
      return SentryIngestOptionsFrom(config, kafka);
    };
  }
  o.outbox_path = ResolvePath(config.base_dir, config.outbox_path);
  // Scale-out keeps its windows in memory only for now (docs/scale_out.md): no checkpoints.
  if (config.state_enabled && !config.scale_out.enabled) {
    o.state_path =
        ResolvePath(config.base_dir,
                    config.state_path.empty() ? config.outbox_path + ".state" : config.state_path);
  }
  o.delivery.workers = config.workers;
  o.delivery.max_age_ms = config.outbox_max_age_ms;
  o.delivery.max_retry_after_ms = config.max_retry_after_ms;
  o.delivery.stop_grace_ms = config.stop_grace_ms;
  o.delivery.warning_interval_ms = config.warning_interval_ms;
  actions::HttpClientOptions http;
  http.connect_timeout_ms = config.connect_timeout_ms;
  http.default_read_timeout_ms = config.read_timeout_ms;
  http.request_deadline_ms = config.request_deadline_ms;
  http.allow = config.http_allow;
  Result<std::unique_ptr<actions::SafeHttpClient>> client = actions::SafeHttpClient::Create(http);
  if (!client.ok()) return client.status();
  o.transport = std::move(client).value();
  o.drain_timeout_ms = config.drain_timeout_ms;
  o.admin_listen = config.admin_listen;
  o.enable_reload_endpoint = config.enable_reload_endpoint;
  if (!config.admin_token_file.empty()) {
    Result<std::string> token =
        ReadSecretFile(ResolvePath(config.base_dir, config.admin_token_file));
    if (!token.ok())
      return Status::InvalidArgument("admin.token_file: " + token.status().message());
    std::string t = std::move(token).value();
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (t.empty()) return Status::InvalidArgument("admin.token_file: the file is empty");
    o.admin_token = std::move(t);
  }
  o.idle_tick_ms = config.idle_tick_ms;
  o.restore_horizon_ms = config.restore_horizon_ms;
  o.max_partition_skew_ms = config.max_partition_skew_ms;
  o.partition_idle_timeout_ms = config.partition_idle_timeout_ms;
  o.unassigned_partition_hold_ms = UnassignedPartitionHoldMs(config.kafka.properties);
  o.future_limit_ms = config.future_limit_ms;
  o.checkpoint_interval_ms = config.checkpoint_interval_ms;
  o.scale_out.enabled = config.scale_out.enabled;
  o.scale_out.application_id = config.scale_out.application_id.empty()
                                   ? config.kafka.group_id
                                   : config.scale_out.application_id;
  o.scale_out.partitions = config.scale_out.partitions;
  o.scale_out.warm_standby = config.scale_out.warm_standby;
  o.scale_out.exactly_once = config.scale_out.exactly_once;
  return o;
}

}  // namespace klaxon::cli
