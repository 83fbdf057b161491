#include "engine/time_format.h"

#include <chrono>
#include <cstdio>

namespace klaxon {

std::string FormatTimeMs(int64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{unix_ms}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> tod{tp - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), long(tod.hours().count()),
                long(tod.minutes().count()), long(tod.seconds().count()),
                long(tod.subseconds().count()));
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
