#include "connectors/file_source.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

namespace klaxon::connectors {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kDecodedChunk = 256 * 1024;

std::string ErrnoMessage(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

// zlib's streaming inflater, rather than gzread: gzread blocks on a pipe until its whole buffer
// is full, which would stall `tail -f | klaxon run` until 8 KiB had arrived.
struct FileSource::Inflater {
  z_stream stream{};
  bool initialized = false;
  bool member_ended = false;  // the last gzip member ended exactly at the end of the input

  ~Inflater() {
    if (initialized) inflateEnd(&stream);
  }
};

Result<std::unique_ptr<FileSource>> FileSource::Open(const FileSourceOptions& options) {
  if (options.max_line_bytes == 0) {
    return Status::InvalidArgument("file source: max_line_bytes must be positive");
  }
  int fd = 0;
  bool owns_fd = false;
  if (options.path != "-") {
    fd = ::open(options.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound(ErrnoMessage("cannot open", options.path));
      return Status::IoError(ErrnoMessage("cannot open", options.path));
    }
    owns_fd = true;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    std::string message = ErrnoMessage("cannot stat", options.path);
    if (owns_fd) ::close(fd);
    return Status::IoError(message);
  }
  if (S_ISDIR(st.st_mode)) {
    if (owns_fd) ::close(fd);
    return Status::InvalidArgument("file source: " + options.path + " is a directory");
  }
  return std::unique_ptr<FileSource>(new FileSource(options, fd, owns_fd, S_ISREG(st.st_mode)));
}

FileSource::FileSource(FileSourceOptions options, int fd, bool owns_fd, bool regular)
    : options_(std::move(options)), fd_(fd), owns_fd_(owns_fd), regular_(regular) {
  raw_.resize(kReadChunk);
  line_.reserve(std::min(options_.max_line_bytes, kReadChunk));
}

FileSource::~FileSource() { (void)Close(); }

Status FileSource::Close() {
  if (fd_ >= 0 && owns_fd_) ::close(fd_);
  fd_ = -1;
  inflater_.reset();
  return Status::Ok();
}

Result<NextStatus> FileSource::Next(std::chrono::milliseconds timeout, Record* record) {
  if (fd_ < 0) return Status::FailedPrecondition("file source: closed");
  if (emitted_) {
    line_.clear();
    emitted_ = false;
  }
  bool waited = false;
  for (;;) {
    while (data_pos_ < data_len_) {
      const char* start = data_ + data_pos_;
      const size_t avail = data_len_ - data_pos_;
      const char* newline = static_cast<const char*>(std::memchr(start, '\n', avail));
      const size_t take = newline ? static_cast<size_t>(newline - start) : avail;
      if (take > 0) line_started_ = true;
      if (!line_oversized_) {
        const size_t room = options_.max_line_bytes - line_.size();
        if (take > room) {
          line_.append(start, room);
          line_oversized_ = true;
        } else {
          line_.append(start, take);
        }
      }
      data_pos_ += take;
      if (newline != nullptr) {
        ++data_pos_;
        if (EmitLine(record)) return NextStatus::kRecord;
      }
    }

    Result<Fill> fill = FillBuffer(timeout);
    if (!fill.ok()) return fill.status();
    switch (*fill) {
      case Fill::kData:
        continue;
      case Fill::kTimeout:
        return NextStatus::kIdle;
      case Fill::kEof:
        if (options_.follow) {
          if (waited) return NextStatus::kIdle;
          waited = true;
          std::this_thread::sleep_for(std::min(timeout, options_.poll_interval));
          continue;
        }
        if (inflater_ && inflater_->initialized && !inflater_->member_ended) {
          return Status::IoError("file source: " + options_.path + ": gzip data ends early");
        }
        if (line_started_ && EmitLine(record)) return NextStatus::kRecord;
        return NextStatus::kEnd;
    }
  }
}

bool FileSource::EmitLine(Record* record) {
  ++line_number_;
  const bool oversized = line_oversized_;
  if (!oversized && !line_.empty() && line_.back() == '\r') line_.pop_back();
  line_started_ = false;
  line_oversized_ = false;
  // Editors on some systems start a UTF-8 file with a byte-order mark; it is not part of the
  // first event.
  if (line_number_ == 1 && line_.size() >= 3 && line_.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    line_.erase(0, 3);
  }
  // A line of white space only holds no event (as an empty line): skipped, counted.
  if (!oversized && line_.find_first_not_of(" \t\r") == std::string::npos) {
    ++stats_.empty_skipped;
    line_.clear();
    return false;
  }
  ++stats_.lines;
  if (oversized) ++stats_.oversized;
  emitted_ = true;
  record->payload = line_;
  record->topic.clear();
  record->partition = -1;
  record->offset = line_number_;
  record->broker_timestamp_ms = -1;
  record->truncated = oversized;
  return true;
}

Result<FileSource::Fill> FileSource::FillBuffer(std::chrono::milliseconds timeout) {
  // Input already read but not yet inflated comes first.
  if (format_ == Format::kGzip && inflater_->stream.avail_in > 0) return Inflate();

  if (!regular_) {
    pollfd pfd{fd_, POLLIN, 0};
    int ready;
    do {
      ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
    } while (ready < 0 && errno == EINTR);
    if (ready < 0) return Status::IoError(ErrnoMessage("cannot poll", options_.path));
    if (ready == 0) return Fill::kTimeout;
  }
  ssize_t n;
  do {
    n = ::read(fd_, raw_.data(), raw_.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Fill::kTimeout;
    return Status::IoError(ErrnoMessage("cannot read", options_.path));
  }
  if (n == 0) return Fill::kEof;

  if (format_ == Format::kUnknown) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(raw_.data());
    format_ = (n >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) ? Format::kGzip : Format::kPlain;
    if (format_ == Format::kGzip) {
      inflater_ = std::make_unique<Inflater>();
      // 15 + 16: gzip wrapper only.
      if (inflateInit2(&inflater_->stream, 15 + 16) != Z_OK) {
        return Status::Internal("file source: cannot initialise zlib");
      }
      inflater_->initialized = true;
      decoded_.resize(kDecodedChunk);
    }
  }
  if (format_ == Format::kPlain) {
    data_ = raw_.data();
    data_len_ = static_cast<size_t>(n);
    data_pos_ = 0;
    return Fill::kData;
  }
  inflater_->stream.next_in = reinterpret_cast<Bytef*>(raw_.data());
  inflater_->stream.avail_in = static_cast<uInt>(n);
  return Inflate();
}

Result<FileSource::Fill> FileSource::Inflate() {
  z_stream& stream = inflater_->stream;
  if (inflater_->member_ended) {
    // Another gzip member follows (concatenated .gz files, or a writer appending members).
    inflateReset(&stream);
    inflater_->member_ended = false;
  }
  stream.next_out = reinterpret_cast<Bytef*>(decoded_.data());
  stream.avail_out = static_cast<uInt>(decoded_.size());
  const int ret = inflate(&stream, Z_NO_FLUSH);
  if (ret == Z_STREAM_END) {
    inflater_->member_ended = true;
  } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
    return Status::IoError("file source: " + options_.path + ": corrupt gzip data" +
                           (stream.msg ? std::string(": ") + stream.msg : std::string()));
  }
  data_ = decoded_.data();
  data_len_ = decoded_.size() - stream.avail_out;
  data_pos_ = 0;
  return Fill::kData;
}

}  // namespace klaxon::connectors
