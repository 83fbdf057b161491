// LogSink: where the runtime writes its log lines (a level, a message, named fields). The
// composition root gives it one (cli's Logger: logfmt or JSON); tests give one that records.
// Never given an event payload or a secret: callers pass only names, counts and reasons.
// Implementations must be thread-safe (delivery and Kafka threads log too).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "engine/log_level.h"

namespace klaxon::service {

class LogSink {
 public:
  using Fields = std::initializer_list<std::pair<std::string_view, std::string>>;

  virtual ~LogSink() = default;
  virtual void Log(LogLevel level, std::string_view msg, Fields fields = {}) = 0;

  void Debug(std::string_view msg, Fields f = {}) { Log(LogLevel::kDebug, msg, f); }
  void Info(std::string_view msg, Fields f = {}) { Log(LogLevel::kInfo, msg, f); }
  void Warn(std::string_view msg, Fields f = {}) { Log(LogLevel::kWarn, msg, f); }
  void Error(std::string_view msg, Fields f = {}) { Log(LogLevel::kError, msg, f); }
};

}  // namespace klaxon::service
