#include "actions/render.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "actions/signing.h"
#include "engine/sentry_event.h"
#include "engine/time_format.h"

namespace klaxon::actions {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 14> kSensitive = {
    "password",     "secret",    "passwd",      "api_key",     "apikey",
    "access_token", "auth",      "credentials", "token",       "private_key",
    "privatekey",   "mysql_pwd", "stripetoken", "github_token"};

bool LuhnValid(const std::string& digits) {
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

std::string ValueText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return v.dump();
  if (v.is_number()) return FormatNumber(v.get<double>());
  if (v.is_null()) return "";
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string GroupValueText(const std::optional<std::string>& v) { return v ? *v : ""; }

}  // namespace

std::string FormatWindow(int64_t ms) { return FormatDurationMs(ms); }

std::string FormatNumber(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string FormatIso8601(int64_t unix_ms) { return FormatTimeMs(unix_ms); }

bool IsSensitiveKey(std::string_view key) {
  std::string lower(key);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view s : kSensitive) {
    if (lower.find(s) != std::string::npos) return true;
  }
  // Sentry lists card[number]; match the usual spellings of a card-number field.
  return lower.find("card[number]") != std::string::npos ||
         lower.find("card_number") != std::string::npos ||
         lower.find("cardnumber") != std::string::npos;
}

std::string ScrubCardNumbers(std::string_view text) {
  std::string out;
  size_t i = 0;
  size_t copied = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])) ||
        (i > 0 && std::isdigit(static_cast<unsigned char>(text[i - 1])))) {
      ++i;
      continue;
    }
    // A run of digits with single spaces or dashes between them.
    std::string digits;
    size_t j = i;
    size_t end = i;
    while (j < text.size()) {
      if (std::isdigit(static_cast<unsigned char>(text[j]))) {
        digits.push_back(text[j]);
        end = ++j;
      } else if ((text[j] == ' ' || text[j] == '-') && j + 1 < text.size() &&
                 std::isdigit(static_cast<unsigned char>(text[j + 1]))) {
        ++j;
      } else {
        break;
      }
      if (digits.size() > 19) break;
    }
    if (digits.size() >= 13 && digits.size() <= 19 && LuhnValid(digits) &&
        (end >= text.size() || !std::isdigit(static_cast<unsigned char>(text[end])))) {
      out.append(text.substr(copied, i - copied));
      out.append(kFiltered);
      copied = end;
      i = end;
    } else {
      i = end > i ? end : i + 1;
    }
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

void ScrubJson(json& value) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (IsSensitiveKey(it.key()) && !it.value().is_null()) {
        it.value() = kFiltered;
      } else {
        ScrubJson(it.value());
      }
    }
  } else if (value.is_array()) {
    // Sentry's tag lists: [["api_key", "..."], ...].
    if (value.size() == 2 && value[0].is_string() && IsSensitiveKey(value[0].get<std::string>())) {
      value[1] = kFiltered;
      return;
    }
    for (json& e : value) ScrubJson(e);
  } else if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    std::string scrubbed = ScrubCardNumbers(s);
    if (scrubbed != s) value = std::move(scrubbed);
  }
}

namespace {

// Unit-separated; a missing group value differs from an empty one. Built with append() (GCC 12
// -O3 raises a false -Wrestrict on chains of operator+).
void AppendGroup(std::string& material, const std::vector<std::optional<std::string>>& group) {
  for (const auto& g : group) {
    if (g) {
      material.append("\x1f").append("s").append(*g);
    } else {
      material.append("\x1f").append("n");
    }
  }
}

}  // namespace

std::string IdempotencyKey(const Notification& n) {
  std::string material = "klaxon-notification-v1\x1f";
  material.append(n.rule_id);
  AppendGroup(material, n.group);
  material.append("\x1f").append(std::to_string(n.episode_start_ms));
  material.append("\x1f").append(AlertStateName(n.state));
  material.append("\x1f").append(std::to_string(n.repeat_index));
  // One notification per event: the event tells two apart within one millisecond (new issues
  // of one rule without group by), and a redelivered event keeps its key.
  if (n.one_shot) material.append("\x1f").append(n.event_json);
  return Sha256Hex(material).substr(0, 32);
}

std::string EpisodeKey(std::string_view rule_id,
                       const std::vector<std::optional<std::string>>& group) {
  std::string material = "klaxon-episode-v1\x1f";
  material.append(rule_id);
  AppendGroup(material, group);
  return Sha256Hex(material).substr(0, 32);
}

std::string AlertOrderKey(const Notification& n, const Rule& rule) {
  if (!HasEpisodes(rule.condition)) return std::string();
  return EpisodeKey(n.rule_id.empty() ? rule.id : n.rule_id, n.group);
}

