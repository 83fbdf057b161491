#include "engine/event_decoder.h"

#include "engine/sentry_event.h"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace klaxon {

namespace od = simdjson::ondemand;

uint32_t FieldTable::Intern(const FieldRef& f) {
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i] == f) return static_cast<uint32_t>(i);
  }
  fields_.push_back(f);
  return static_cast<uint32_t>(fields_.size() - 1);
}

// ---- time parsing -------------------------------------------------------------------------

namespace {

constexpr int64_t kMaxAbsMs = int64_t{1} << 53;  // far beyond any real event time

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::optional<int64_t> ParseEpochSecondsText(std::string_view s) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && s[i] == '-') {
    negative = true;
    ++i;
  }
  // Collect significant digits and the decimal exponent: value = digits * 10^exp10.
  char digits[40];
  int ndigits = 0;
  int exp10 = 0;
  bool any = false;
  bool dropped_nonzero = false;
  int dropped_first = -1;  // first digit beyond our precision, for rounding
  auto take = [&](char c, bool fractional) {
    any = true;
    if (ndigits == 0 && c == '0') {
      if (fractional) --exp10;
      return;
    }
    if (ndigits < 36) {
      digits[ndigits++] = c;
      if (fractional) --exp10;
    } else {
      if (dropped_first < 0)
        dropped_first = c - '0';
      else if (c != '0')
        dropped_nonzero = true;
      if (!fractional) ++exp10;
    }
  };
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') take(s[i++], false);
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') take(s[i++], true);
  }
  if (!any) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    int e = 0;
    bool edig = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      edig = true;
      if (e < 10000) e = e * 10 + (s[i] - '0');
      ++i;
    }
    if (!edig) return std::nullopt;
    exp10 += eneg ? -e : e;
  }
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  if (i != s.size()) return std::nullopt;
  // Milliseconds = digits * 10^(exp10 + 3); keep the integer part, round on the next digit.
  const int shift = exp10 + 3;
  const int int_len = ndigits + shift;  // number of digits in the integer part
  if (int_len > 17) return std::nullopt;
  int64_t ms = 0;
  for (int k = 0; k < int_len; ++k) ms = ms * 10 + (k < ndigits ? digits[k] - '0' : 0);
  int round_digit = 0;
  if (int_len >= 0 && int_len < ndigits)
    round_digit = digits[int_len] - '0';
  else if (int_len == ndigits && dropped_first >= 0)
    round_digit = dropped_first;
  (void)dropped_nonzero;
  if (round_digit >= 5) ++ms;  // half up (away from zero for negatives, symmetric)
  if (ms > kMaxAbsMs) return std::nullopt;
  return negative ? -ms : ms;
}

