// The runtime's options (service/runtime_options.h) from the `klaxon run` configuration:
// paths resolved against the configuration's folder, the rule loader (rule files, actions and
// their secrets), the Kafka client, the Sentry endpoint and the admin token; and the pieces the
// runtime is given: the file or stdin source and the HTTP client (SafeHttpClient) of the actions.
#pragma once

#include "cli/config.h"
#include "engine/status.h"
#include "service/runtime_options.h"

namespace klaxon::cli {

// Opens the file source (source: file or stdin) and creates the HTTP client. Fails when either
// fails, or when the admin token file cannot be read or is empty. The rule loader reads the rule
// files again at each call (start and reload) and resolves secrets through `env`.
Result<service::RuntimeOptions> RuntimeOptionsFrom(const Config& config, const EnvLookup& env);

// The Kafka consumer's options from the configuration's kafka section (also the dead-letter
// producer's client options, and what `klaxon check --config` judges them by).
connectors::KafkaSourceOptions KafkaOptionsFrom(const KafkaConfig& kafka);

}  // namespace klaxon::cli
