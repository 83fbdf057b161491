#include "ingest/auth.h"

#include <doctest/doctest.h>

namespace klaxon::ingest {
namespace {

TEST_CASE("auth: the key from X-Sentry-Auth, the query and the DSN") {
  CHECK(KeyFromAuthHeader(
            "Sentry sentry_key=abc, sentry_version=7, sentry_client=sentry.python/2.75.0") ==
        "abc");
  CHECK(KeyFromAuthHeader("Sentry sentry_version=7,sentry_key=def,sentry_secret=s") == "def");
  CHECK(KeyFromAuthHeader("sentry_key=\"q\"") == "q");
  CHECK_FALSE(KeyFromAuthHeader("Sentry sentry_version=7").has_value());
  CHECK_FALSE(KeyFromAuthHeader("Sentry sentry_key=").has_value());
  CHECK_FALSE(KeyFromAuthHeader("").has_value());
  CHECK(KeyFromQuery("sentry_version=7&sentry_key=k1&sentry_client=x") == "k1");
  CHECK(KeyFromQuery("?sentry_key=k2") == "k2");
  CHECK_FALSE(KeyFromQuery("other_sentry_key=k").has_value());

  auto dsn = ParseDsn("https://pub:secret@o1.ingest.example.com:8443/some/path/42/");
  REQUIRE(dsn.has_value());
  CHECK(dsn->key == "pub");
  CHECK(dsn->project_id == "42");
  CHECK(ParseDsn("http://k@127.0.0.1:9000/7")->project_id == "7");
  CHECK_FALSE(ParseDsn("http://127.0.0.1:9000/7").has_value());
  CHECK_FALSE(ParseDsn("http://k@host").has_value());
  CHECK_FALSE(ParseDsn("k@host/1").has_value());
}

TEST_CASE("auth: project and key resolution") {
  const std::vector<Project> projects = {{42, "orders-api", {"k1", "k2"}}, {7, "web", {"w"}}};
  const Project* p = nullptr;
  CHECK(Authenticate(projects, "42", "k2", &p) == AuthResult::kOk);
  REQUIRE(p != nullptr);
  CHECK(p->name == "orders-api");
  CHECK(Authenticate(projects, "42", "", &p) == AuthResult::kMissingKey);
  CHECK(Authenticate(projects, "42", "w", &p) == AuthResult::kBadKey);  // another project's key
  CHECK(Authenticate(projects, "43", "k1", &p) == AuthResult::kUnknownProject);
  CHECK(Authenticate(projects, "4x", "k1", &p) == AuthResult::kUnknownProject);
  CHECK(Authenticate(projects, "", "k1", &p) == AuthResult::kUnknownProject);
}

}  // namespace
}  // namespace klaxon::ingest
