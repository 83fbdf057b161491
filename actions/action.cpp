#include "actions/action.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include <nlohmann/json.hpp>

#include "actions/action_args.h"
#include "actions/action_schema.h"
#include "actions/render.h"

namespace klaxon::actions {
namespace {

constexpr size_t kMaxDetail = 512;

std::string PosText(const SourcePos& pos) {
  if (pos.line == 0) return pos.file.empty() ? "" : pos.file + ": ";
  return pos.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": ";
}

constexpr ActionKindEntry kBuiltinKinds[] = {
    {"slack", &CreateSlackAction}, {"pagerduty", &CreatePagerDutyAction},
    {"jira", &CreateJiraAction},   {"webhook", &CreateWebhookAction},
    {"log", &CreateLogAction},
};

}  // namespace

const char* TransportErrorName(TransportError e) {
  switch (e) {
    case TransportError::kNone:
      return "none";
    case TransportError::kBlocked:
      return "blocked";
    case TransportError::kBadUrl:
      return "bad_url";
    case TransportError::kResolve:
      return "resolve";
    case TransportError::kConnect:
      return "connect";
    case TransportError::kTimeout:
      return "timeout";
    case TransportError::kConnection:
      return "connection";
    case TransportError::kCancelled:
      return "cancelled";
  }
  return "none";
}

const std::string* HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      return &v;
  }
  return nullptr;
}

std::string TruncateChars(std::string_view text, size_t max_chars) {
  size_t chars = 0;
  size_t i = 0;
  size_t cut = std::string_view::npos;  // byte offset after max_chars - 1 code points
  while (i < text.size()) {
    if (chars == max_chars - 1 && cut == std::string_view::npos) cut = i;
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    i += len;
    ++chars;
  }
  if (chars <= max_chars) return std::string(text);
  if (max_chars == 0) return "";
  return std::string(text.substr(0, std::min(cut, text.size()))) + "\xE2\x80\xA6";  // …
}

std::string DumpJson(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_ms) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (value.size() > 9) return std::nullopt;
    int64_t seconds = 0;
    std::from_chars(value.data(), value.data() + value.size(), seconds);
    return seconds * 1000;
  }
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const int64_t at_ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  return std::max<int64_t>(0, at_ms - now_ms);
}

DeliveryResult ClassifyResponse(const HttpResponse& r, int64_t now_ms) {
  DeliveryResult out;
  if (r.error != TransportError::kNone) {
    out.reason = TransportErrorName(r.error);
    out.detail = r.error_detail;
    out.kind = (r.error == TransportError::kBlocked || r.error == TransportError::kBadUrl)
                   ? DeliveryResult::Kind::kFinal
                   : DeliveryResult::Kind::kRetry;
    return out;
  }
  out.reason = "http_" + std::to_string(r.status);
  if (r.status >= 200 && r.status < 300) {
    out.kind = DeliveryResult::Kind::kAccepted;
    return out;
  }
  out.detail = r.body.size() > kMaxDetail ? r.body.substr(0, kMaxDetail) + "..." : r.body;
  if (r.status == 410) {
    out.kind = DeliveryResult::Kind::kGone;
  } else if (r.status == 408 || r.status == 429 || r.status >= 500) {
    out.kind = DeliveryResult::Kind::kRetry;
    if (const std::string* ra = r.Header("Retry-After")) {
      if (auto ms = ParseRetryAfter(*ra, now_ms)) out.retry_after_ms = *ms;
    }
  } else {
    // 3xx: redirects are never followed (they could lead anywhere, past the SSRF guard).
    out.kind = DeliveryResult::Kind::kFinal;
  }
  return out;
}

DeliveryResult Action::Deliver(const Prepared& p, Transport& transport, int64_t now_ms) const {
  auto requests = Requests(p, now_ms, /*mask=*/false);
  if (!requests.ok()) {
    return {DeliveryResult::Kind::kFinal, "render", -1, Redact(requests.status().message())};
  }
  DeliveryResult result;
  for (const HttpRequest& r : *requests) {
    result = ClassifyResponse(RedactResponse(transport.Send(r)), now_ms);
    if (result.kind != DeliveryResult::Kind::kAccepted) return result;
  }
  return result;
}

Batch Action::Select(std::span<const Prepared* const> due, bool /*over_limit*/) const {
  return Batch{{0}, *due[0]};
}

std::string Action::Describe() const { return kind_ + " " + name_ + " -> " + target_; }

