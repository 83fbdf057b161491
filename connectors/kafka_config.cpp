#include "connectors/kafka_config.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <span>
#include <sstream>

namespace klaxon::connectors {

Status CheckKafkaProperty(const std::string& key, const std::string& value) {
  if (key == "enable.auto.offset.store" && value != "false") {
    return Status::InvalidArgument(
        "kafka property enable.auto.offset.store: must stay false, Klaxon stores offsets only "
        "after their events are processed (at-least-once)");
  }
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (!conf) return Status::Internal("kafka: cannot create a configuration");
  return internal::SetProperty(*conf, key, value);
}

namespace {

// The properties librdkafka documents as consumer-only ("C" in the C/P column of the table it
// prints, CONFIGURATION.md); it has no other way to tell a property's scope.
std::set<std::string> ConsumerOnlyProperties() {
  char* text = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  if (out == nullptr) return {};
  rd_kafka_conf_properties_show(out);
  std::fclose(out);
  std::istringstream lines(std::string(text, size));
  std::free(text);
  std::set<std::string> consumer_only;
  for (std::string line; std::getline(lines, line);) {
    // "group.instance.id    |  C  | ..."
    const size_t bar = line.find('|');
    if (bar == std::string::npos || line.compare(bar, 7, "|  C  |") != 0) continue;
    const size_t end = line.find(' ');
    consumer_only.insert(line.substr(0, std::min(end, bar)));
  }
  return consumer_only;
}

void IgnoreLog(const rd_kafka_t*, int, const char*, const char*) {}

}  // namespace

std::map<std::string, std::string> ProducerProperties(
    const std::map<std::string, std::string>& properties) {
  const std::set<std::string> consumer_only = ConsumerOnlyProperties();
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : properties) {
    if (consumer_only.count(key) == 0) out.emplace(key, value);
  }
  return out;
}

Status CheckKafkaClient(const KafkaClientOptions& options, KafkaClientKind kind) {
  const bool consumer = kind == KafkaClientKind::kConsumer;
  KafkaClientOptions judged = options;
  if (!consumer) judged.properties = ProducerProperties(options.properties);
  auto conf = internal::NewGlobalConf(judged);
  if (!conf.ok()) return conf.status();
  if (consumer) {
    if (Status s = internal::SetProperty(**conf, "group.id", "klaxon-check"); !s.ok()) return s;
  }
  using Settings = std::span<const std::pair<const char*, const char*>>;
  for (const auto& [key, value] : consumer ? Settings(internal::kConsumerBufferSettings)
                                           : Settings(internal::kProducerDefaults)) {
    if (Status s = internal::SetProperty(**conf, key, value); !s.ok()) return s;
  }
  if (Status s = internal::ApplyProperties(**conf, judged.properties); !s.ok()) return s;
  rd_kafka_conf_t* copy = rd_kafka_conf_dup((*conf)->c_ptr_global());
  rd_kafka_conf_set_log_cb(copy, IgnoreLog);  // warnings are for the real client to give
  char error[512] = "";
  rd_kafka_t* client =
      rd_kafka_new(consumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, copy, error, sizeof(error));
  if (client == nullptr) {
    rd_kafka_conf_destroy(copy);  // rd_kafka_new owns it only on success
    return Status::InvalidArgument(error);
  }
  rd_kafka_destroy(client);
  return Status::Ok();
}

}  // namespace klaxon::connectors

namespace klaxon::connectors::internal {
namespace {

bool IsSecret(const std::string& key) {
  return key.find("password") != std::string::npos || key.find("secret") != std::string::npos ||
         key.find("key.pem") != std::string::npos || key == "ssl.key.pem" ||
         key.find("token") != std::string::npos;
}

}  // namespace

Status SetProperty(RdKafka::Conf& conf, const std::string& key, const std::string& value) {
  std::string error;
  if (conf.set(key, value, error) != RdKafka::Conf::CONF_OK) {
    // librdkafka's message may quote the value: keep secrets out of it.
    if (IsSecret(key)) error = "invalid value";
    return Status::InvalidArgument("kafka property " + key + ": " + error);
  }
  return Status::Ok();
}

Status ApplyProperties(RdKafka::Conf& conf, const std::map<std::string, std::string>& properties) {
  for (const auto& [key, value] : properties) {
    if (Status s = SetProperty(conf, key, value); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::unique_ptr<RdKafka::Conf>> NewGlobalConf(const KafkaClientOptions& options) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (!conf) return Status::Internal("kafka: cannot create a configuration");
  // Brokers may also come from the pass-through map (bootstrap.servers), applied later.
  const bool brokers_in_properties = options.properties.count("bootstrap.servers") > 0 ||
                                     options.properties.count("metadata.broker.list") > 0;
  if (options.brokers.empty() && !brokers_in_properties) {
    return Status::InvalidArgument("kafka: no brokers configured");
  }
  const KafkaSecurity& sec = options.security;
  const std::pair<const char*, const std::string*> typed[] = {
      {"bootstrap.servers", &options.brokers},
      {"client.id", &options.client_id},
      {"security.protocol", &sec.protocol},
      {"sasl.mechanism", &sec.sasl_mechanism},
      {"sasl.username", &sec.sasl_username},
      {"sasl.password", &sec.sasl_password},
      {"ssl.ca.location", &sec.ssl_ca_location},
      {"ssl.certificate.location", &sec.ssl_certificate_location},
      {"ssl.key.location", &sec.ssl_key_location},
      {"ssl.key.password", &sec.ssl_key_password},
  };
  for (const auto& [key, value] : typed) {
    if (value->empty()) continue;
    if (Status s = SetProperty(*conf, key, *value); !s.ok()) return s;
  }
  if (!sec.ssl_verify_hostname) {
    if (Status s = SetProperty(*conf, "ssl.endpoint.identification.algorithm", "none"); !s.ok()) {
      return s;
    }
  }
  return conf;
}

void Log(const LogFn& log, LogLevel level, std::string_view message) {
  if (log) {
    log(level, message);
    return;
  }
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  std::fprintf(stderr, "level=%s component=kafka msg=\"%.*s\"\n", kNames[static_cast<int>(level)],
               static_cast<int>(message.size()), message.data());
}

}  // namespace klaxon::connectors::internal
