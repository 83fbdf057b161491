// A real Apache Kafka broker for connector tests: scripts/kafka-broker in a run dir of its own
// (Java 17 and Maven are required; the test fails without them), stopped at scope exit.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace klaxon::connectors::testing {

inline std::string SourceDir() {
  if (const char* dir = std::getenv("KLAXON_SOURCE_DIR")) return dir;
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
}

class RealBroker {
 public:
  RealBroker() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "klaxon-kafka-test.XXXXXX").string();
    run_dir_ = ::mkdtemp(pattern.data());
    const std::string command = Command("start") + " 2>" + run_dir_ + "/start.err";
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char line[256];
    while (std::fgets(line, sizeof(line), pipe) != nullptr) {
      std::string text(line);
      if (text.rfind("KAFKA_BROKERS=", 0) == 0) brokers_ = text.substr(14, text.find('\n') - 14);
    }
    const int rc = ::pclose(pipe);
    REQUIRE_MESSAGE(rc == 0, "scripts/kafka-broker start failed, see " << run_dir_);
    REQUIRE(!brokers_.empty());
  }
  ~RealBroker() {
    (void)std::system((Command("stop") + " 2>/dev/null").c_str());
    std::error_code ec;
    std::filesystem::remove_all(run_dir_, ec);
  }
  const std::string& brokers() const { return brokers_; }

 private:
  std::string Command(const std::string& verb) const {
    return "KLAXON_KAFKA_RUN='" + run_dir_ + "' bash '" + SourceDir() + "/scripts/kafka-broker' " +
           verb;
  }
  std::string run_dir_;
  std::string brokers_;
};

}  // namespace klaxon::connectors::testing