std::optional<int64_t> ParseRfc3339(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, month) ||
      s[7] != '-' || !Digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, hour) || s[13] != ':' || !Digits(s, 14, 2, minute) || s[16] != ':' ||
      !Digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return std::nullopt;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int mdays = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day < 1 || day > mdays || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  size_t i = 19;
  int64_t frac_ms = 0;  // milliseconds * 10, then rounded
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    int64_t scaled = 0;  // first 4 fraction digits as ten-thousandths
    int n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 4) {
        scaled = scaled * 10 + (s[i] - '0');
        ++n;
      }
      ++i;
    }
    if (i == start) return std::nullopt;
    while (n < 4) {
      scaled *= 10;
      ++n;
    }
    frac_ms = (scaled + 5) / 10;  // round half up to ms
  }
  if (i >= s.size()) return std::nullopt;
  int64_t offset_min = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (!Digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !Digits(s, i + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60;
  return secs * 1000 + frac_ms;
}

// ---- decoder -------------------------------------------------------------------------------

namespace {

// A trie over the referenced paths: the decoder descends only into keys present here.
struct Node {
  std::vector<std::pair<std::string, uint32_t>> children;
  std::vector<uint32_t> leaf_fields;  // fields read at this node
  int32_t elem = -1;                  // node for each array element
  // This node holds the tags: each tag name once, with every field that reads it (`tags[k]`
  // and a bare key `k` are two fields of one tag).
  std::vector<std::pair<std::string, std::vector<uint32_t>>> tag_fields;
  bool timestamp = false;
  bool event_id = false;
  bool plain_children = true;  // no child or tag name needs escaping in JSON (see FindName)
};

enum TimeStatus { kTimeMissing, kTimeOk, kTimeInvalid };

// Keys are compared in their raw (still escaped) JSON form: unescaping every key of every event
// into simdjson's string buffer costs more than the comparison. Only a key that contains an
// escape sequence, which real events rarely have, is unescaped first.
//
// Eight bytes at a time: stage 1 guarantees the closing quote, and the document's padding makes
// reading up to 7 bytes past it safe.
bool HasEscape(const char* raw_key) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  // High bit set in the lowest byte equal to `c` (bytes above it may be flagged spuriously).
  auto match = [](uint64_t w, uint8_t c) {
    const uint64_t x = w ^ (kOnes * c);
    return (x - kOnes) & ~x & kHigh;
  };
  for (;; raw_key += 8) {
    uint64_t w;
    std::memcpy(&w, raw_key, 8);
    if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
    const uint64_t quote = match(w, '"');
    const uint64_t backslash = match(w, '\\');
    if ((quote | backslash) == 0) continue;
    if (backslash == 0) return false;
    if (quote == 0) return true;
    return __builtin_ctzll(backslash) < __builtin_ctzll(quote);
  }
}

bool PlainName(std::string_view name) {
  return name.find('"') == std::string_view::npos && name.find('\\') == std::string_view::npos;
}

// The entry of `entries` (pairs of name and id) named by `raw`, or nullptr. `unescape` yields
// the unescaped key (false on a JSON error, which sets `error`).
template <class Entries, class Unescape>
const typename Entries::value_type* FindName(const od::raw_json_string& raw, bool plain,
                                             const Entries& entries, Unescape&& unescape,
                                             bool& error) {
  if (plain) {
    const char* k = raw.raw();
    for (const auto& e : entries) {
      // First byte and length first: most keys differ there, and memcmp is a call.
      // (Reading k[name.size()] stays inside the padded document for names this short; longer
      // names go through simdjson's bytewise compare, which stops at the closing quote.)
      const std::string_view name = e.first;
      if (name.size() <= simdjson::SIMDJSON_PADDING) {
        if (k[name.size()] == '"' && (name.empty() || k[0] == name[0]) &&
            std::memcmp(k, name.data(), name.size()) == 0) {
          return &e;
        }
      } else if (raw.unsafe_is_equal(name)) {
        return &e;
      }
    }
    if (!HasEscape(raw.raw())) return nullptr;
  }
  std::string_view key;
  if (!unescape(key)) {
    error = true;
    return nullptr;
  }
  for (const auto& e : entries) {
    if (e.first == key) return &e;
  }
  return nullptr;
}

}  // namespace

struct EventDecoder::Impl {
  std::vector<Node> nodes;
  size_t field_count = 0;
  std::vector<uint8_t> path_then_tag;  // per field
  EngineOptions options;
  od::parser parser;
  simdjson::dom::parser dom_parser;  // only for documents that may be too deep
  std::vector<uint32_t> counts;      // scratch for grouping values by field
  std::vector<DecodedValue> scratch;

  // per-decode
  DecodedEvent* out = nullptr;
  TimeStatus time_status = kTimeMissing;

  // A duplicated key: the last occurrence wins (as JSON.parse and Python's json decide), so a
  // later occurrence undoes what the earlier one produced. One record per wanted key read in
  // each object being walked (a stack: nested objects push above and pop on return).
  struct Seen {
    const void* entry;  // the trie child or tag entry the key named
    uint32_t begin;     // its values in out->values
    uint32_t end;
    TimeStatus time_status;  // event time and id before its first occurrence
    int64_t time_ms;
    uint32_t event_id_length;
    bool set_time_or_id;  // this key is the timestamp or the event id
  };
  static constexpr uint32_t kDeadField = UINT32_MAX;  // a value a later duplicate undid
  std::vector<Seen> seen;
  bool any_dead = false;

  // Before reading the value of a key named `entry` in the object whose records start at
  // `mark`; returns its record for EndKey.
  size_t BeginKey(size_t mark, const void* entry) {
    const auto now = static_cast<uint32_t>(out->values.size());
    for (size_t i = mark; i < seen.size(); ++i) {
      Seen& s = seen[i];
      if (s.entry != entry) continue;
      for (uint32_t k = s.begin; k < s.end; ++k) out->values[k].field = kDeadField;
      any_dead |= s.end > s.begin;
      // The timestamp and event id paths are unique, so only this key could have set them;
      // another key's repeat must not undo them (a repeated `level` after a second
      // `timestamp` brought the first timestamp back).
      if (s.set_time_or_id) {
        time_status = s.time_status;
        out->time_ms = s.time_ms;
        out->event_id_length = s.event_id_length;
      }
      s.begin = now;
      return i;
    }
    seen.push_back({entry, now, now, time_status, out->time_ms, out->event_id_length, false});
    return seen.size() - 1;
  }
  void EndKey(size_t i) {
    Seen& s = seen[i];
    s.end = static_cast<uint32_t>(out->values.size());
    s.set_time_or_id |= time_status != s.time_status || out->time_ms != s.time_ms ||
                        out->event_id_length != s.event_id_length;
  }

