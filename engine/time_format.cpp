#include "engine/time_format.h"

#include <cstdio>

namespace klaxon {

namespace {

struct Civil {
  int64_t year;
  unsigned month;
  unsigned day;
};

// Howard Hinnant's civil_from_days over int64: std::chrono::year stops at 32767, and event
// times reach far past it.
Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

}  // namespace

std::string FormatTimeMs(int64_t unix_ms) {
  constexpr int64_t kMsPerDay = 86400000;
  int64_t days = unix_ms / kMsPerDay;  // floor division, without overflow at INT64_MIN
  int64_t ms_of_day = unix_ms % kMsPerDay;
  if (ms_of_day < 0) {
    --days;
    ms_of_day += kMsPerDay;
  }
  const Civil c = CivilFromDays(days);
  // RFC 3339 has four year digits; outside 0000-9999 the expanded ISO 8601 form that
  // JavaScript's toISOString prints: a sign and at least six digits.
  const char* year_format = c.year >= 0 && c.year <= 9999 ? "%04lld" : "%+07lld";
  char year[24];
  std::snprintf(year, sizeof year, year_format, static_cast<long long>(c.year));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%02u-%02uT%02d:%02d:%02d.%03dZ", year, c.month, c.day,
                static_cast<int>(ms_of_day / 3600000), static_cast<int>(ms_of_day / 60000 % 60),
                static_cast<int>(ms_of_day / 1000 % 60), static_cast<int>(ms_of_day % 1000));
  return buf;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  struct Unit {
    int64_t ms;
    const char* name;
  };
  constexpr Unit kUnits[] = {{604800000, "w"}, {86400000, "d"}, {3600000, "h"}, {60000, "m"}};
  for (const Unit& u : kUnits) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
    }
  }
  if (ms > 0) {
    if (ms % 1000 == 0) {
      out += std::to_string(ms / 1000) + "s";
    } else if (ms < 1000) {
      out += std::to_string(ms) + "ms";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%lld.%03llds", static_cast<long long>(ms / 1000),
                    static_cast<long long>(ms % 1000));
      std::string s = buf;
      while (s[s.size() - 2] == '0') s.erase(s.size() - 2, 1);  // 1.500s -> 1.5s
      out += s;
    }
  }
  return out;
}

}  // namespace klaxon
