#include "connectors/file_source.h"

#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/connectors/test_util.h"

namespace klaxon::connectors {
namespace {

using std::chrono::milliseconds;
using testing::TempDir;
using testing::WriteFile;

struct Line {
  std::string payload;
  int64_t offset;
  bool truncated;
};

std::unique_ptr<FileSource> OpenOrDie(const FileSourceOptions& options) {
  auto source = FileSource::Open(options);
  REQUIRE_MESSAGE(source.ok(), source.status().message());
  return std::move(source).value();
}

// Reads records until the source reports something else; returns that status.
NextStatus ReadAll(FileSource& source, std::vector<Line>* lines, milliseconds timeout = {}) {
  Record record;
  for (;;) {
    auto next = source.Next(timeout, &record);
    REQUIRE_MESSAGE(next.ok(), next.status().message());
    if (*next != NextStatus::kRecord) return *next;
    lines->push_back({std::string(record.payload), record.offset, record.truncated});
  }
}

void WriteGzip(const std::string& path, const std::string& content, const char* mode = "wb") {
  gzFile file = gzopen(path.c_str(), mode);
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, content.data(), static_cast<unsigned>(content.size())) ==
          static_cast<int>(content.size()));
  REQUIRE(gzclose(file) == Z_OK);
}

TEST_CASE("FileSource reads JSON lines with 1-based line numbers as offsets") {
  TempDir dir;
  WriteFile(dir.File("a.jsonl"), "{\"a\":1}\n{\"a\":2}\n{\"a\":3}");  // no final newline
  auto source = OpenOrDie({.path = dir.File("a.jsonl")});
  std::vector<Line> lines;
  CHECK(ReadAll(*source, &lines) == NextStatus::kEnd);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].payload == "{\"a\":1}");
  CHECK(lines[0].offset == 1);
  CHECK(lines[2].payload == "{\"a\":3}");
  CHECK(lines[2].offset == 3);
  CHECK_FALSE(lines[2].truncated);
  CHECK(source->stats().lines == 3);
  // Files have no committed position: both are no-ops that succeed.
  CHECK(source->Commit().ok());
  CHECK(source->Close().ok());
  CHECK(source->Close().ok());
  Record record;
  CHECK_FALSE(source->Next(milliseconds(0), &record).ok());
}

TEST_CASE("FileSource drops CR of CRLF and skips empty lines while counting them") {
  TempDir dir;
  WriteFile(dir.File("crlf.jsonl"), "{\"a\":1}\r\n\r\n\n{\"a\":2}\r\n\n");
  auto source = OpenOrDie({.path = dir.File("crlf.jsonl")});
  std::vector<Line> lines;
  CHECK(ReadAll(*source, &lines) == NextStatus::kEnd);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].payload == "{\"a\":1}");
  CHECK(lines[1].payload == "{\"a\":2}");
  CHECK(lines[1].offset == 4);
  CHECK(source->stats().empty_skipped == 3);
}

TEST_CASE("FileSource drops a UTF-8 byte-order mark and skips white-space-only lines") {
  TempDir dir;
  WriteFile(dir.File("bom.jsonl"),
            "\xEF\xBB\xBF{\"a\":1}\n  \t \n{\"a\":2}\n\xEF\xBB\xBF{\"a\":3}\n");
  auto source = OpenOrDie({.path = dir.File("bom.jsonl")});
  std::vector<Line> lines;
  CHECK(ReadAll(*source, &lines) == NextStatus::kEnd);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].payload == "{\"a\":1}");
  CHECK(lines[1].payload == "{\"a\":2}");
  CHECK(lines[1].offset == 3);
  // Only the file's first bytes can be a byte-order mark; later it is the line's content.
  CHECK(lines[2].payload == "\xEF\xBB\xBF{\"a\":3}");
  CHECK(source->stats().empty_skipped == 1);
}

