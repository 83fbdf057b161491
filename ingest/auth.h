// Who sent a request: the public key of a DSN (`http://KEY@HOST/PROJECT_ID`), found where Sentry
// SDKs put it, and the configured project it belongs to. Pure functions over strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klaxon::ingest {

// A project as configured under `sentry.projects`: its numeric id (the DSN's last path
// segment), its name (added to each event as `project`) and the public keys it accepts.
struct Project {
  int64_t id = 0;
  std::string name;
  std::vector<std::string> keys;
  // Events per second allowed for this project (token bucket); 0: unlimited.
  double rate_per_second = 0;
  double burst = 0;  // bucket size; 0: one second's worth of rate (at least 1)
};

// `sentry_key` of an `X-Sentry-Auth` (or `Authorization`) header such as
// `Sentry sentry_key=abc, sentry_version=7, sentry_client=sentry.python/2.75.0`.
std::optional<std::string> KeyFromAuthHeader(std::string_view header);

// `sentry_key` of a URL query string (`sentry_key=abc&sentry_version=7`), as browser SDKs send
// it; percent-decoding is not needed for keys (hex), so it is not done.
std::optional<std::string> KeyFromQuery(std::string_view query);

struct DsnParts {
  std::string key;
  std::string project_id;  // the last path segment, as text
};
// The public key and project id of a DSN (`https://KEY[:SECRET]@HOST[:PORT]/[PATH/]ID`).
std::optional<DsnParts> ParseDsn(std::string_view dsn);

enum class AuthResult {
  kOk,
  kMissingKey,      // no key anywhere: 401
  kUnknownProject,  // no project with this id: 403, as Relay rejects unknown projects
  kBadKey,          // the key is not one of the project's: 401
};

// Resolves the project `project_id` (the URL's path segment) for `key` (empty: none sent).
// On kOk, *project points into `projects`.
AuthResult Authenticate(const std::vector<Project>& projects, std::string_view project_id,
                        std::string_view key, const Project** project);

}  // namespace klaxon::ingest
