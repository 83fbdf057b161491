// Logger: one line per event of interest, logfmt or JSON, with levels; the runtime's LogSink
// (service/log_sink.h). Thread-safe.
// Never given an event payload or a secret: callers pass only names, counts and reasons.
#pragma once

#include <initializer_list>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "engine/log_level.h"
#include "service/log_sink.h"

namespace klaxon::cli {

class Logger final : public service::LogSink {
 public:
  // `now` supplies the timestamp text; the run loop passes a wall-clock formatter.
  Logger(std::ostream& out, bool json, LogLevel min_level);

  void Log(LogLevel level, std::string_view msg, Fields fields = {}) override;

  static bool ParseLevel(std::string_view text, LogLevel* level);

 private:
  std::ostream& out_;
  bool json_;
  LogLevel min_level_;
  std::mutex mu_;
};

}  // namespace klaxon::cli