RenderContext::RenderContext(const Notification& n, const Rule& rule) : n_(n), rule_(rule) {
  if (!n.event_json.empty()) {
    event_ = json::parse(n.event_json, nullptr, /*allow_exceptions=*/false);
    if (event_.is_discarded() || !event_.is_object()) event_ = nullptr;
    ScrubJson(event_);
  }
  for (size_t i = 0; i < n.group.size(); ++i) {
    std::string name =
        i < rule.group_by.size() ? rule.group_by[i].name : "group" + std::to_string(i);
    std::string value = GroupValueText(n.group[i]);
    value =
        IsSensitiveKey(name) && !value.empty() ? std::string(kFiltered) : ScrubCardNumbers(value);
    group_.emplace_back(std::move(name), std::move(value));
  }
}

std::string RenderContext::GroupText() const {
  std::string out;
  for (const auto& [k, v] : group_) {
    if (!out.empty()) out += ", ";
    out += k + "=" + v;
  }
  return out;
}

json RenderContext::Tags() const {
  json out = json::object();
  if (!event_.is_object()) return out;
  auto it = event_.find("tags");
  if (it == event_.end()) {
  } else if (it->is_object()) {
    for (auto t = it->begin(); t != it->end(); ++t) out[t.key()] = ValueText(t.value());
  } else if (it->is_array()) {
    for (const json& pair : *it) {
      if (pair.is_array() && pair.size() == 2 && pair[0].is_string()) {
        out[pair[0].get<std::string>()] = ValueText(pair[1]);
      }
    }
  }
  // Sentry promotes these attributes to tags; receivers expect them there.
  for (const char* key : {"environment", "release", "level"}) {
    auto attr = event_.find(key);
    if (!out.contains(key) && attr != event_.end() && attr->is_string()) out[key] = *attr;
  }
  return out;
}

namespace {

std::string_view StringAt(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? std::string_view(it->get_ref<const std::string&>())
                                            : std::string_view();
}

// The parts of a parsed event that Sentry's title depends on (engine/sentry_event.h).
void SentryParts(const json& e, SentryEventParts& parts) {
  auto stack_of = [&](const json& holder) {
    SentryStack s{static_cast<uint32_t>(parts.frames.size()), 0};
    const json* frames = nullptr;
    if (holder.is_object() && holder.contains("stacktrace") && holder["stacktrace"].is_object() &&
        holder["stacktrace"].contains("frames") && holder["stacktrace"]["frames"].is_array())
      frames = &holder["stacktrace"]["frames"];
    if (frames != nullptr) {
      for (const json& f : *frames) {
        if (!f.is_object()) continue;
        auto in_app = f.find("in_app");
        parts.frames.push_back({StringAt(f, "module"), StringAt(f, "filename"),
                                StringAt(f, "function"),
                                in_app != f.end() && in_app->is_boolean() && in_app->get<bool>()});
      }
    }
    s.frame_end = static_cast<uint32_t>(parts.frames.size());
    return s;
  };
  auto values_of = [](const json& iface) -> const json* {
    if (iface.is_array()) return &iface;  // sentry-go's bare list
    if (iface.is_object() && iface.contains("values") && iface["values"].is_array())
      return &iface["values"];
    return nullptr;
  };
  parts.Clear();
  if (auto it = e.find("exception"); it != e.end()) {
    if (const json* values = values_of(*it)) {
      for (const json& x : *values) {
        if (!x.is_object()) continue;
        SentryException ex{StringAt(x, "type"), StringAt(x, "value"), std::nullopt, stack_of(x)};
        auto m = x.find("mechanism");
        if (m != x.end() && m->is_object() && m->contains("handled") &&
            (*m)["handled"].is_boolean())
          ex.handled = (*m)["handled"].get<bool>();
        parts.exceptions.push_back(ex);
      }
    }
  }
  if (auto it = e.find("threads"); it != e.end()) {
    if (const json* values = values_of(*it)) {
      for (const json& t : *values) {
        if (!t.is_object()) continue;
        parts.threads.push_back(
            {t.value("crashed", false) == true, t.value("current", false) == true, stack_of(t)});
      }
    }
  }
  if (e.contains("stacktrace")) parts.stacktrace = stack_of(e);
  if (auto it = e.find("fingerprint"); it != e.end() && it->is_array()) {
    for (const json& f : *it) {
      if (f.is_string()) parts.fingerprint.push_back(f.get_ref<const std::string&>());
    }
  }
  // `logentry`, or its legacy spelling: an object under `message`.
  for (const char* key : {"logentry", "message"}) {
    auto log = e.find(key);
    if (log == e.end() || !log->is_object()) continue;
    parts.logentry_message = StringAt(*log, "message");
    parts.logentry_formatted = StringAt(*log, "formatted");
    break;
  }
  parts.message = StringAt(e, "message");
  parts.type = StringAt(e, "type");
  parts.project = StringAt(e, "project");
}

}  // namespace

