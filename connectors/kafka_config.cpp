#include "connectors/kafka_config.h"

#include <librdkafka/rdkafkacpp.h>

#include <cstdio>

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
