// Sentry's derived event attributes: the issue (default grouping), the title, the event type and
// whether an error was handled, computed from the parts of an event that determine them.
//
// The decoder fills SentryEventParts from simdjson while it walks an event (only when a rule
// reads a derived field); actions fill it from a parsed event for templates. Views point into
// the caller's buffers. Pure functions; the algorithm is documented in docs/rules.md ("Issues").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace klaxon {

struct SentryFrame {
  std::string_view module;
  std::string_view filename;
  std::string_view function;
  bool in_app = false;
};

// A run of frames in SentryEventParts::frames: one exception's or one thread's stack trace.
struct SentryStack {
  uint32_t frame_begin = 0;
  uint32_t frame_end = 0;
};

struct SentryException {
  std::string_view type;
  std::string_view value;
  std::optional<bool> handled;  // mechanism.handled
  SentryStack stack;
};

struct SentryThread {
  bool crashed = false;
  bool current = false;
  SentryStack stack;
};

struct SentryEventParts {
  std::vector<SentryException> exceptions;  // in event order: the cause first, the main last
  std::vector<SentryThread> threads;
  std::optional<SentryStack> stacktrace;  // the event's top-level `stacktrace`
  std::vector<SentryFrame> frames;        // in event order: the outermost call first
  std::vector<std::string_view> fingerprint;
  std::string_view logentry_message;    // the template, before formatting
  std::string_view logentry_formatted;  // the formatted text
  std::string_view message;             // `message` as a string
  std::string_view type;                // the event's own `type`
  std::string_view project;

  void Clear();
};

// The issue: 16 lowercase hex digits of Fnv1a64 over the grouping components (the project, then
// the fingerprint with `{{ default }}` expanded, or the default grouping). `scratch` is reused.
void SentryIssue(const SentryEventParts& e, std::string& scratch, std::string& out);

// Sentry's title: "Type: first line of the value" (cut at 100 characters) of the main (last)
// exception, else the first line of the message, else "<unlabeled event>".
void SentryTitle(const SentryEventParts& e, std::string& out);

// The event's `type` when set, else "error" with an exception, else "default".
std::string_view SentryEventType(const SentryEventParts& e);

// Sentry's `error.handled`: no exception's mechanism says handled: false.
bool SentryErrorHandled(const SentryEventParts& e);

}  // namespace klaxon