std::optional<std::string> RenderContext::EventField(std::string_view path) const {
  if (!event_.is_object()) return std::nullopt;
  if (path == "title" && !event_.contains("title")) {
    // Computed as the rule field `title` is (engine/sentry_event.h).
    SentryEventParts parts;
    SentryParts(event_, parts);
    std::string out;
    SentryTitle(parts, out);
    return out;
  }
  if (path.starts_with("tags.")) {
    json tags = Tags();
    auto it = tags.find(std::string(path.substr(5)));
    if (it == tags.end()) return std::nullopt;
    return ValueText(*it);
  }
  const json* node = &event_;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    const std::string seg(path.substr(start, dot - start));
    start = dot + 1;
    if (node->is_array()) {
      if (node->empty()) return std::nullopt;
      const bool numeric = !seg.empty() && std::all_of(seg.begin(), seg.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      });
      if (numeric) {
        size_t idx = 0;
        const auto [end, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), idx);
        if (ec != std::errc() || idx >= node->size()) return std::nullopt;
        node = &(*node)[idx];
        if (dot == path.size()) break;
        continue;
      }
      // Sentry lists chained exceptions cause first: the last entry is the outermost one.
      node = &node->back();
    }
    if (!node->is_object()) return std::nullopt;
    auto it = node->find(seg);
    if (it == node->end()) {
      // `exception.type` means exception.values[last].type (Sentry's interface shape).
      auto values = node->find("values");
      if (values == node->end() || !values->is_array() || values->empty() ||
          !values->back().is_object())
        return std::nullopt;
      it = values->back().find(seg);
      if (it == values->back().end()) return std::nullopt;
    }
    node = &*it;
    if (dot == path.size()) break;
  }
  return ValueText(*node);
}

std::optional<std::string> RenderContext::Get(std::string_view name) const {
  if (name == "count" || name == "value") return FormatNumber(n_.value);
  if (name == "threshold") return FormatNumber(n_.threshold);
  if (name == "window") return FormatWindow(n_.window_ms);
  if (name == "rule.name" || name == "rule") return rule_.name.empty() ? n_.rule_name : rule_.name;
  if (name == "rule.severity" || name == "severity")
    return std::string(SeverityName(rule_.severity));
  if (name == "rule.id") return n_.rule_id.empty() ? rule_.id : n_.rule_id;
  if (name == "state") return std::string(AlertStateName(n_.state));
  if (name == "at") return FormatIso8601(n_.at_ms);
  if (name == "group") return GroupText();
  if (name.starts_with("group.")) {
    const std::string_view field = name.substr(6);
    for (const auto& [k, v] : group_) {
      if (k == field) return v;
    }
    return std::nullopt;
  }
  if (name.starts_with("labels.")) {
    const std::string_view key = name.substr(7);
    for (const auto& [k, v] : rule_.labels) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
  if (name.starts_with("event.")) return EventField(name.substr(6));
  return std::nullopt;
}

std::string RenderContext::Render(const Template& t) const {
  return RenderTemplate(t, [this](std::string_view name) { return Get(name); });
}

std::string RenderContext::ConditionText() const {
  const Condition& c = rule_.condition;
  if (!HasEpisodes(c)) return "";
  std::string out = std::string(CompareOpText(c.op)) + " " + FormatNumber(n_.threshold);
  if (c.kind == Condition::Kind::kChange || c.kind == Condition::Kind::kRatio) out += "%";
  if (n_.window_ms > 0) out += " in " + FormatWindow(n_.window_ms);
  return out;
}

std::string RenderContext::Summary() const {
  if (!rule_.summary.empty()) {
    auto t = CompileTemplate(rule_.summary);
    if (t.ok()) {
      std::string s = Render(*t);
      if (!s.empty()) return s;
    }
  }
  std::string name = rule_.name.empty() ? n_.rule_name : rule_.name;
  const std::string cond = ConditionText();
  if (!cond.empty()) return name + ": " + FormatNumber(n_.value) + " (" + cond + ")";
  auto type = Get("event.exception.type");
  auto message = Get("event.message");
  if (type && !type->empty()) return name + ": " + *type;
  if (message && !message->empty()) return name + ": " + *message;
  return name;
}

std::string RenderContext::Description() const {
  if (rule_.description.empty()) return "";
  auto t = CompileTemplate(rule_.description);
  return t.ok() ? Render(*t) : "";
}

Notification MakeTestNotification(const Rule& rule, uint32_t rule_index, int64_t now_ms) {
  Notification n;
  n.at_ms = now_ms;
  n.rule_index = rule_index;
  n.rule_name = rule.name;
  n.rule_id = rule.id.empty() ? rule.name : rule.id;
  n.state = AlertState::kFiring;
  for (size_t i = 0; i < rule.group_by.size(); ++i) n.group.emplace_back("test");
  n.threshold = rule.condition.threshold;
  n.value = rule.condition.threshold + 1;
  n.window_ms = rule.condition.window_ms;
  n.episode_start_ms = now_ms;
  n.window_start_ms = now_ms - rule.condition.window_ms;
  n.window_end_ms = now_ms;
  json event = {{"event_id", "klaxon-test-" + std::to_string(now_ms)},
                {"message", "Test notification from klaxon notify"},
                {"level", "info"},
                {"timestamp", static_cast<double>(now_ms) / 1000.0},
                {"tags", {{"klaxon_test", "true"}}}};
  n.event_json = event.dump();
  n.event_ids.push_back("klaxon-test-" + std::to_string(now_ms));
  return n;
}

}  // namespace klaxon::actions
