#include "service/assignment_wait.h"

#include <charconv>

#include "engine/time_format.h"

namespace klaxon::service {

AssignmentWait::Note AssignmentWait::Observe(bool assigned, int64_t now_ms) {
  if (assigned) {
    if (since_ms_ < 0) return {};
    const Note note{told_ ? Change::kAssigned : Change::kNone, now_ms - since_ms_};
    since_ms_ = -1;
    told_ = false;
    return note;
  }
  if (since_ms_ < 0) since_ms_ = now_ms;
  if (told_ || now_ms - since_ms_ < delay_ms_) return {};
  told_ = true;
  return {Change::kWaiting, now_ms - since_ms_};
}

std::string AssignmentWait::Reason() const {
  return "the consumer group has assigned no partition yet; a member that stopped without "
         "leaving the group (a killed instance) keeps its partitions until its session times "
         "out (session.timeout.ms, " +
         FormatDurationMs(session_timeout_ms_) +
         "); kafka.properties group.instance.id (static membership) lets a restart take them "
         "over at once. Kafka warnings in this log tell when the brokers are out of reach "
         "instead";
}

int64_t SessionTimeoutMs(const std::map<std::string, std::string>& kafka_properties) {
  constexpr int64_t kLibrdkafkaDefaultMs = 45000;
  const auto it = kafka_properties.find("session.timeout.ms");
  if (it == kafka_properties.end()) return kLibrdkafkaDefaultMs;
  int64_t ms = 0;
  const char* end = it->second.data() + it->second.size();
  const auto [ptr, ec] = std::from_chars(it->second.data(), end, ms);
  return ec == std::errc() && ptr == end ? ms : kLibrdkafkaDefaultMs;
}

}  // namespace klaxon::service
