#include "engine/sentry_event.h"

#include "engine/hash.h"

namespace klaxon {
namespace {

constexpr size_t kTitleChars = 100;  // Sentry's truncatechars default

// One grouping component: a kind byte, the length, the text (length-prefixed so that no two
// different component lists serialise alike).
void Component(std::string& out, char kind, std::string_view text) {
  out.push_back(kind);
  const auto n = static_cast<uint32_t>(text.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.append(text);
}

bool AnyInApp(const SentryEventParts& e, SentryStack s) {
  for (uint32_t i = s.frame_begin; i < s.frame_end; ++i) {
    if (e.frames[i].in_app) return true;
  }
  return false;
}

// The frames of a stack that group: the in-app ones, or all of them when `all`. Returns how
// many it wrote. A frame is its module (its file name when it has none) and its function.
size_t Frames(const SentryEventParts& e, SentryStack s, bool all, std::string& out) {
  size_t n = 0;
  for (uint32_t i = s.frame_begin; i < s.frame_end; ++i) {
    const SentryFrame& f = e.frames[i];
    if (!all && !f.in_app) continue;
    Component(out, 'm', f.module.empty() ? f.filename : f.module);
    Component(out, 'f', f.function);
    ++n;
  }
  return n;
}

// Sentry's threads strategy: the crashed thread, else the current one, else the only one.
const SentryThread* GroupingThread(const SentryEventParts& e) {
  for (const bool crashed : {true, false}) {
    const SentryThread* found = nullptr;
    size_t count = 0;
    for (const SentryThread& t : e.threads) {
      if (t.stack.frame_end == t.stack.frame_begin) continue;
      if (crashed ? t.crashed : t.current) {
        found = &t;
        ++count;
      }
    }
    if (count == 1) return found;
    if (count > 1) return nullptr;
  }
  size_t with_frames = 0;
  const SentryThread* only = nullptr;
  for (const SentryThread& t : e.threads) {
    if (t.stack.frame_end != t.stack.frame_begin) {
      only = &t;
      ++with_frames;
    }
  }
  return with_frames == 1 ? only : nullptr;
}

void DefaultGrouping(const SentryEventParts& e, std::string& out) {
  if (!e.exceptions.empty()) {
    bool in_app = false;
    for (const SentryException& x : e.exceptions) in_app |= AnyInApp(e, x.stack);
    for (const SentryException& x : e.exceptions) {
      Component(out, 't', x.type);
      // The value groups only an exception whose stack trace does not.
      if (Frames(e, x.stack, !in_app, out) == 0) Component(out, 'v', x.value);
    }
    return;
  }
  std::optional<SentryStack> stack;
  if (const SentryThread* t = GroupingThread(e)) stack = t->stack;
  if (!stack && e.stacktrace && e.stacktrace->frame_end > e.stacktrace->frame_begin)
    stack = e.stacktrace;
  if (stack) {
    Frames(e, *stack, !AnyInApp(e, *stack), out);
    return;
  }
  const std::string_view m = !e.logentry_message.empty()     ? e.logentry_message
                             : !e.logentry_formatted.empty() ? e.logentry_formatted
                                                             : e.message;
  if (!m.empty()) Component(out, 's', m);
}

bool IsDefaultVariable(std::string_view s) { return s == "{{ default }}" || s == "{{default}}"; }

// Appends the first line of `text`, cut to kTitleChars characters (UTF-8 code points) with
// "..." as Sentry's truncatechars does.
void FirstLine(std::string_view text, std::string& out) {
  const size_t nl = text.find_first_of("\r\n");
  if (nl != std::string_view::npos) text = text.substr(0, nl);
  size_t chars = 0;
  size_t cut = text.size();
  size_t keep = text.size();  // end of the first kTitleChars - 3 characters
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (chars == kTitleChars - 3) keep = i;
    if (chars == kTitleChars) {
      cut = i;
      break;
    }
    ++chars;
  }
  if (cut == text.size()) {
    out.append(text);
  } else {
    out.append(text.substr(0, keep));
    out.append("...");
  }
}

}  // namespace

void SentryEventParts::Clear() {
  exceptions.clear();
  threads.clear();
  stacktrace.reset();
  frames.clear();
  fingerprint.clear();
  logentry_message = logentry_formatted = message = type = project = {};
}

void SentryIssue(const SentryEventParts& e, std::string& scratch, std::string& out) {
  scratch.clear();
  if (!e.project.empty()) Component(scratch, 'p', e.project);
  if (e.fingerprint.empty()) {
    DefaultGrouping(e, scratch);
  } else {
    for (const std::string_view part : e.fingerprint) {
      if (IsDefaultVariable(part)) {
        Component(scratch, 'd', {});
        DefaultGrouping(e, scratch);
      } else {
        Component(scratch, 'x', part);
      }
    }
  }
  const uint64_t h = Fnv1a64(scratch);
  static constexpr char kHex[] = "0123456789abcdef";
  out.clear();
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(h >> shift) & 0xf]);
}

void SentryTitle(const SentryEventParts& e, std::string& out) {
  out.clear();
  if (!e.exceptions.empty()) {
    const SentryException& main = e.exceptions.back();
    out.append(main.type);
    if (!main.value.empty()) {
      if (!out.empty()) out.append(": ");
      FirstLine(main.value, out);
    }
  } else {
    const std::string_view m = !e.logentry_formatted.empty() ? e.logentry_formatted
                               : !e.logentry_message.empty() ? e.logentry_message
                                                             : e.message;
    FirstLine(m, out);
  }
  if (out.empty()) out = "<unlabeled event>";
}

std::string_view SentryEventType(const SentryEventParts& e) {
  if (!e.type.empty()) return e.type;
  return e.exceptions.empty() ? "default" : "error";
}

bool SentryErrorHandled(const SentryEventParts& e) {
  for (const SentryException& x : e.exceptions) {
    if (x.handled.has_value() && !*x.handled) return false;
  }
  return true;
}

}  // namespace klaxon