  uint32_t Child(uint32_t node, const std::string& key) {
    for (auto& [k, idx] : nodes[node].children) {
      if (k == key) return idx;
    }
    nodes.emplace_back();
    const auto idx = static_cast<uint32_t>(nodes.size() - 1);
    nodes[node].children.emplace_back(key, idx);
    return idx;
  }
  uint32_t Elem(uint32_t node) {
    if (nodes[node].elem < 0) {
      nodes.emplace_back();
      nodes[node].elem = static_cast<int32_t>(nodes.size() - 1);
    }
    return static_cast<uint32_t>(nodes[node].elem);
  }
  uint32_t Path(const std::vector<std::string>& path, int array_at) {
    uint32_t n = 0;
    for (size_t i = 0; i < path.size(); ++i) {
      if (array_at >= 0 && static_cast<size_t>(array_at) == i) n = Elem(n);
      n = path[i] == kEachElement ? Elem(n) : Child(n, path[i]);
    }
    if (array_at >= 0 && static_cast<size_t>(array_at) == path.size()) n = Elem(n);
    return n;
  }

  void Add(uint32_t field, ValueType type, std::string_view text, double number, bool tag) {
    DecodedValue v;
    v.field = field;
    v.offset = static_cast<uint32_t>(out->arena.size());
    v.length = static_cast<uint32_t>(text.size());
    v.type = type;
    v.from_tag = tag;
    v.number = number;
    out->arena.append(text);
    out->values.push_back(v);
  }

  static std::string_view TrimToken(std::string_view t) {
    while (!t.empty() &&
           (t.back() == ' ' || t.back() == '\n' || t.back() == '\r' || t.back() == '\t')) {
      t.remove_suffix(1);
    }
    return t;
  }

  // Reads a scalar and hands it to every consumer at `node`; returns false on a JSON error.
  bool Scalar(od::value& v, od::json_type type, const Node& node, const uint32_t* tag_fields,
              size_t tag_count) {
    ValueType vt;
    std::string_view text;
    double number = 0;
    switch (type) {
      case od::json_type::string: {
        if (v.get_string().get(text)) return false;
        vt = ValueType::kString;
        break;
      }
      case od::json_type::number: {
        text = TrimToken(v.raw_json_token());
        if (v.get_double().get(number)) {
          // Out-of-range numbers still match as text.
          number = 0;
        }
        vt = ValueType::kNumber;
        break;
      }
      case od::json_type::boolean: {
        bool b;
        if (v.get_bool().get(b)) return false;
        text = b ? "true" : "false";
        vt = ValueType::kBool;
        break;
      }
      case od::json_type::null: {
        bool is_null = false;
        if (v.is_null().get(is_null) || !is_null) return false;
        if (node.timestamp && time_status == kTimeMissing) time_status = kTimeInvalid;
        return true;  // null is absent
      }
      default:
        return true;
    }
    for (uint32_t f : node.leaf_fields) Add(f, vt, text, number, false);
    for (size_t i = 0; i < tag_count; ++i) Add(tag_fields[i], vt, text, number, true);
    if (node.timestamp) {
      std::optional<int64_t> t;
      if (vt == ValueType::kNumber)
        t = ParseEpochSecondsText(text);
      else if (vt == ValueType::kString)
        t = ParseRfc3339(text);
      if (t) {
        out->time_ms = *t;
        time_status = kTimeOk;
      } else {
        time_status = kTimeInvalid;
      }
    }
    if (node.event_id && vt == ValueType::kString) {
      out->event_id_offset = static_cast<uint32_t>(out->arena.size());
      out->event_id_length = static_cast<uint32_t>(text.size());
      out->arena.append(text);
    }
    return true;
  }