TEST_CASE("FileSource reads gzip transparently, across chunks and concatenated members") {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 20000; ++i)
    content += "{\"n\":" + std::to_string(i) + ",\"pad\":\"xxxxxxxx\"}\n";
  WriteGzip(dir.File("e.jsonl.gz"), content);
  WriteGzip(dir.File("e.jsonl.gz"), "{\"n\":\"last\"}\n", "ab");  // a second gzip member
  auto source = OpenOrDie({.path = dir.File("e.jsonl.gz")});
  std::vector<Line> lines;
  CHECK(ReadAll(*source, &lines) == NextStatus::kEnd);
  REQUIRE(lines.size() == 20001);
  CHECK(lines[0].payload == "{\"n\":0,\"pad\":\"xxxxxxxx\"}");
  CHECK(lines[19999].payload == "{\"n\":19999,\"pad\":\"xxxxxxxx\"}");
  CHECK(lines[20000].payload == "{\"n\":\"last\"}");
  CHECK(lines[20000].offset == 20001);
}

TEST_CASE("FileSource reports truncated and corrupt gzip as errors") {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 1000; ++i) content += "{\"n\":" + std::to_string(i) + "}\n";
  WriteGzip(dir.File("full.gz"), content);
  std::string bytes;
  {
    std::ifstream in(dir.File("full.gz"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  WriteFile(dir.File("short.gz"), bytes.substr(0, bytes.size() / 2));
  std::string corrupt = bytes;
  for (size_t i = 20; i < 60 && i < corrupt.size(); ++i) corrupt[i] = static_cast<char>(0xff);
  WriteFile(dir.File("corrupt.gz"), corrupt);

  for (const char* name : {"short.gz", "corrupt.gz"}) {
    CAPTURE(name);
    auto source = OpenOrDie({.path = dir.File(name)});
    Record record;
    Result<NextStatus> next = NextStatus::kRecord;
    int records = 0;
    while (next.ok() && *next == NextStatus::kRecord) {
      next = source->Next(milliseconds(0), &record);
      ++records;
    }
    REQUIRE_FALSE(next.ok());
    CHECK(next.status().code() == StatusCode::kIoError);
    CHECK(next.status().message().find("gzip") != std::string::npos);
    CHECK(records < 1001);
  }
}

TEST_CASE("FileSource truncates an oversized line, skips its rest and keeps going") {
  TempDir dir;
  const std::string big(5 * 1024 * 1024, 'x');  // 5 MiB, above the 1 MiB default
  WriteFile(dir.File("big.jsonl"), "{\"a\":1}\n" + big + "\n{\"a\":2}\n" + big);
  auto source = OpenOrDie({.path = dir.File("big.jsonl")});
  std::vector<Line> lines;
  CHECK(ReadAll(*source, &lines) == NextStatus::kEnd);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].payload == "{\"a\":1}");
  CHECK(lines[1].truncated);
  CHECK(lines[1].payload.size() == size_t{1} << 20);
  CHECK(lines[1].offset == 2);
  CHECK(lines[2].payload == "{\"a\":2}");
  CHECK_FALSE(lines[2].truncated);
  CHECK(lines[2].offset == 3);
  CHECK(lines[3].truncated);  // the last line, without a newline
  CHECK(source->stats().oversized == 2);

  // A small limit: the line "0123456789\r" keeps its first 4 bytes.
  WriteFile(dir.File("small.jsonl"), "0123456789\r\nabc\r\n");
  auto small = OpenOrDie({.path = dir.File("small.jsonl"), .max_line_bytes = 4});
  lines.clear();
  CHECK(ReadAll(*small, &lines) == NextStatus::kEnd);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].payload == "0123");
  CHECK(lines[0].truncated);
  CHECK(lines[1].payload == "abc");
  CHECK_FALSE(lines[1].truncated);
}

TEST_CASE("FileSource errors: missing file, directory, zero limit") {
  TempDir dir;
  auto missing = FileSource::Open({.path = dir.File("nope.jsonl")});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message().find("nope.jsonl") != std::string::npos);

  auto directory = FileSource::Open({.path = dir.File("")});
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.status().code() == StatusCode::kInvalidArgument);

  WriteFile(dir.File("a"), "x\n");
  auto zero = FileSource::Open({.path = dir.File("a"), .max_line_bytes = 0});
  CHECK_FALSE(zero.ok());
}

