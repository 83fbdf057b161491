// `sentry.capture`: a debugging aid that appends every accepted event, exactly as handed to the
// pipeline (with `project` and `project_id`), as one line of a JSON Lines file, so the same
// events can be replayed with `klaxon replay`. Wraps the real sink; thread-safe.
#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "ingest/event_sink.h"

namespace klaxon::ingest {

class CaptureSink : public EventSink {
 public:
  // Opens `path` for appending; IoError when it cannot.
  static Result<std::unique_ptr<CaptureSink>> Open(const std::string& path,
                                                   std::unique_ptr<EventSink> inner);
  ~CaptureSink() override;
  // Offers to the inner sink; once it took the event, appends it (and flushes).
  Status Offer(std::string& event) override;
  const char* unavailable_reason() const override { return inner_->unavailable_reason(); }

 private:
  CaptureSink(std::FILE* file, std::unique_ptr<EventSink> inner)
      : file_(file), inner_(std::move(inner)) {}
  std::mutex mu_;
  std::FILE* file_;
  std::unique_ptr<EventSink> inner_;
};

}  // namespace klaxon::ingest
