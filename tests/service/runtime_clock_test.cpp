// The runtime's time comes from the injected Clock: with a ManualClock, event time moves on while
// the input is idle only as far as the test moves the clock, so a resolve due a minute of event
// time later appears within a second of real time, and not before the clock gets there.
#include <doctest/doctest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/service/file_service_util.h"

namespace klaxon::service {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kStartMs = 1767225600000;  // 2026-01-01T00:00:00Z

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Waits up to `seconds` of real time for `needle` in the file.
bool WaitFor(const fs::path& path, const std::string& needle, int seconds) {
  for (int i = 0; i < seconds * 100; ++i) {
    if (ReadAll(path).find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST_CASE("the runtime moves idle event time by the injected clock only") {
  const fs::path dir =
      fs::temp_directory_path() / ("klaxon-service-clock-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path alerts = dir / "alerts.log";
  std::ofstream(dir / "rules.rules") << "action sink = log(path: \"" << alerts.string() << "\")\n"
                                     << "rule a-errors {\n"
                                     << "  when frequency > 2/min for service:a\n"
                                     << "  then sink\n}\n";
  {
    std::ofstream events(dir / "events.jsonl");
    for (int i = 0; i < 3; ++i) {
      events << "{\"timestamp\": " << kStartMs / 1000 << ", \"tags\": {\"service\": \"a\"}}\n";
    }
  }
  testing::RecordingLog log;
  INFO("the runtime's log:\n", log.Text());
  ManualClock clock(kStartMs + 1000);
  std::unique_ptr<Runtime> running = testing::StartFileService(dir, false, log, clock);
  Runtime& service = *running;
  int code = -1;
  std::thread run_loop([&] { code = service.Run(); });

  // The events are read and stamped with the clock's time before it moves.
  httplib::Client admin("127.0.0.1", service.admin_port());
  bool read = false;
  for (int i = 0; i < 1000 && !read; ++i) {
    const httplib::Result res = admin.Get("/metrics");
    read = res && res->body.find("\nklaxon_events_received_total 3\n") != std::string::npos;
    if (!read) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(read);
  CHECK(ReadAll(alerts).find("\"state\":\"firing\"") == std::string::npos);
  // Past the allowed lateness (5 s) the three events fire the rule.
  clock.Advance(10000);
  CHECK(WaitFor(alerts, "\"state\":\"firing\"", 10));
  // A second of real time, idle, clock standing still: the one-minute window does not empty.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(ReadAll(alerts).find("\"state\":\"resolved\"") == std::string::npos);
  // Two minutes on the clock: the window is empty, the alert resolves.
  clock.Advance(120000);
  CHECK(WaitFor(alerts, "\"state\":\"resolved\"", 10));

  service.RequestShutdown();
  run_loop.join();
  CHECK(code == 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace klaxon::service
