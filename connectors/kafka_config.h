// Settings shared by Klaxon's Kafka clients (the consumer source, the dead-letter producer and
// the test/bench producer), and how they become librdkafka properties.
//
// Typed fields are applied first and the pass-through `properties` last, so any librdkafka
// property (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md) can be set
// or overridden. Values of secret properties never appear in error messages.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "engine/log_level.h"
#include "engine/status.h"

namespace RdKafka {
class Conf;
}

namespace klaxon::connectors {

// Receives the Kafka clients' log lines (librdkafka logs, transient errors). Called on the
// thread that polls the client. When empty, lines go to stderr.
using LogFn = std::function<void(LogLevel level, std::string_view message)>;

// TLS and SASL; empty fields are not set (librdkafka defaults apply).
struct KafkaSecurity {
  std::string protocol;        // security.protocol: plaintext, ssl, sasl_plaintext, sasl_ssl
  std::string sasl_mechanism;  // sasl.mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, ...
  std::string sasl_username;
  std::string sasl_password;
  std::string ssl_ca_location;
  std::string ssl_certificate_location;
  std::string ssl_key_location;
  std::string ssl_key_password;
  bool ssl_verify_hostname = true;  // ssl.endpoint.identification.algorithm=https|none
};

struct KafkaClientOptions {
  std::string brokers;  // bootstrap.servers
  std::string client_id = "klaxon";
  KafkaSecurity security;
  std::map<std::string, std::string> properties;  // any librdkafka property, applied last
  LogFn log;
};

// What the consumer would say about one pass-through property (`kafka.properties` of a
// configuration): unknown to librdkafka, a value it rejects, or
// enable.auto.offset.store=true, which Klaxon refuses. Builds a librdkafka configuration
// object only; no broker is contacted. The message is the one KafkaSource::Start returns.
Status CheckKafkaProperty(const std::string& key, const std::string& value);

enum class KafkaClientKind { kConsumer, kProducer };

// What librdkafka would refuse when creating the client from its complete configuration:
// consistency between properties (fetch.max.bytes >= message.max.bytes, ...) is only checked
// there, not property by property. Creates the client and destroys it at once: nothing waits
// for a broker (a few ms, with an unreachable one too). The consumer is judged with
// the group id and the buffer sizes KafkaSource sets, the producer as the dead-letter producer
// (only its properties, see ProducerProperties). The message is librdkafka's.
Status CheckKafkaClient(const KafkaClientOptions& options, KafkaClientKind kind);

// The pass-through properties that apply to a producer: the consumer-only ones (group.id,
// group.instance.id, fetch.max.bytes, ..., as librdkafka documents each property's scope) are
// left out, so the dead-letter producer shares kafka.properties without warnings.
std::map<std::string, std::string> ProducerProperties(
    const std::map<std::string, std::string>& properties);

namespace internal {

// A Conf with brokers, client id and security set; properties are applied by ApplyProperties.
Result<std::unique_ptr<RdKafka::Conf>> NewGlobalConf(const KafkaClientOptions& options);
Status SetProperty(RdKafka::Conf& conf, const std::string& key, const std::string& value);
Status ApplyProperties(RdKafka::Conf& conf, const std::map<std::string, std::string>& properties);
// Settings KafkaSource gives the consumer besides the group's, that librdkafka weighs against
// the user's properties (fetch sizes): CheckKafkaClient judges with them.
inline constexpr std::pair<const char*, const char*> kConsumerBufferSettings[] = {
    {"queued.max.messages.kbytes", "262144"}, {"queued.min.messages", "1000000"}};
// What KafkaProducer sets before the pass-through properties (which may override them).
inline constexpr std::pair<const char*, const char*> kProducerDefaults[] = {{"acks", "all"},
                                                                            {"linger.ms", "5"}};
void Log(const LogFn& log, LogLevel level, std::string_view message);

}  // namespace internal
}  // namespace klaxon::connectors
