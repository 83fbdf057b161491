// /api/v1/silences as functions: Alertmanager's JSON shapes, strict bodies, status codes.
#include <unistd.h>

#include <filesystem>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "actions/silencer.h"
#include "service/silence_api.h"

namespace klaxon::service {
namespace {

constexpr int64_t kNow = 1795773600000;  // 2026-11-27T10:00:00Z

struct Db {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("klaxon-silence-api-" + std::to_string(::getpid()) + ".db"))
                         .string();
  Db() { Remove(); }
  ~Db() { Remove(); }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  }
};

TEST_CASE("silences API: create, list, get, expire, errors") {
  Db db;
  auto silencer = actions::Silencer::Open(db.path, kNow);
  REQUIRE(silencer.ok());
  actions::Silencer& s = **silencer;

  ApiResponse created = PostSilence(
      s,
      R"({"matchers": [{"name": "alertname", "value": "orders-db-errors", "isRegex": false},
                       {"name": "environment", "value": "staging|dev", "isRegex": true}],
          "endsAt": "2026-11-27T12:00:00Z", "createdBy": "alice", "comment": "db maintenance"})",
      kNow);
  REQUIRE(created.status == 200);
  const std::string id = nlohmann::json::parse(created.body)["silenceID"].get<std::string>();

  ApiResponse got = GetSilence(s, id, kNow);
  REQUIRE(got.status == 200);
  const nlohmann::json j = nlohmann::json::parse(got.body);
  CHECK(j["status"]["state"] == "active");
  CHECK(j["startsAt"] == "2026-11-27T10:00:00.000Z");
  CHECK(j["endsAt"] == "2026-11-27T12:00:00.000Z");
  CHECK(j["matchers"][1] == nlohmann::json{{"name", "environment"},
                                           {"value", "staging|dev"},
                                           {"isRegex", true},
                                           {"isEqual", true}});
  CHECK(j["createdBy"] == "alice");

  ApiResponse list = ListSilences(s, kNow);
  CHECK(list.status == 200);
  CHECK(nlohmann::json::parse(list.body).size() == 1);

  CHECK(DeleteSilence(s, id, kNow + 1000).status == 200);
  CHECK(nlohmann::json::parse(GetSilence(s, id, kNow + 2000).body)["status"]["state"] == "expired");
  ApiResponse again = DeleteSilence(s, id, kNow + 3000);
  CHECK(again.status == 409);
  CHECK(again.body == nlohmann::json{{"error", "silence " + id + " has already expired"}}.dump());
  CHECK(DeleteSilence(s, "nope", kNow).status == 404);
  CHECK(GetSilence(s, "nope", kNow).status == 404);
}

TEST_CASE("silences API: a POST with an id replaces that silence, as Alertmanager's does") {
  Db db;
  auto silencer = actions::Silencer::Open(db.path, kNow);
  REQUIRE(silencer.ok());
  actions::Silencer& s = **silencer;
  const std::string body =
      R"("matchers": [{"name": "alertname", "value": "orders-db-errors", "isRegex": false}],
         "createdBy": "alice", "comment": "db maintenance")";
  ApiResponse first = PostSilence(s, "{" + body + R"(, "endsAt": "2026-11-27T12:00:00Z"})", kNow);
  REQUIRE(first.status == 200);
  const std::string id = nlohmann::json::parse(first.body)["silenceID"].get<std::string>();

  // Extended to 15:00: the old one ends, the new one holds; never two active at once.
  ApiResponse updated = PostSilence(
      s, "{" + body + R"(, "id": ")" + id + R"(", "endsAt": "2026-11-27T15:00:00Z"})", kNow + 1000);
  REQUIRE(updated.status == 200);
  const std::string id2 = nlohmann::json::parse(updated.body)["silenceID"].get<std::string>();
  CHECK(id2 != id);
  CHECK(nlohmann::json::parse(GetSilence(s, id, kNow + 2000).body)["status"]["state"] == "expired");
  const nlohmann::json now2 = nlohmann::json::parse(GetSilence(s, id2, kNow + 2000).body);
  CHECK(now2["status"]["state"] == "active");
  CHECK(now2["endsAt"] == "2026-11-27T15:00:00.000Z");
  CHECK(s.Stats(kNow + 2000).active == 1);

  // An unknown id is refused; nothing is created.
  ApiResponse unknown =
      PostSilence(s, "{" + body + R"(, "id": "nope", "endsAt": "2026-11-27T15:00:00Z"})", kNow);
  CHECK(unknown.status == 404);
  CHECK(unknown.body == nlohmann::json{{"error", "no silence nope"}}.dump());
  // A bad replacement leaves the old one as it was.
  ApiResponse bad = PostSilence(
      s, "{" + body + R"(, "id": ")" + id2 + R"(", "endsAt": "2026-11-27T09:00:00Z"})", kNow);
  CHECK(bad.status == 400);
  CHECK(nlohmann::json::parse(GetSilence(s, id2, kNow + 3000).body)["status"]["state"] == "active");
  CHECK(s.List().size() == 2);
}

TEST_CASE("silences API: a bad body is refused with every problem named") {
  Db db;
  auto silencer = actions::Silencer::Open(db.path, kNow);
  REQUIRE(silencer.ok());
  auto error = [&](const std::string& body) {
    ApiResponse r = PostSilence(**silencer, body, kNow);
    CHECK(r.status == 400);
    return nlohmann::json::parse(r.body)["error"].get<std::string>();
  };
  CHECK(error("not json") == "the body is not JSON");
  CHECK(error("[]") == "a silence is a JSON object");
  CHECK(error(R"({"matcher": [], "endsAt": "2026-11-27T12:00:00Z"})") ==
        "unknown key `matcher`; a silence has matchers, startsAt, endsAt, createdBy and comment");
  CHECK(error(R"({"matchers": [{"name": "a", "value": "(", "isRegex": true}],
                  "endsAt": "tomorrow"})") ==
        "endsAt: an RFC 3339 time such as 2026-11-27T10:00:00Z; matcher `a=~`: missing ): (");
  CHECK(error(R"({"matchers": [{"name": "a", "value": ".*", "isRegex": true}],
                  "endsAt": "2026-11-27T12:00:00Z", "createdBy": "x", "comment": "y"})") ==
        "at least one matcher must not match the empty string (this silence would mute every "
        "alert)");
  CHECK(error(R"({"matchers": [{"name": "a", "value": "b"}], "endsAt": "2026-11-27T09:00:00Z",
                  "createdBy": "x", "comment": "y"})") == "the end must be after the start");
  CHECK((*silencer)->List().empty());
}

}  // namespace
}  // namespace klaxon::service