  bool Tags(od::value& v, od::json_type type, const Node& node) {
    static const Node kEmpty;
    bool error = false;
    const size_t mark = seen.size();
    if (type == od::json_type::object) {
      od::object obj;
      if (v.get_object().get(obj)) return false;
      for (auto item : obj) {
        if (item.error()) return false;          // an iteration error, never thrown
        od::field& field = item.value_unsafe();  // in place: see the root loop in DecodeInPlace
        const auto* entry = FindName(
            field.key(), node.plain_children, node.tag_fields,
            [&](std::string_view& key) { return !field.unescaped_key().get(key); }, error);
        if (error) return false;
        if (entry == nullptr) continue;
        od::value val = field.value();
        od::json_type t;
        if (val.type().get(t)) return false;
        const size_t key = BeginKey(mark, entry);
        if (!Scalar(val, t, kEmpty, entry->second.data(), entry->second.size())) return false;
        EndKey(key);
      }
    } else if (type == od::json_type::array) {
      od::array arr;
      if (v.get_array().get(arr)) return false;
      for (auto elem : arr) {
        od::value pair;
        if (elem.get(pair)) return false;
        od::json_type t;
        if (pair.type().get(t)) return false;
        if (t != od::json_type::array) continue;
        od::array kv;
        if (pair.get_array().get(kv)) return false;
        int i = 0;
        const std::vector<uint32_t>* f = nullptr;
        const void* entry_of_f = nullptr;
        for (auto item : kv) {
          od::value iv;
          if (item.get(iv)) return false;
          if (i == 0) {
            od::json_type kt;
            if (iv.type().get(kt)) return false;
            if (kt == od::json_type::string) {
              // Peeks at the token (does not consume it), so get_string still works below.
              const std::string_view token = iv.raw_json_token();
              if (token.empty() || token[0] != '"') return false;
              const od::raw_json_string raw(reinterpret_cast<const uint8_t*>(token.data() + 1));
              const auto* entry = FindName(
                  raw, node.plain_children, node.tag_fields,
                  [&](std::string_view& key) { return !iv.get_string().get(key); }, error);
              if (error) return false;
              f = entry == nullptr ? nullptr : &entry->second;
              entry_of_f = entry;
            }
          } else if (i == 1 && f != nullptr) {
            od::json_type vt;
            if (iv.type().get(vt)) return false;
            // Pairs read as a dict: a repeated tag's last pair wins, as for object keys.
            const size_t key = BeginKey(mark, entry_of_f);
            if (!Scalar(iv, vt, kEmpty, f->data(), f->size())) return false;
            EndKey(key);
          }
          ++i;
        }
      }
    }
    seen.resize(mark);
    return true;
  }

  bool Walk(od::value& v, uint32_t node_idx) {
    od::json_type type;
    if (v.type().get(type)) return false;
    const Node& node = nodes[node_idx];
    if (!node.tag_fields.empty()) {
      // A tags container is read only as tags (built-in paths never go through `tags`).
      return Tags(v, type, node);
    }
    if (type == od::json_type::object) {
      for (uint32_t f : node.leaf_fields) Add(f, ValueType::kPresent, {}, 0, false);
      if (node.timestamp) time_status = kTimeInvalid;
      if (node.children.empty()) return true;
      od::object obj;
      if (v.get_object().get(obj)) return false;
      bool error = false;
      const size_t mark = seen.size();
      for (auto item : obj) {
        if (item.error()) return false;
        od::field& field = item.value_unsafe();
        const auto* entry = FindName(
            field.key(), node.plain_children, node.children,
            [&](std::string_view& key) { return !field.unescaped_key().get(key); }, error);
        if (error) return false;
        if (entry == nullptr) continue;
        od::value cv = field.value();
        const size_t key = BeginKey(mark, entry);
        if (!Walk(cv, entry->second)) return false;
        EndKey(key);
      }
      seen.resize(mark);
      return true;
    }
    if (type == od::json_type::array) {
      if (node.timestamp) time_status = kTimeInvalid;
      if (node.elem < 0 && node.leaf_fields.empty()) return true;
      od::array arr;
      if (v.get_array().get(arr)) return false;
      for (auto elem : arr) {
        od::value ev;
        if (elem.get(ev)) return false;
        od::json_type et;
        if (ev.type().get(et)) return false;
        if (et == od::json_type::object || et == od::json_type::array) {
          if (node.elem >= 0 && !Walk(ev, static_cast<uint32_t>(node.elem))) return false;
        } else if (!node.leaf_fields.empty()) {
          // A leaf array of scalars: every element is a value of the field.
          if (!Scalar(ev, et, node, nullptr, 0)) return false;
        }
      }
      return true;
    }
    return Scalar(v, type, node, nullptr, 0);
  }

