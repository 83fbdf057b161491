// Turns the `sentry:` configuration block into the ingestion module's options (ingest/).
#pragma once

#include "cli/config.h"
#include "connectors/kafka_config.h"
#include "ingest/sentry_ingest.h"

namespace klaxon::cli {

// `kafka`: the client options of `source: kafka` (the endpoint then produces to the first of
// kafka.topics); nullptr for `source: sentry` (a bounded queue). Fails on a bad `listen`.
Result<ingest::SentryIngestOptions> SentryIngestOptionsFrom(
    const Config& config, const connectors::KafkaClientOptions* kafka);

}  // namespace klaxon::cli