void Action::AddSecret(const std::string& s) {
  if (s.size() < 4) return;
  secrets_.push_back(s);
  // Longest first, so a secret containing another is masked whole.
  std::stable_sort(secrets_.begin(), secrets_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  if (const size_t scheme = s.find("://"); scheme != std::string::npos) {
    const size_t path = s.find('/', scheme + 3);
    if (path != std::string::npos && s.size() - path >= 8) AddSecret(s.substr(path));
  }
}

void Action::AddHeaderSecret(const std::string& line) {
  AddSecret(line);
  // Error pages echo the value ("invalid token Bearer abc..."), or only the credential.
  const size_t colon = line.find(':');
  std::string value = colon == std::string::npos ? line : line.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') value.erase(0, 1);
  AddSecret(value);
  if (const size_t space = value.find(' '); space != std::string::npos) {
    AddSecret(value.substr(space + 1));
  }
}

HttpResponse Action::RedactResponse(HttpResponse response) const {
  // Before ClassifyResponse truncates the body: a secret cut in two by the truncation would
  // no longer match, and its first half would be logged.
  response.body = Redact(std::move(response.body));
  response.error_detail = Redact(std::move(response.error_detail));
  return response;
}

std::string Action::Redact(std::string text) const {
  for (const std::string& s : secrets_) {
    size_t pos = 0;
    while ((pos = text.find(s, pos)) != std::string::npos) {
      text.replace(pos, s.size(), "***");
      pos += 3;
    }
  }
  return text;
}

std::string MaskUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "***";
  const size_t path = url.find('/', scheme + 3);
  std::string_view origin = url.substr(0, path);
  if (const size_t at = origin.find('@'); at != std::string_view::npos) {
    return std::string(url.substr(0, scheme + 3)) + "***@" + std::string(origin.substr(at + 1)) +
           "/***";
  }
  if (path == std::string_view::npos) return std::string(origin) + "/***";
  // Keep the first path segment when more follow (".../services/***").
  const std::string_view rest = url.substr(path + 1);
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::string(origin) + "/***";
  return std::string(origin) + "/" + std::string(rest.substr(0, slash)) + "/***";
}

std::string FormatRequest(const HttpRequest& r) {
  std::string out = r.method + " " + r.url + "\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\n";
  out += "\n";
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  out += j.is_discarded() ? r.body : DumpJson(j, 2);
  out += "\n";
  return out;
}

std::span<const ActionKindEntry> BuiltinActionKinds() { return kBuiltinKinds; }

Result<std::unique_ptr<Action>> CreateAction(const ActionDef& def, const SecretResolver& secrets,
                                             const ActionOptions& options) {
  const auto problems = ValidateActionDef(def);
  if (!problems.empty()) {
    std::string message;
    for (const ActionProblem& p : problems) {
      if (!message.empty()) message += "\n";
      message += PosText(p.pos) + p.message;
    }
    return Status::InvalidArgument(message);
  }
  for (const ActionKindEntry& k : kBuiltinKinds) {
    if (k.kind == def.kind) return k.create(def, secrets, options);
  }
  return Status::InvalidArgument(PosText(def.pos) + "unknown action kind `" + def.kind + "`");
}

Result<std::vector<HttpRequest>> PreviewRequests(const Action& action, const Notification& n,
                                                 const Rule& rule, int64_t now_ms) {
  auto p = action.Prepare(n, rule);
  if (!p) return std::vector<HttpRequest>{};
  return action.Requests(*p, now_ms, /*mask=*/true);
}

// ---- ActionArgs ----

Result<ActionArgs> ActionArgs::Resolve(const ActionDef& def, const SecretResolver& secrets) {
  ActionArgs out;
  auto resolve_one = [&](const ActionArg& arg, const ActionValue& v, Value& into) -> Status {
    if (v.kind == ActionValue::Kind::kEnv || v.kind == ActionValue::Kind::kFile) {
      if (!secrets) {
        return Status::FailedPrecondition(PosText(v.pos) + "argument `" + arg.key +
                                          "`: no secret resolver");
      }
      auto text = secrets(v);
      if (!text.ok()) {
        return Status(text.status().code(),
                      PosText(v.pos) + "argument `" + arg.key + "`: " + text.status().message());
      }
      std::string s = std::move(text).value();
      // file(...) secrets usually end with a newline that is not part of the secret.
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
      into.secret = true;
      out.secrets_.push_back(s);
      into.strings.push_back(std::move(s));
    } else if (v.kind == ActionValue::Kind::kString) {
      into.strings.push_back(v.text);
    }
    return Status::Ok();
  };
  for (const ActionArg& arg : def.args) {
    Value value;
    value.raw = &arg.value;
    if (arg.value.kind == ActionValue::Kind::kList) {
      for (const ActionValue& e : arg.value.list) {
        if (Status s = resolve_one(arg, e, value); !s.ok()) return s;
      }
    } else if (Status s = resolve_one(arg, arg.value, value); !s.ok()) {
      return s;
    }
    out.values_[arg.key] = std::move(value);
  }
  return out;
}

std::string ActionArgs::String(const std::string& key, std::string fallback) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.strings.empty()) return fallback;
  return it->second.strings.front();
}

std::vector<std::string> ActionArgs::Strings(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::vector<std::string>{} : it->second.strings;
}

bool ActionArgs::IsSecret(const std::string& key) const {
  auto it = values_.find(key);
  return it != values_.end() && it->second.secret;
}

bool ActionArgs::Bool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second.raw->boolean;
}

double ActionArgs::Number(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second.raw->number;
}

int64_t ActionArgs::DurationMs(const std::string& key, int64_t fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second.raw->duration_ms;
}

Template ActionArgs::Tmpl(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return {};
  auto t = CompileTemplate(it->second.raw->text);
  return t.ok() ? std::move(t).value() : Template{};
}

}  // namespace klaxon::actions