TEST_CASE("FileSource follow mode returns idle at the end and picks up appended lines") {
  TempDir dir;
  const std::string path = dir.File("live.jsonl");
  WriteFile(path, "{\"a\":1}\n{\"a\":");  // the writer is mid-line
  auto source = OpenOrDie({.path = path, .follow = true, .poll_interval = milliseconds(1)});
  std::vector<Line> lines;
  CHECK(ReadAll(*source, &lines, milliseconds(5)) == NextStatus::kIdle);
  REQUIRE(lines.size() == 1);
  CHECK(ReadAll(*source, &lines, milliseconds(5)) == NextStatus::kIdle);
  CHECK(lines.size() == 1);  // the partial line waits for its newline

  WriteFile(path, "2}\n{\"a\":3}\n", /*append=*/true);
  CHECK(ReadAll(*source, &lines, milliseconds(5)) == NextStatus::kIdle);
  REQUIRE(lines.size() == 3);
  CHECK(lines[1].payload == "{\"a\":2}");
  CHECK(lines[1].offset == 2);
  CHECK(lines[2].payload == "{\"a\":3}");
}

TEST_CASE("FileSource follow mode reads gzip members appended later") {
  TempDir dir;
  const std::string path = dir.File("live.jsonl.gz");
  WriteGzip(path, "{\"a\":1}\n");
  auto source = OpenOrDie({.path = path, .follow = true, .poll_interval = milliseconds(1)});
  std::vector<Line> lines;
  CHECK(ReadAll(*source, &lines, milliseconds(5)) == NextStatus::kIdle);
  REQUIRE(lines.size() == 1);
  WriteGzip(path, "{\"a\":2}\n", "ab");
  CHECK(ReadAll(*source, &lines, milliseconds(5)) == NextStatus::kIdle);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].payload == "{\"a\":2}");
}

// Puts a pipe on fd 0 for the test's duration so "-" reads it.
class StdinPipe {
 public:
  StdinPipe() {
    REQUIRE(::pipe(fds_) == 0);
    saved_stdin_ = ::dup(0);
    REQUIRE(::dup2(fds_[0], 0) == 0);
    ::close(fds_[0]);
  }
  ~StdinPipe() {
    CloseWriter();
    ::dup2(saved_stdin_, 0);
    ::close(saved_stdin_);
  }
  void Write(const std::string& text) {
    REQUIRE(::write(fds_[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
  void CloseWriter() {
    if (fds_[1] >= 0) ::close(fds_[1]);
    fds_[1] = -1;
  }

 private:
  int fds_[2] = {-1, -1};
  int saved_stdin_ = -1;
};

TEST_CASE("FileSource reads stdin without blocking past the timeout") {
  StdinPipe pipe;
  auto source = OpenOrDie({.path = "-"});
  std::vector<Line> lines;
  // Nothing written yet: idle, not blocked.
  CHECK(ReadAll(*source, &lines, milliseconds(10)) == NextStatus::kIdle);
  pipe.Write("{\"a\":1}\n{\"a\"");
  CHECK(ReadAll(*source, &lines, milliseconds(10)) == NextStatus::kIdle);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].payload == "{\"a\":1}");
  pipe.Write(":2}\n");
  pipe.CloseWriter();
  CHECK(ReadAll(*source, &lines, milliseconds(10)) == NextStatus::kEnd);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].payload == "{\"a\":2}");
  CHECK(source->Close().ok());
}

TEST_CASE("FileSource reads gzip from stdin") {
  TempDir dir;
  WriteGzip(dir.File("s.gz"), "{\"a\":1}\n{\"a\":2}\n");
  std::string bytes;
  {
    std::ifstream in(dir.File("s.gz"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  StdinPipe pipe;
  pipe.Write(bytes);
  pipe.CloseWriter();
  auto source = OpenOrDie({.path = "-"});
  std::vector<Line> lines;
  CHECK(ReadAll(*source, &lines, milliseconds(1000)) == NextStatus::kEnd);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].payload == "{\"a\":2}");
}

}  // namespace
}  // namespace klaxon::connectors