  // ---- derived fields (engine/sentry_event.h) ----
  // The parts they need are read as hidden fields numbered after the real ones, in document
  // order; markers (an object's presence) open each exception, thread, stack trace and frame,
  // so a frame belongs to the last stack opened before it. They are gone before grouping.
  enum Part : uint32_t {
    kExc,
    kExcType,
    kExcValue,
    kExcHandled,
    kThread,
    kThreadCrashed,
    kThreadCurrent,
    kStack,
    kFrame,
    kFrameModule,
    kFrameFilename,
    kFrameFunction,
    kFrameInApp,
    kFingerprint,
    kLogMessage,
    kLogFormatted,
    kMessage,
    kType,
    kProject,
    kPartCount
  };
  enum class Derived { kIssue, kTitle, kEventType, kHandled, kUnhandled };
  std::vector<std::pair<uint32_t, Derived>> derived;  // field id, what
  SentryEventParts parts;
  std::vector<std::string> derived_text;  // per entry of `derived`
  std::string hash_scratch;

  void AddDerived(const FieldRef& f, uint32_t id) {
    std::string name;
    for (const std::string& p : f.path) name += (name.empty() ? "" : ".") + p;
    if (name == "issue") derived.emplace_back(id, Derived::kIssue);
    if (name == "title") derived.emplace_back(id, Derived::kTitle);
    if (name == "event.type") derived.emplace_back(id, Derived::kEventType);
    if (name == "error.handled") derived.emplace_back(id, Derived::kHandled);
    if (name == "error.unhandled") derived.emplace_back(id, Derived::kUnhandled);
  }

  void Hidden(std::initializer_list<std::string_view> path, Part part) {
    std::vector<std::string> p(path.begin(), path.end());
    nodes[Path(p, -1)].leaf_fields.push_back(static_cast<uint32_t>(field_count + part));
  }

  void Frames(std::initializer_list<std::string_view> stack) {
    std::vector<std::string_view> p(stack);
    p.insert(p.end(), {"frames", kEachElement});
    auto at = [&](std::string_view leaf, Part part) {
      std::vector<std::string> q(p.begin(), p.end());
      if (!leaf.empty()) q.emplace_back(leaf);
      nodes[Path(q, -1)].leaf_fields.push_back(static_cast<uint32_t>(field_count + part));
    };
    at("", kFrame);
    at("module", kFrameModule);
    at("filename", kFrameFilename);
    at("function", kFrameFunction);
    at("in_app", kFrameInApp);
  }

  void AddSentryParts() {
    // Both shapes of the exception and threads interfaces: {"values": [...]} and a bare list.
    for (const bool bare : {false, true}) {
      const std::string_view v = bare ? kEachElement : "values";
      const std::string_view e = bare ? "" : kEachElement;
      auto exc = [&](std::initializer_list<std::string_view> rest, Part part) {
        std::vector<std::string> p = {"exception", std::string(v)};
        if (!e.empty()) p.emplace_back(e);
        p.insert(p.end(), rest.begin(), rest.end());
        nodes[Path(p, -1)].leaf_fields.push_back(static_cast<uint32_t>(field_count + part));
      };
      exc({}, kExc);
      exc({"type"}, kExcType);
      exc({"value"}, kExcValue);
      exc({"mechanism", "handled"}, kExcHandled);
      if (bare) {
        Frames({"exception", kEachElement, "stacktrace"});
        Hidden({"threads", kEachElement}, kThread);
        Hidden({"threads", kEachElement, "crashed"}, kThreadCrashed);
        Hidden({"threads", kEachElement, "current"}, kThreadCurrent);
        Frames({"threads", kEachElement, "stacktrace"});
      } else {
        Frames({"exception", "values", kEachElement, "stacktrace"});
        Hidden({"threads", "values", kEachElement}, kThread);
        Hidden({"threads", "values", kEachElement, "crashed"}, kThreadCrashed);
        Hidden({"threads", "values", kEachElement, "current"}, kThreadCurrent);
        Frames({"threads", "values", kEachElement, "stacktrace"});
      }
    }
    Hidden({"stacktrace"}, kStack);
    Frames({"stacktrace"});
    Hidden({"fingerprint"}, kFingerprint);
    Hidden({"logentry", "message"}, kLogMessage);
    Hidden({"logentry", "formatted"}, kLogFormatted);
    Hidden({"message"}, kMessage);
    // The legacy form of `message`: the logentry object under the name `message`.
    Hidden({"message", "message"}, kLogMessage);
    Hidden({"message", "formatted"}, kLogFormatted);
    Hidden({"type"}, kType);
    Hidden({"project"}, kProject);
  }

