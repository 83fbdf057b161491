// LogLevel: the severity of a log line. One type for every module that reports one (the
// dispatcher, the Kafka clients, the service's logger), so adapters pass it through as it is.
#pragma once

namespace klaxon {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

}  // namespace klaxon
