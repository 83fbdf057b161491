#include "service/task_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "engine/hash.h"
#include "engine/state_codec.h"

namespace klaxon::service {

namespace {

constexpr size_t kFrameHeader = 4 + 8;
constexpr uint32_t kMaxFrame = 64u << 20;  // far above a changelog record (at most 512 KiB)
constexpr size_t kWriteChunk = 1 << 20;
constexpr uint64_t kOversizeSlack = 16u << 20;

Status IoError(const std::string& what, const std::string& path) {
  return Status::IoError("scale_out's local cache: " + what + " " + path + ": " +
                         std::strerror(errno));
}

void AppendFrame(std::string_view body, std::string& out) {
  StateWriter w(out);
  w.U32(static_cast<uint32_t>(body.size()));
  w.U64(Fnv1a64(body));
  out.append(body);
}

void RecordBody(std::string_view key, std::optional<std::string_view> value, std::string& body) {
  body.clear();
  StateWriter w(body);
  w.U8('R');
  w.Str(key);
  w.U8(value ? 1 : 0);
  if (value) w.Str(*value);
}

void EndBody(int64_t end, std::string& body) {
  body.clear();
  StateWriter w(body);
  w.U8('E');
  w.I64(end);
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

std::string TaskCache::PathFor(const std::string& dir, int32_t partition) {
  return dir + "/changelog-" + std::to_string(partition);
}

Result<std::optional<int64_t>> TaskCache::Load(const std::string& path,
                                               ChangelogCollector& collector, int64_t& records) {
  records = 0;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<int64_t>();
    return IoError("cannot open", path);
  }
  // Frames are applied once an 'E' vouches for them: those after the last one are dropped.
  struct Pending {
    std::string key;
    std::optional<std::string> value;
  };
  std::vector<Pending> pending;
  std::optional<int64_t> end;
  std::string buffer;
  size_t pos = 0;
  bool eof = false;
  auto fill = [&](size_t need) -> Status {
    while (buffer.size() - pos < need && !eof) {
      if (pos > 0) {
        buffer.erase(0, pos);
        pos = 0;
      }
      const size_t old = buffer.size();
      buffer.resize(old + std::max(need, kWriteChunk));
      const ssize_t n = ::read(fd, buffer.data() + old, buffer.size() - old);
      if (n < 0) {
        if (errno == EINTR) {
          buffer.resize(old);
          continue;
        }
        return IoError("cannot read", path);
      }
      buffer.resize(old + static_cast<size_t>(n));
      if (n == 0) eof = true;
    }
    return Status::Ok();
  };
  Status st = Status::Ok();
  while (true) {
    if (st = fill(kFrameHeader); !st.ok() || buffer.size() - pos < kFrameHeader) break;
    StateReader header(std::string_view(buffer).substr(pos, kFrameHeader));
    const uint32_t length = header.U32();
    const uint64_t sum = header.U64();
    if (length == 0 || length > kMaxFrame) break;  // torn or not ours: the rest is the changelog's
    if (st = fill(kFrameHeader + length); !st.ok() || buffer.size() - pos < kFrameHeader + length) {
      break;
    }
    const std::string_view body = std::string_view(buffer).substr(pos + kFrameHeader, length);
    if (Fnv1a64(body) != sum) break;
    pos += kFrameHeader + length;
    StateReader r(body);
    const uint8_t kind = r.U8();
    if (kind == 'E') {
      const int64_t offset = r.I64();
      if (!r.ok() || r.Left() != 0 || offset < 0) break;
      for (Pending& p : pending) {
        collector.Add(p.key, p.value ? std::optional<std::string_view>(*p.value) : std::nullopt);
        ++records;
      }
      pending.clear();
      end = offset;
      continue;
    }
    if (kind != 'R') break;
    Pending p{std::string(r.Str()), std::nullopt};
    if (r.U8() != 0) p.value = std::string(r.Str());
    if (!r.ok() || r.Left() != 0) break;
    pending.push_back(std::move(p));
  }
  ::close(fd);
  if (!st.ok()) return st;
  return end;
}

Result<TaskCache> TaskCache::Write(const std::string& path, const ChangelogCollector& collector,
                                   int64_t end) {
  const std::string aside = path + ".new";
  const int fd = ::open(aside.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot create", aside);
  std::string out;
  std::string body;
  uint64_t size = 0;
  Status st = Status::Ok();
  collector.ForEach([&](std::string_view key, std::string_view value) {
    if (!st.ok()) return;
    RecordBody(key, value, body);
    AppendFrame(body, out);
    if (out.size() >= kWriteChunk) {
      st = WriteAll(fd, out, aside);
      size += out.size();
      out.clear();
    }
  });
  EndBody(end, body);
  AppendFrame(body, out);
  if (st.ok()) st = WriteAll(fd, out, aside);
  size += out.size();
  if (st.ok() && ::fsync(fd) != 0) st = IoError("cannot sync", aside);
  ::close(fd);
  std::error_code ec;
  if (st.ok()) std::filesystem::rename(aside, path, ec);
  if (st.ok() && ec)
    st = Status::IoError("scale_out's local cache: cannot rename " + aside + ": " + ec.message());
  if (!st.ok()) {
    std::filesystem::remove(aside, ec);
    return st;
  }
  const int append = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (append < 0) return IoError("cannot open", path);
  TaskCache cache(path, append, size);
  return cache;
}

TaskCache::TaskCache(std::string path, int fd, uint64_t size)
    : path_(std::move(path)), fd_(fd), size_(size), committed_(size), written_size_(size) {}

TaskCache::TaskCache(TaskCache&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      size_(other.size_),
      committed_(other.committed_),
      written_size_(other.written_size_),
      pending_(std::move(other.pending_)) {}

TaskCache& TaskCache::operator=(TaskCache&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
    committed_ = other.committed_;
    written_size_ = other.written_size_;
    pending_ = std::move(other.pending_);
  }
  return *this;
}

TaskCache::~TaskCache() {
  if (fd_ >= 0) ::close(fd_);
}

Status TaskCache::Add(std::string_view key, std::optional<std::string_view> value) {
  RecordBody(key, value, body_);
  AppendFrame(body_, pending_);
  // A large checkpoint (the first after a restore lists every group) goes out as it comes.
  return pending_.size() >= kWriteChunk ? Flush() : Status::Ok();
}

Status TaskCache::Flush() {
  if (fd_ < 0) return Status::IoError("scale_out's local cache: " + path_ + " is closed");
  if (Status st = WriteAll(fd_, pending_, path_); !st.ok()) return st;
  size_ += pending_.size();
  pending_.clear();
  return Status::Ok();
}

Status TaskCache::Commit(std::optional<int64_t> end) {
  if (end) {
    EndBody(*end, body_);
    AppendFrame(body_, pending_);
  }
  if (Status st = Flush(); !st.ok()) return st;
  committed_ = size_;
  return Status::Ok();
}

Status TaskCache::Abort() {
  pending_.clear();
  if (size_ == committed_) return Status::Ok();
  if (fd_ < 0 || ::ftruncate(fd_, static_cast<off_t>(committed_)) != 0) {
    return IoError("cannot cut back", path_);
  }
  size_ = committed_;
  return Status::Ok();
}

bool TaskCache::Oversized() const { return size_ > 2 * written_size_ + kOversizeSlack; }

}  // namespace klaxon::service