  // Reads the hidden parts (marking them dead), then adds the derived fields' values.
  void ComputeDerived() {
    SentryEventParts& e = parts;
    e.Clear();
    SentryStack* stack = nullptr;  // the stack trace that frames go to
    const std::string_view arena = out->arena;
    const size_t n = out->values.size();
    for (size_t i = 0; i < n; ++i) {
      DecodedValue& v = out->values[i];
      if (v.field == kDeadField || v.field < field_count) continue;
      const auto part = static_cast<Part>(v.field - field_count);
      v.field = kDeadField;
      any_dead = true;
      const std::string_view text = arena.substr(v.offset, v.length);
      const bool scalar = v.type != ValueType::kPresent;
      // A marker counts only for an object (a scalar where an object belongs is not one).
      const bool marker = part == kExc || part == kThread || part == kStack || part == kFrame;
      if (marker && scalar) continue;
      switch (part) {
        case kExc:
          e.exceptions.emplace_back();
          e.exceptions.back().stack = {static_cast<uint32_t>(e.frames.size()),
                                       static_cast<uint32_t>(e.frames.size())};
          stack = &e.exceptions.back().stack;
          break;
        case kExcType:
          if (!e.exceptions.empty() && scalar) e.exceptions.back().type = text;
          break;
        case kExcValue:
          if (!e.exceptions.empty() && scalar) e.exceptions.back().value = text;
          break;
        case kExcHandled:
          if (!e.exceptions.empty() && v.type == ValueType::kBool)
            e.exceptions.back().handled = text == "true";
          break;
        case kThread:
          e.threads.emplace_back();
          e.threads.back().stack = {static_cast<uint32_t>(e.frames.size()),
                                    static_cast<uint32_t>(e.frames.size())};
          stack = &e.threads.back().stack;
          break;
        case kThreadCrashed:
          if (!e.threads.empty()) e.threads.back().crashed = text == "true";
          break;
        case kThreadCurrent:
          if (!e.threads.empty()) e.threads.back().current = text == "true";
          break;
        case kStack:
          e.stacktrace = SentryStack{static_cast<uint32_t>(e.frames.size()),
                                     static_cast<uint32_t>(e.frames.size())};
          stack = &*e.stacktrace;
          break;
        case kFrame:
          if (stack == nullptr) break;
          e.frames.emplace_back();
          stack->frame_end = static_cast<uint32_t>(e.frames.size());
          break;
        case kFrameModule:
          if (stack != nullptr && !e.frames.empty() && scalar) e.frames.back().module = text;
          break;
        case kFrameFilename:
          if (stack != nullptr && !e.frames.empty() && scalar) e.frames.back().filename = text;
          break;
        case kFrameFunction:
          if (stack != nullptr && !e.frames.empty() && scalar) e.frames.back().function = text;
          break;
        case kFrameInApp:
          if (stack != nullptr && !e.frames.empty()) e.frames.back().in_app = text == "true";
          break;
        case kFingerprint:
          if (scalar) e.fingerprint.push_back(text);
          break;
        case kLogMessage:
          if (v.type == ValueType::kString) e.logentry_message = text;
          break;
        case kLogFormatted:
          if (v.type == ValueType::kString) e.logentry_formatted = text;
          break;
        case kMessage:
          if (v.type == ValueType::kString) e.message = text;
          break;
        case kType:
          if (v.type == ValueType::kString) e.type = text;
          break;
        case kProject:
          if (scalar) e.project = text;
          break;
        case kPartCount:
          break;
      }
    }
    // Compute into own buffers first: adding values may move the arena the parts point into.
    derived_text.resize(derived.size());
    for (size_t i = 0; i < derived.size(); ++i) {
      std::string& text = derived_text[i];
      switch (derived[i].second) {
        case Derived::kIssue:
          SentryIssue(e, hash_scratch, text);
          break;
        case Derived::kTitle:
          SentryTitle(e, text);
          break;
        case Derived::kEventType:
          text.assign(SentryEventType(e));
          break;
        case Derived::kHandled:
          text.assign(SentryErrorHandled(e) ? "true" : "false");
          break;
        case Derived::kUnhandled:
          text.assign(SentryErrorHandled(e) ? "false" : "true");
          break;
      }
    }
    for (size_t i = 0; i < derived.size(); ++i) {
      const Derived what = derived[i].second;
      const bool boolean = what == Derived::kHandled || what == Derived::kUnhandled;
      Add(derived[i].first, boolean ? ValueType::kBool : ValueType::kString, derived_text[i], 0,
          false);
    }
  }

