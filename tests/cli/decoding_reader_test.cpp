// Replay's reader: a file's lines come out in order, rejects keep their line numbers.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/decoding_reader.h"
#include "connectors/file_source.h"
#include "engine/engine.h"
#include "tests/service/decode_test_util.h"

namespace klaxon::cli {
namespace {

using testing::Event;
using testing::TypeEngine;

TEST_CASE("decoding reader: a file's lines in order, rejects with their line numbers") {
  const auto path = std::filesystem::temp_directory_path() / "klaxon_decoding_reader_test.jsonl";
  {
    std::ofstream out(path);
    for (int i = 0; i < 1000; ++i) out << Event(i) << "\n";
  }
  auto engine = TypeEngine();
  connectors::FileSourceOptions options;
  options.path = path.string();
  auto source = connectors::FileSource::Open(options);
  REQUIRE(source.ok());
  int line = 0;
  {
    DecodingReader reader(
        **source, [&] { return engine->NewDecoder(); }, 2);
    while (true) {
      Result<DecodingReader::Item*> next = reader.Next();
      REQUIRE(next.ok());
      if (*next == nullptr) break;
      ++line;
      CHECK((*next)->offset == line);
      CHECK(((*next)->reason == RejectReason::kInvalidJson) == ((line - 1) % 7 == 3));
    }
    CHECK(reader.Next().ok());  // still the end, no error
  }
  CHECK(line == 1000);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace klaxon::cli
