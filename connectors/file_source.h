// FileSource: JSON Lines events from a file or stdin, plain or gzip, optionally followed like
// `tail -f`.
//
// One record per line; Record.offset is the 1-based line number. Gzip is detected from the
// magic bytes (concatenated members are read in turn), so `.gz` needs no flag. A trailing '\r'
// is dropped (CRLF files); empty lines are skipped but still counted in line numbers. A line
// longer than `max_line_bytes` is returned once, truncated, with Record.truncated set, and the
// rest of it is skipped, so memory never exceeds the limit. Without follow mode the last line
// may lack its newline; in follow mode a partial last line waits for its newline (the writer
// may be mid-line). Commit and MarkProcessed are no-ops: a file has no committed position, a
// restart reads it from the top. Not thread-safe; owned by the run loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "connectors/source.h"
#include "engine/status.h"

namespace klaxon::connectors {

struct FileSourceOptions {
  std::string path;  // "-" reads stdin
  bool follow = false;
  size_t max_line_bytes = size_t{1} << 20;
  // Follow mode: how long to wait for appended data before looking again (bounded by the
  // timeout given to Next()).
  std::chrono::milliseconds poll_interval{100};
};

class FileSource final : public Source {
 public:
  struct Stats {
    int64_t lines = 0;          // lines returned as records
    int64_t oversized = 0;      // of which truncated
    int64_t empty_skipped = 0;  // empty lines skipped
  };

  // Opens the file (NotFound / IoError) or stdin.
  static Result<std::unique_ptr<FileSource>> Open(const FileSourceOptions& options);
  ~FileSource() override;

  Result<NextStatus> Next(std::chrono::milliseconds timeout, Record* record) override;
  void MarkProcessed(const Record&) override {}
  Status Commit() override { return Status::Ok(); }
  Status Close() override;

  const Stats& stats() const { return stats_; }

 private:
  enum class Fill { kData, kEof, kTimeout };
  enum class Format { kUnknown, kPlain, kGzip };
  struct Inflater;

  FileSource(FileSourceOptions options, int fd, bool owns_fd, bool regular);
  Result<Fill> FillBuffer(std::chrono::milliseconds timeout);
  Result<Fill> Inflate();
  // Completes the pending line; false when it is empty and was skipped.
  bool EmitLine(Record* record);

  FileSourceOptions options_;
  int fd_;
  bool owns_fd_;
  bool regular_;  // regular files are always readable; pipes and ttys are polled
  Format format_ = Format::kUnknown;
  std::unique_ptr<Inflater> inflater_;
  std::vector<char> raw_;       // bytes as read
  std::vector<char> decoded_;   // inflated bytes (gzip only)
  const char* data_ = nullptr;  // the buffer being scanned: raw_ or decoded_
  size_t data_len_ = 0;
  size_t data_pos_ = 0;
  std::string line_;           // the line being assembled; reused
  bool line_started_ = false;  // bytes of a line are pending (possibly only "\r")
  bool line_oversized_ = false;
  bool emitted_ = false;  // line_ was handed out; clear it at the next call
  int64_t line_number_ = 0;
  Stats stats_;
};

}  // namespace klaxon::connectors
