#include "actions/silence.h"

#include <re2/re2.h>

namespace klaxon::actions {

namespace {

constexpr size_t kMaxMatchers = 64;
constexpr size_t kMaxValueBytes = 1024;
constexpr size_t kMaxTextBytes = 4096;

void AddLabel(AlertLabels& labels, std::string name, std::string value) {
  for (const auto& [n, v] : labels) {
    if (n == name) return;
  }
  labels.emplace_back(std::move(name), std::move(value));
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '[' || c == ']' || c == '-';
}

}  // namespace

AlertLabels LabelsOf(const Notification& n, const Rule& rule) {
  AlertLabels labels;
  AddLabel(labels, "alertname", rule.name);
  AddLabel(labels, "rule", rule.name);
  AddLabel(labels, "severity", SeverityName(rule.severity));
  for (size_t i = 0; i < rule.group_by.size(); ++i) {
    const bool present = i < n.group.size() && n.group[i].has_value();
    AddLabel(labels, rule.group_by[i].name, present ? *n.group[i] : std::string());
  }
  for (const auto& [k, v] : rule.labels) AddLabel(labels, k, v);
  return labels;
}

bool SilenceMatcher::Matches(std::string_view label_value) const {
  switch (op) {
    case Op::kEqual:
      return label_value == value;
    case Op::kNotEqual:
      return label_value != value;
    case Op::kRegex:
      return RE2::FullMatch(re2::StringPiece(label_value.data(), label_value.size()), *regex);
    case Op::kNotRegex:
      return !RE2::FullMatch(re2::StringPiece(label_value.data(), label_value.size()), *regex);
  }
  return false;
}

Result<SilenceMatcher> MakeMatcher(std::string name, SilenceMatcher::Op op, std::string value) {
  if (name.empty()) return Status::InvalidArgument("a matcher needs a label name");
  for (char c : name) {
    if (!IsNameChar(c)) {
      return Status::InvalidArgument("label name `" + name + "` has a character `" +
                                     std::string(1, c) + "` that no label name has");
    }
  }
  if (value.size() > kMaxValueBytes) {
    return Status::InvalidArgument("matcher value for `" + name + "` is longer than 1024 bytes");
  }
  SilenceMatcher m;
  m.name = std::move(name);
  m.op = op;
  m.value = std::move(value);
  if (op == SilenceMatcher::Op::kRegex || op == SilenceMatcher::Op::kNotRegex) {
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_shared<RE2>(m.value, options);
    if (!re->ok()) {
      return Status::InvalidArgument("matcher `" + m.name + MatcherOpText(op) +
                                     "`: " + re->error());
    }
    m.regex = std::move(re);
  }
  return m;
}

Result<SilenceMatcher> ParseMatcher(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  const size_t name_start = i;
  while (i < text.size() && IsNameChar(text[i])) ++i;
  std::string name(text.substr(name_start, i - name_start));
  while (i < text.size() && text[i] == ' ') ++i;
  SilenceMatcher::Op op;
  const std::string_view rest = text.substr(i);
  if (rest.starts_with("=~")) {
    op = SilenceMatcher::Op::kRegex;
    i += 2;
  } else if (rest.starts_with("!~")) {
    op = SilenceMatcher::Op::kNotRegex;
    i += 2;
  } else if (rest.starts_with("!=")) {
    op = SilenceMatcher::Op::kNotEqual;
    i += 2;
  } else if (rest.starts_with("=")) {
    op = SilenceMatcher::Op::kEqual;
    i += 1;
  } else {
    return Status::InvalidArgument("matcher `" + std::string(text) +
                                   "`: expected name=value, name!=value, name=~regex or "
                                   "name!~regex");
  }
  while (i < text.size() && text[i] == ' ') ++i;
  std::string value;
  if (i < text.size() && text[i] == '"') {
    ++i;
    bool closed = false;
    while (i < text.size()) {
      const char c = text[i++];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\' && i < text.size()) {
        value.push_back(text[i++]);
      } else {
        value.push_back(c);
      }
    }
    if (!closed) {
      return Status::InvalidArgument("matcher `" + std::string(text) + "`: unterminated quote");
    }
    while (i < text.size() && text[i] == ' ') ++i;
    if (i != text.size()) {
      return Status::InvalidArgument("matcher `" + std::string(text) +
                                     "`: unexpected text after the quoted value");
    }
  } else {
    size_t end = text.size();
    while (end > i && text[end - 1] == ' ') --end;
    value = std::string(text.substr(i, end - i));
    // `alertname==x` or `a=~~b`: an operator typed twice would silently become part of the value.
    if (!value.empty() && (value.front() == '=' || value.front() == '~')) {
      return Status::InvalidArgument("matcher `" + std::string(text) +
                                     "`: the value starts with `" + value.substr(0, 1) +
                                     "`; write name=value, name!=value, name=~regex or "
                                     "name!~regex (quote a value that starts with it)");
    }
  }
  return MakeMatcher(std::move(name), op, std::move(value));
}

