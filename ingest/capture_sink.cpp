#include "ingest/capture_sink.h"

#include <cerrno>
#include <cstring>

namespace klaxon::ingest {

Result<std::unique_ptr<CaptureSink>> CaptureSink::Open(const std::string& path,
                                                       std::unique_ptr<EventSink> inner) {
  std::FILE* file = std::fopen(path.c_str(), "ae");
  if (file == nullptr) {
    return Status::IoError("sentry.capture: cannot open " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<CaptureSink>(new CaptureSink(file, std::move(inner)));
}

CaptureSink::~CaptureSink() { std::fclose(file_); }

Status CaptureSink::Offer(std::string& event) {
  std::string copy = event;
  // Under the lock, so the file's order is the order the pipeline receives events in.
  std::lock_guard lock(mu_);
  Status st = inner_->Offer(event);
  if (!st.ok()) return st;
  copy.push_back('\n');
  std::fwrite(copy.data(), 1, copy.size(), file_);
  std::fflush(file_);
  return Status::Ok();
}

}  // namespace klaxon::ingest
