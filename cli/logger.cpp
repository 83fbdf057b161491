#include "cli/logger.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "engine/time_format.h"

namespace klaxon::cli {
namespace {

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// logfmt: bare when safe, else quoted with \" and \\ escaped.
std::string LogfmtValue(std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      quote = true;
    }
  }
  if (!quote) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

}  // namespace

Logger::Logger(std::ostream& out, bool json, LogLevel min_level)
    : out_(out), json_(json), min_level_(min_level) {}

bool Logger::ParseLevel(std::string_view text, LogLevel* level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (text == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

void Logger::Log(LogLevel level, std::string_view msg, Fields fields) {
  if (level < min_level_) return;
  // Logs are the one place outside the run loop that reads the wall clock: a log line's time
  // is when it was written.
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::string line;
  if (json_) {
    nlohmann::ordered_json j;
    j["ts"] = FormatTimeMs(now);
    j["level"] = LevelName(level);
    j["msg"] = msg;
    for (const auto& [k, v] : fields) j[std::string(k)] = v;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = "ts=" + FormatTimeMs(now) + " level=" + LevelName(level) + " msg=" + LogfmtValue(msg);
    for (const auto& [k, v] : fields) {
      line += " ";
      line += k;
      line += "=" + LogfmtValue(v);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  out_ << line << "\n" << std::flush;
}

}  // namespace klaxon::cli
