#include "ingest/auth.h"

#include <algorithm>
#include <charconv>

namespace klaxon::ingest {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of `name` in a list of `name=value` pairs separated by `separator`.
std::optional<std::string> Pair(std::string_view list, char separator, std::string_view name) {
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = std::min(list.find(separator, start), list.size());
    const std::string_view pair = Trim(list.substr(start, end - start));
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && Trim(pair.substr(0, eq)) == name) {
      std::string_view value = Trim(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      if (!value.empty()) return std::string(value);
    }
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> KeyFromAuthHeader(std::string_view header) {
  header = Trim(header);
  // The scheme word is "Sentry" (case-insensitive); older clients send no scheme.
  if (header.size() > 7 && (header.substr(0, 7) == "Sentry " || header.substr(0, 7) == "sentry ")) {
    header.remove_prefix(7);
  }
  return Pair(header, ',', "sentry_key");
}

std::optional<std::string> KeyFromQuery(std::string_view query) {
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  return Pair(query, '&', "sentry_key");
}

std::optional<DsnParts> ParseDsn(std::string_view dsn) {
  const size_t scheme = dsn.find("://");
  if (scheme == std::string_view::npos) return std::nullopt;
  std::string_view rest = dsn.substr(scheme + 3);
  const size_t at = rest.find('@');
  const size_t slash = rest.find('/');
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) {
    return std::nullopt;
  }
  std::string_view user = rest.substr(0, at);
  user = user.substr(0, user.find(':'));  // a legacy secret key after ':' is ignored
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const size_t last = path.rfind('/');
  if (user.empty() || last == std::string_view::npos || last + 1 >= path.size()) {
    return std::nullopt;
  }
  return DsnParts{std::string(user), std::string(path.substr(last + 1))};
}

AuthResult Authenticate(const std::vector<Project>& projects, std::string_view project_id,
                        std::string_view key, const Project** project) {
  if (key.empty()) return AuthResult::kMissingKey;
  int64_t id = 0;
  const auto [end, ec] =
      std::from_chars(project_id.data(), project_id.data() + project_id.size(), id);
  if (project_id.empty() || ec != std::errc() || end != project_id.data() + project_id.size()) {
    return AuthResult::kUnknownProject;
  }
  for (const Project& p : projects) {
    if (p.id != id) continue;
    if (std::find(p.keys.begin(), p.keys.end(), key) == p.keys.end()) return AuthResult::kBadKey;
    *project = &p;
    return AuthResult::kOk;
  }
  return AuthResult::kUnknownProject;
}

}  // namespace klaxon::ingest
