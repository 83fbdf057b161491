#include "engine/duration.h"

#include <array>
#include <charconv>

#include "engine/closest_match.h"

namespace klaxon {
namespace {

struct Unit {
  std::string_view name;
  int64_t ms;
};

constexpr int64_t kMinute = 60 * kMillisPerSecond;
constexpr int64_t kHour = 60 * kMinute;

// Ordered so that a suggestion prefers the short spelling among equally close ones.
constexpr std::array kUnits = {
    Unit{"s", kMillisPerSecond},
    Unit{"sec", kMillisPerSecond},
    Unit{"secs", kMillisPerSecond},
    Unit{"second", kMillisPerSecond},
    Unit{"seconds", kMillisPerSecond},
    Unit{"m", kMinute},
    Unit{"min", kMinute},
    Unit{"mins", kMinute},
    Unit{"minute", kMinute},
    Unit{"minutes", kMinute},
    Unit{"h", kHour},
    Unit{"hour", kHour},
    Unit{"hours", kHour},
    Unit{"hr", kHour},
    Unit{"hrs", kHour},
    Unit{"d", kMillisPerDay},
    Unit{"day", kMillisPerDay},
    Unit{"days", kMillisPerDay},
    Unit{"w", 7 * kMillisPerDay},
    Unit{"week", 7 * kMillisPerDay},
    Unit{"weeks", 7 * kMillisPerDay},
    Unit{"ms", 1},
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

Status Invalid(std::string_view text) {
  return Status::InvalidArgument("invalid duration '" + std::string(text) +
                                 "' (use e.g. 500ms, 30s, 5m, 1h30m, 2d)");
}

Status OutOfRange(std::string_view text) {
  return Status::InvalidArgument("duration '" + std::string(text) +
                                 "' is out of range (at most 36500d)");
}

enum class Parsed { kOk, kInvalid, kOutOfRange };

// amount * unit_ms into *ms; digits only, at most kMaxDurationMs.
Parsed Multiply(std::string_view amount, int64_t unit_ms, int64_t* ms) {
  if (amount.empty()) return Parsed::kInvalid;
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(amount.data(), amount.data() + amount.size(), n);
  if (end != amount.data() + amount.size() || amount.front() == '-') return Parsed::kInvalid;
  if (ec == std::errc::result_out_of_range || n > kMaxDurationMs / unit_ms) {
    return Parsed::kOutOfRange;
  }
  if (ec != std::errc()) return Parsed::kInvalid;
  *ms = n * unit_ms;
  return Parsed::kOk;
}

}  // namespace

std::optional<int64_t> DurationUnitMs(std::string_view unit) {
  if (unit.size() > 7) return std::nullopt;
  char lower[8];
  for (size_t i = 0; i < unit.size(); ++i) {
    const char c = unit[i];
    lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view u(lower, unit.size());
  for (const Unit& k : kUnits) {
    if (k.name == u) return k.ms;
  }
  return std::nullopt;
}

std::string ClosestDurationUnit(std::string_view unit, int64_t min_unit_ms) {
  std::vector<std::string> names;
  for (const Unit& k : kUnits) {
    if (k.ms >= min_unit_ms) names.emplace_back(k.name);
  }
  return ClosestMatch(unit, names);
}

Result<int64_t> DurationMs(std::string_view amount, std::string_view unit) {
  const std::string text = std::string(amount) + std::string(unit);
  const std::optional<int64_t> unit_ms = DurationUnitMs(unit);
  if (!unit_ms) return Invalid(text);
  int64_t ms = 0;
  switch (Multiply(amount, *unit_ms, &ms)) {
    case Parsed::kOk:
      return ms;
    case Parsed::kInvalid:
      return Invalid(text);
    case Parsed::kOutOfRange:
      break;
  }
  return OutOfRange(text);
}

Result<int64_t> ParseDurationMs(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty duration");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t digits = i;
    while (digits < text.size() && IsDigit(text[digits])) ++digits;
    size_t unit_end = digits;
    while (unit_end < text.size() && IsAlpha(text[unit_end])) ++unit_end;
    const std::optional<int64_t> unit_ms = DurationUnitMs(text.substr(digits, unit_end - digits));
    if (!unit_ms) return Invalid(text);
    int64_t ms = 0;
    const Parsed parsed = Multiply(text.substr(i, digits - i), *unit_ms, &ms);
    if (parsed == Parsed::kInvalid) return Invalid(text);
    if (parsed == Parsed::kOutOfRange || ms > kMaxDurationMs - total) return OutOfRange(text);
    total += ms;
    i = unit_end;
  }
  return total;
}

}  // namespace klaxon
