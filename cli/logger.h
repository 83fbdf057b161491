// Logger: one line per event of interest, logfmt or JSON, with levels. Thread-safe.
// Never given an event payload or a secret: callers pass only names, counts and reasons.
#pragma once

#include <initializer_list>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "engine/log_level.h"

namespace klaxon::cli {

class Logger {
 public:
  using Fields = std::initializer_list<std::pair<std::string_view, std::string>>;

  // `now` supplies the timestamp text; the run loop passes a wall-clock formatter.
  Logger(std::ostream& out, bool json, LogLevel min_level);

  void Log(LogLevel level, std::string_view msg, Fields fields = {});
  void Debug(std::string_view msg, Fields f = {}) { Log(LogLevel::kDebug, msg, f); }
  void Info(std::string_view msg, Fields f = {}) { Log(LogLevel::kInfo, msg, f); }
  void Warn(std::string_view msg, Fields f = {}) { Log(LogLevel::kWarn, msg, f); }
  void Error(std::string_view msg, Fields f = {}) { Log(LogLevel::kError, msg, f); }

  static bool ParseLevel(std::string_view text, LogLevel* level);

 private:
  std::ostream& out_;
  bool json_;
  LogLevel min_level_;
  std::mutex mu_;
};

}  // namespace klaxon::cli
