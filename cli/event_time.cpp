#include "cli/event_time.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>

namespace klaxon::cli {

Result<int64_t> ParseEventTime(std::string_view text) {
  const std::string s(text);
  auto invalid = [&] {
    return Status::InvalidArgument("invalid time '" + s +
                                   "' (use RFC 3339 like 2025-11-25T00:00:00Z or Unix seconds)");
  };
  if (s.empty()) return invalid();
  if (s.find('-', 1) == std::string::npos || s.find('T') == std::string::npos) {
    // Unix seconds with up to millisecond precision, parsed as decimal text.
    size_t i = 0;
    int64_t seconds = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (i > 12) return invalid();
      seconds = seconds * 10 + (s[i++] - '0');
    }
    if (i == 0) return invalid();
    int64_t millis = 0;
    if (i < s.size()) {
      if (s[i++] != '.') return invalid();
      int digits = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        if (digits < 3) millis = millis * 10 + (s[i] - '0');
        ++digits;
        ++i;
      }
      if (digits == 0 || i != s.size()) return invalid();
      for (int d = digits; d < 3; ++d) millis *= 10;
    }
    return seconds * 1000 + millis;
  }
  int year = 0;
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2u-%2uT%2u:%2u:%2u%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6) {
    return invalid();
  }
  size_t i = static_cast<size_t>(consumed);
  int64_t millis = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (digits < 3) millis = millis * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return invalid();
    for (int d = digits; d < 3; ++d) millis *= 10;
  }
  int64_t offset_minutes = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    unsigned oh = 0, om = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2u:%2u", &oh, &om) != 2 || oh > 23 || om > 59) {
      return invalid();
    }
    offset_minutes = (s[i] == '+' ? 1 : -1) * static_cast<int64_t>(oh * 60 + om);
    i += 6;
  } else {
    return invalid();
  }
  if (i != s.size()) return invalid();
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year{year}, std::chrono::month{month},
                           std::chrono::day{day}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return invalid();
  const int64_t days = sys_days{ymd}.time_since_epoch().count();
  return ((days * 24 + hour) * 60 + minute) * 60000 + second * 1000 + millis -
         offset_minutes * 60000;
}

}  // namespace klaxon::cli
