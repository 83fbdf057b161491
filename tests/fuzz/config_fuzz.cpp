// libFuzzer target for the service configuration: any bytes go through ParseConfig with a
// fixed environment and an in-memory file reader (for `KEY_file` secrets), which must never
// crash or hang and must report problems as a Status.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "cli/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const klaxon::cli::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "KAFKA_BROKERS") return "127.0.0.1:9092";
    if (name == "KLAXON_OUTBOX") return "/tmp/klaxon-fuzz-outbox.db";
    if (name == "EMPTY") return "";
    return std::nullopt;
  };
  const klaxon::cli::FileReader read_file =
      [](const std::string& path) -> klaxon::Result<std::string> {
    if (path.find("missing") != std::string::npos) return klaxon::Status::NotFound(path);
    return "secret-of-" + path + "\n";
  };
  (void)klaxon::cli::ParseConfig(text, {}, env, read_file, "fuzz.yaml");
  return 0;
}
