// Reloads rules over and over while other threads scrape /metrics and /api/v1/alerts of a
// running service (file source in follow mode, real HTTP on 127.0.0.1). Run in the ordinary build
// and, by `make test-sanitize`, under ThreadSanitizer (build/tsan, KLAXON_TSAN), which reports
// the race if an admin thread reads the engine, the dispatcher or the rules that a reload
// replaces instead of the published snapshot.
#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/service/file_service_util.h"

namespace klaxon::service {
namespace {

namespace fs = std::filesystem;

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// Rule a fires on the events below and is the same in every version, so its alert is carried
// over each reload; rule b changes, so every reload builds a new engine, rule set and dispatcher.
void WriteRules(const fs::path& path, int b_threshold) {
  WriteFile(path, "action sink = log(path: \"" + (path.parent_path() / "alerts.log").string() +
                      "\")\n"
                      "rule a-errors {\n  when frequency > 2/min for service:a\n  then sink\n}\n"
                      "rule b-errors {\n  when frequency > " +
                      std::to_string(b_threshold) + "/min for service:b\n  then sink\n}\n");
}

TEST_CASE("rules reload while /metrics and /api/v1/alerts are scraped") {
  const fs::path dir =
      fs::temp_directory_path() / ("klaxon-reload-race-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  WriteRules(dir / "rules.rules", 10);
  {
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::ostringstream events;
    for (int i = 0; i < 10; ++i) {
      events << "{\"timestamp\": " << std::to_string(now) << ", \"tags\": {\"service\": \"a\"}}\n";
    }
    WriteFile(dir / "events.jsonl", events.str());
  }
  testing::RecordingLog log;
  INFO("the runtime's log:\n", log.Text());
  SystemClock clock;
  std::unique_ptr<Runtime> running = testing::StartFileService(dir, true, log, clock);
  Runtime& service = *running;
  int code = -1;
  std::thread run_loop([&] { code = service.Run(); });
  const int port = service.admin_port();

  std::atomic<bool> stop{false};
  std::atomic<int> scrapes{0};
  std::atomic<int> scrape_failures{0};
  std::atomic<bool> saw_alert{false};
  auto scrape = [&](const char* path, const char* expect) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(10, 0);
    while (!stop.load()) {
      const httplib::Result res = client.Get(path);
      if (!res || res->status != 200 || res->body.find(expect) == std::string::npos) {
        ++scrape_failures;
        continue;
      }
      if (res->body.find("\"rule\":\"a-errors\"") != std::string::npos) saw_alert.store(true);
      ++scrapes;
    }
  };
  std::vector<std::thread> scrapers;
  scrapers.emplace_back(scrape, "/metrics", "klaxon_rule_matches_total{rule=\"b-errors\"}");
  scrapers.emplace_back(scrape, "/metrics", "klaxon_events_received_total");
  scrapers.emplace_back(scrape, "/api/v1/alerts", "\"status\":\"success\"");
  scrapers.emplace_back(scrape, "/api/v1/rules", "\"b-errors\"");

  httplib::Client admin("127.0.0.1", port);
  admin.set_read_timeout(30, 0);
  int reloads = 0;
  for (int i = 0; i < 25; ++i) {
    WriteRules(dir / "rules.rules", 10 + i % 2);
    const httplib::Result res = admin.Post("/-/reload");
    REQUIRE(res);
    CHECK_MESSAGE(res->status == 200, res->body);
    if (res->status == 200) ++reloads;
  }
  // The alert of rule a is carried over every reload; wait for a scrape to show it.
  for (int i = 0; i < 500 && !saw_alert.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop.store(true);
  for (std::thread& t : scrapers) t.join();
  service.RequestShutdown();
  run_loop.join();

  CHECK(reloads == 25);
  CHECK(code == 0);
  CHECK(saw_alert.load());
  CHECK(scrapes.load() > 0);
  CHECK(scrape_failures.load() == 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace klaxon::service
