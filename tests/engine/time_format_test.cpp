#include "engine/time_format.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

namespace klaxon {
namespace {

TEST_CASE("event times print as RFC 3339 in years 0000-9999") {
  CHECK(FormatTimeMs(1764028867250) == "2025-11-25T00:01:07.250Z");
  CHECK(FormatTimeMs(0) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatTimeMs(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(FormatTimeMs(-86400000) == "1969-12-31T00:00:00.000Z");
  CHECK(FormatTimeMs(253402214400000 + 86399999) == "9999-12-31T23:59:59.999Z");
  CHECK(FormatTimeMs(-62167219200000) == "0000-01-01T00:00:00.000Z");
}

TEST_CASE("years outside 0000-9999 print in expanded ISO 8601 form, never wrapped") {
  CHECK(FormatTimeMs(8994678048000000) == "+287000-01-01T00:00:00.000Z");
  CHECK(FormatTimeMs(253402300800000) == "+010000-01-01T00:00:00.000Z");
  CHECK(FormatTimeMs(-62167219200000 - 1) == "-000001-12-31T23:59:59.999Z");
  CHECK(FormatTimeMs(std::numeric_limits<int64_t>::max()) == "+292278994-08-17T07:12:55.807Z");
  CHECK(FormatTimeMs(std::numeric_limits<int64_t>::min()) == "-292275055-05-16T16:47:04.192Z");
}

}  // namespace
}  // namespace klaxon