Result<std::vector<SilenceMatcher>> ParseMatchers(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, text.size() - 2);
  }
  std::vector<SilenceMatcher> out;
  std::string problems;
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i <= text.size(); ++i) {
    const bool end = i == text.size();
    if (!end && quoted && text[i] == '\\') {
      ++i;
      continue;
    }
    if (!end && text[i] == '"') quoted = !quoted;
    if (!end && (quoted || (text[i] != ',' && text[i] != '\n'))) continue;
    std::string_view one = text.substr(start, i - start);
    start = i + 1;
    while (!one.empty() && (one.back() == '\r' || one.back() == ' ')) one.remove_suffix(1);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    if (one.empty()) continue;
    Result<SilenceMatcher> m = ParseMatcher(one);
    if (!m.ok()) {
      problems += (problems.empty() ? "" : "; ") + m.status().message();
      continue;
    }
    out.push_back(std::move(m).value());
  }
  if (!problems.empty()) return Status::InvalidArgument(problems);
  return out;
}

const char* MatcherOpText(SilenceMatcher::Op op) {
  switch (op) {
    case SilenceMatcher::Op::kEqual:
      return "=";
    case SilenceMatcher::Op::kNotEqual:
      return "!=";
    case SilenceMatcher::Op::kRegex:
      return "=~";
    case SilenceMatcher::Op::kNotRegex:
      return "!~";
  }
  return "=";
}

std::string FormatMatcher(const SilenceMatcher& m) {
  std::string out = m.name + MatcherOpText(m.op) + "\"";
  for (char c : m.value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

SilenceState StateAt(const Silence& s, int64_t now_ms) {
  if (now_ms < s.starts_at_ms) return SilenceState::kPending;
  if (now_ms < s.ends_at_ms) return SilenceState::kActive;
  return SilenceState::kExpired;
}

const char* SilenceStateName(SilenceState s) {
  switch (s) {
    case SilenceState::kPending:
      return "pending";
    case SilenceState::kActive:
      return "active";
    case SilenceState::kExpired:
      return "expired";
  }
  return "expired";
}

Status ValidateSilence(const Silence& s) {
  std::string problems;
  auto add = [&problems](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  if (s.matchers.empty()) add("a silence needs at least one matcher");
  if (s.matchers.size() > kMaxMatchers) add("a silence has at most 64 matchers");
  bool selective = false;
  for (const SilenceMatcher& m : s.matchers) {
    if (!m.Matches("")) selective = true;
  }
  if (!s.matchers.empty() && !selective) {
    add("at least one matcher must not match the empty string (this silence would mute every "
        "alert)");
  }
  if (s.ends_at_ms <= s.starts_at_ms) add("the end must be after the start");
  if (s.created_by.empty()) add("created_by: say who silences");
  if (s.comment.empty()) add("comment: say why");
  if (s.created_by.size() > kMaxTextBytes || s.comment.size() > kMaxTextBytes) {
    add("created_by and comment are at most 4096 bytes");
  }
  if (!problems.empty()) return Status::InvalidArgument(problems);
  return Status::Ok();
}

bool Matches(const Silence& s, const AlertLabels& labels) {
  for (const SilenceMatcher& m : s.matchers) {
    std::string_view value;
    for (const auto& [n, v] : labels) {
      if (n == m.name) {
        value = v;
        break;
      }
    }
    if (!m.Matches(value)) return false;
  }
  return !s.matchers.empty();
}

}  // namespace klaxon::actions