  // Cheap pre-check: a document can only nest deeper than max_depth if it has that many
  // opening brackets; only then pay for a full DOM validation with the depth limit.
  bool MaybeTooDeep(std::string_view raw) const {
    size_t opens = 0;
    const char* p = raw.data();
    size_t n = raw.size();
    while (n > 0) {
      // Byte-wide counters per block keep the loop in 16 lanes of SIMD compares.
      const size_t m = n < 128 ? n : 128;
      uint8_t block = 0;
      for (size_t i = 0; i < m; ++i) block += static_cast<uint8_t>((p[i] | 0x20) == 0x7b);
      opens += block;
      if (opens > options.max_depth) return true;
      p += m;
      n -= m;
    }
    return false;
  }
};

EventDecoder::EventDecoder(const std::vector<FieldRef>& fields, const EngineOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.options = options;
  m.nodes.emplace_back();  // root
  m.field_count = fields.size();
  m.path_then_tag.assign(fields.size(), 0);
  m.counts.assign(fields.size() + 1, 0);
  for (size_t i = 0; i < fields.size(); ++i) {
    const FieldRef& f = fields[i];
    const auto id = static_cast<uint32_t>(i);
    if (f.kind == FieldRef::Kind::kDerived) {
      m.AddDerived(f, id);
      continue;
    }
    if (f.kind != FieldRef::Kind::kTag && !f.path.empty()) {
      m.nodes[m.Path(f.path, f.array_at)].leaf_fields.push_back(id);
      for (const auto& more : f.more_paths) m.nodes[m.Path(more, -1)].leaf_fields.push_back(id);
    }
    if (f.kind != FieldRef::Kind::kPath) {
      const std::string& tag = f.tag.empty() ? f.name : f.tag;
      auto& tags = m.nodes[m.Child(0, "tags")].tag_fields;
      auto it =
          std::find_if(tags.begin(), tags.end(), [&](const auto& t) { return t.first == tag; });
      if (it == tags.end()) it = tags.insert(tags.end(), {tag, {}});
      it->second.push_back(id);
    }
    if (f.kind == FieldRef::Kind::kPathThenTag) m.path_then_tag[i] = 1;
  }
  if (!m.derived.empty()) m.AddSentryParts();
  if (!options.timestamp_path.empty()) m.nodes[m.Path(options.timestamp_path, -1)].timestamp = true;
  if (options.explain || options.decode_event_id) {
    m.nodes[m.Child(0, "event_id")].event_id = true;
  }
  for (Node& node : m.nodes) {
    for (const auto& [name, child] : node.children) node.plain_children &= PlainName(name);
    for (const auto& [name, field] : node.tag_fields) node.plain_children &= PlainName(name);
  }
  if (m.dom_parser.allocate(4096, options.max_depth) != simdjson::SUCCESS) {
    // Allocation failure surfaces later as a parse error; nothing else to do here.
  }
}

EventDecoder::~EventDecoder() = default;

void EventDecoder::ReserveRaw(std::string_view raw, DecodedEvent& out) {
  out.raw.clear();
  out.raw.reserve(raw.size() + simdjson::SIMDJSON_PADDING);
  out.raw.append(raw);
}

RejectReason EventDecoder::Decode(std::string_view raw, DecodedEvent& out) {
  if (raw.size() > impl_->options.max_event_bytes) return RejectReason::kTooLarge;
  ReserveRaw(raw, out);
  return DecodeInPlace(out);
}

