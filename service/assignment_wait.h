// AssignmentWait: says why a Kafka consumer has no partitions yet. After a restart without
// static membership the group may keep the partitions with the killed member until its session
// times out (45 s by default): without a word, the service looks hung (0 partitions, /-/ready
// 503). Told once per wait, after `delay_ms`, and once more when partitions arrive. The run
// loop calls Observe once per pass; one thread; no clock of its own.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace klaxon::service {

class AssignmentWait {
 public:
  // `session_timeout_ms`: the consumer's session.timeout.ms, named in the message.
  AssignmentWait(int64_t delay_ms, int64_t session_timeout_ms)
      : delay_ms_(delay_ms), session_timeout_ms_(session_timeout_ms) {}

  enum class Change { kNone, kWaiting, kAssigned };
  struct Note {
    Change change = Change::kNone;
    int64_t waited_ms = 0;  // since partitions were first missing
  };

  // `assigned`: the consumer has partitions now. Allocates nothing.
  Note Observe(bool assigned, int64_t now_ms);

  // Why there is nothing to read, for the kWaiting log line.
  std::string Reason() const;

 private:
  int64_t delay_ms_;
  int64_t session_timeout_ms_;
  int64_t since_ms_ = -1;  // -1: partitions are assigned (or none were ever missing)
  bool told_ = false;
};

// session.timeout.ms among the consumer's pass-through properties, or librdkafka's default.
int64_t SessionTimeoutMs(const std::map<std::string, std::string>& kafka_properties);

}  // namespace klaxon::service
