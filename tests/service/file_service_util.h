// A service::Runtime over a file source in follow mode, for tests that drive a running service:
// DIR/rules.rules (read again at every reload) and DIR/events.jsonl, the outbox in DIR, the
// admin server on 127.0.0.1:0. Built from RuntimeOptions directly, as cli's composition root
// would build them from `source: file`, so the tests need nothing of cli/.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "actions/http_client.h"
#include "clock/clock.h"
#include "connectors/file_source.h"
#include "service/log_sink.h"
#include "service/runtime.h"
#include "tests/service/rule_bundle_util.h"

namespace klaxon::service::testing {

// Keeps every line logged, so a failing test can show what the runtime said.
class RecordingLog final : public LogSink {
 public:
  void Log(LogLevel, std::string_view msg, Fields fields) override {
    std::lock_guard lock(mu_);
    text_ += std::string(msg);
    for (const auto& [k, v] : fields) text_ += " " + std::string(k) + "=" + v;
    text_ += "\n";
  }
  std::string Text() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
};

// Reads and checks a rule file (again at every reload) and builds its actions.
inline Result<RuleBundle> LoadRuleFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return RuleBundleFrom(path.string(), text.str());
}

inline std::unique_ptr<Runtime> StartFileService(const std::filesystem::path& dir,
                                                 bool enable_reload, LogSink& log,
                                                 const Clock& clock) {
  RuntimeOptions o;
  o.load_rules = [path = dir / "rules.rules"] { return LoadRuleFile(path); };
  o.source_kind = "file";
  connectors::FileSourceOptions file;
  file.path = (dir / "events.jsonl").string();
  file.follow = true;
  Result<std::unique_ptr<connectors::FileSource>> source = connectors::FileSource::Open(file);
  REQUIRE_MESSAGE(source.ok(), source.status().message());
  o.source = std::move(source).value();
  Result<std::unique_ptr<actions::SafeHttpClient>> client = actions::SafeHttpClient::Create({});
  REQUIRE_MESSAGE(client.ok(), client.status().message());
  o.transport = std::move(client).value();
  o.outbox_path = (dir / "outbox.db").string();
  o.drain_timeout_ms = 2000;
  o.admin_listen = "127.0.0.1:0";
  o.enable_reload_endpoint = enable_reload;
  auto service = std::make_unique<Runtime>(std::move(o), log, clock);
  const Status started = service->Start();
  REQUIRE_MESSAGE(started.ok(), started.message());
  return service;
}

}  // namespace klaxon::service::testing