RejectReason EventDecoder::DecodeInPlace(DecodedEvent& out) {
  Impl& m = *impl_;
  if (out.raw.size() > m.options.max_event_bytes) return RejectReason::kTooLarge;
  if (out.raw.capacity() < out.raw.size() + simdjson::SIMDJSON_PADDING) {
    out.raw.reserve(out.raw.size() + simdjson::SIMDJSON_PADDING);  // keeps the bytes
  }
  const std::string_view raw = out.raw;
  out.arena.clear();
  out.values.clear();
  out.event_id_length = 0;
  out.time_ms = 0;
  out.routed = false;
  if (m.MaybeTooDeep(raw)) {
    simdjson::dom::element ignored;
    auto err = m.dom_parser.parse(out.raw.data(), out.raw.size(), false).get(ignored);
    if (err == simdjson::DEPTH_ERROR) return RejectReason::kTooDeep;
    if (err == simdjson::UTF8_ERROR) return RejectReason::kInvalidUtf8;
    if (err) return RejectReason::kInvalidJson;
  }
  m.out = &out;
  m.time_status = kTimeMissing;
  m.seen.clear();
  m.any_dead = false;
  od::document doc;
  // Stage 1 of iterate validates UTF-8 over the whole document (no separate pass).
  if (auto err = m.parser.iterate(out.raw.data(), out.raw.size(), out.raw.capacity()).get(doc)) {
    return err == simdjson::UTF8_ERROR ? RejectReason::kInvalidUtf8 : RejectReason::kInvalidJson;
  }
  od::json_type type;
  if (doc.type().get(type)) return RejectReason::kInvalidJson;
  if (type != od::json_type::object) {
    // Make sure it is at least valid JSON before calling it "not an object".
    simdjson::dom::element ignored;
    if (auto err = m.dom_parser.parse(out.raw.data(), out.raw.size(), false).get(ignored)) {
      return err == simdjson::UTF8_ERROR ? RejectReason::kInvalidUtf8 : RejectReason::kInvalidJson;
    }
    return RejectReason::kNotObject;
  }
  {
    od::object obj;
    if (doc.get_object().get(obj)) return RejectReason::kInvalidJson;
    const Node& root = m.nodes[0];
    bool error = false;
    for (auto item : obj) {
      if (item.error()) return RejectReason::kInvalidJson;
      // Used in place: copying the field out of its result right after simdjson built it
      // stalls on store forwarding, a few percent of the whole decode.
      od::field& field = item.value_unsafe();
      const auto* entry = FindName(
          field.key(), root.plain_children, root.children,
          [&](std::string_view& key) { return !field.unescaped_key().get(key); }, error);
      if (error) return RejectReason::kInvalidJson;
      if (entry == nullptr) continue;
      od::value v = field.value();
      const size_t key = m.BeginKey(0, entry);
      if (!m.Walk(v, entry->second)) return RejectReason::kInvalidJson;
      m.EndKey(key);
    }
  }
  // `{"a":1}{"b":2}` is two events in one line or message: never half-read one of them.
  // (simdjson 3.0 has no document::at_end: a location exists only before the end.)
  const char* after = nullptr;
  if (!doc.current_location().get(after)) return RejectReason::kTrailingContent;
  if (m.time_status == kTimeMissing) return RejectReason::kMissingTimestamp;
  if (m.time_status == kTimeInvalid) return RejectReason::kInvalidTimestamp;

  if (!m.derived.empty()) m.ComputeDerived();
  if (m.any_dead) {
    std::erase_if(out.values, [](const DecodedValue& v) { return v.field == Impl::kDeadField; });
  }
  // Group values by field (stable counting sort) and apply path-then-tag precedence.
  auto& counts = m.counts;
  std::fill(counts.begin(), counts.end(), 0);
  for (const auto& v : out.values) ++counts[v.field + 1];
  bool need_filter = false;
  for (const auto& v : out.values) {
    if (m.path_then_tag[v.field] && !v.from_tag) need_filter = true;
  }
  m.scratch.clear();
  if (need_filter) {
    // kPathThenTag: when the path produced values, drop the tag's values for that field.
    std::vector<uint8_t>& has_path = m.path_then_tag;  // reuse: bit 1 = "has path value"
    for (const auto& v : out.values) {
      if (has_path[v.field] && !v.from_tag) has_path[v.field] |= 2;
    }
    std::fill(counts.begin(), counts.end(), 0);
    for (const auto& v : out.values) {
      if ((has_path[v.field] & 2) && v.from_tag) continue;
      m.scratch.push_back(v);
      ++counts[v.field + 1];
    }
    for (auto& b : has_path) b &= 1;
    out.values.swap(m.scratch);
  }
  out.field_begin.resize(m.field_count + 1);
  out.field_begin[0] = 0;
  for (size_t f = 0; f < m.field_count; ++f)
    out.field_begin[f + 1] = out.field_begin[f] + counts[f + 1];
  m.scratch.resize(out.values.size());
  {
    // counts[f] becomes the write cursor of field f.
    for (size_t f = 0; f < m.field_count; ++f) counts[f] = out.field_begin[f];
    for (const auto& v : out.values) m.scratch[counts[v.field]++] = v;
    out.values.swap(m.scratch);
  }
  return RejectReason::kNone;
}

}  // namespace klaxon
