#include "ingest/capture_sink.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace klaxon::ingest {
namespace {

TEST_CASE("capture: accepted events are appended as lines; refused ones are not") {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("klaxon-capture-" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove(path);
  EventQueue queue(1, 1 << 20);
  {
    auto sink = CaptureSink::Open(path, std::make_unique<QueueSink>(queue));
    REQUIRE(sink.ok());
    std::string first = "{\"n\":1}";
    CHECK((*sink)->Offer(first).ok());
    std::string second = "{\"n\":2}";
    Status full = (*sink)->Offer(second);
    CHECK(full.code() == StatusCode::kUnavailable);
    CHECK(std::string((*sink)->unavailable_reason()) == "queue_full");
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "{\"n\":1}\n");
  std::filesystem::remove(path);
  auto bad = CaptureSink::Open("/nonexistent-dir/x.jsonl", std::make_unique<QueueSink>(queue));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().rfind("sentry.capture: cannot open /nonexistent-dir/x.jsonl", 0) ==
        0);
}

}  // namespace
}  // namespace klaxon::ingest
