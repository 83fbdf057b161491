#include "connectors/sentry_ingest_format.h"

#include <msgpack.h>
#include <simdjson.h>

#include <charconv>
#include <nlohmann/json.hpp>

namespace klaxon::connectors {
namespace {

std::string_view Text(const msgpack_object& o) {
  if (o.type == MSGPACK_OBJECT_STR) return {o.via.str.ptr, o.via.str.size};
  if (o.type == MSGPACK_OBJECT_BIN) return {o.via.bin.ptr, o.via.bin.size};
  return {};
}

bool IsText(const msgpack_object& o) {
  return o.type == MSGPACK_OBJECT_STR || o.type == MSGPACK_OBJECT_BIN;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Whether every length and element count the message declares fits in its bytes. msgpack-c
// allocates for a container's declared count before reading its elements, so a few bytes
// declaring 2^32 elements would make it ask for gigabytes (refused by malloc at best, the
// process killed at worst). Every element takes at least one byte: the elements still owed may
// never exceed the bytes left.
bool DeclaredSizesFit(std::string_view m) {
  const auto* p = reinterpret_cast<const unsigned char*>(m.data());
  const size_t n = m.size();
  size_t pos = 0;
  uint64_t owed = 1;  // objects still to read
  auto be = [&](size_t bytes, uint64_t* v) {
    if (n - pos < bytes) return false;
    *v = 0;
    for (size_t i = 0; i < bytes; ++i) *v = (*v << 8) | p[pos + i];
    pos += bytes;
    return true;
  };
  auto skip = [&](uint64_t bytes) {
    if (n - pos < bytes) return false;
    pos += bytes;
    return true;
  };
  while (owed > 0) {
    if (pos >= n) return true;  // truncated: msgpack-c says so
    const unsigned char b = p[pos++];
    --owed;
    uint64_t len = 0;
    uint64_t elements = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
      continue;
    } else if (b >= 0x80 && b <= 0x8f) {
      elements = 2 * uint64_t{b & 0x0fu};
    } else if (b >= 0x90 && b <= 0x9f) {
      elements = b & 0x0fu;
    } else if (b >= 0xa0 && b <= 0xbf) {
      if (!skip(b & 0x1fu)) return false;
      continue;
    } else {
      switch (b) {
        case 0xc4:
        case 0xd9:
          if (!be(1, &len) || !skip(len)) return false;
          continue;
        case 0xc5:
        case 0xda:
          if (!be(2, &len) || !skip(len)) return false;
          continue;
        case 0xc6:
        case 0xdb:
          if (!be(4, &len) || !skip(len)) return false;
          continue;
        case 0xc7:
          if (!be(1, &len) || !skip(len + 1)) return false;
          continue;
        case 0xc8:
          if (!be(2, &len) || !skip(len + 1)) return false;
          continue;
        case 0xc9:
          if (!be(4, &len) || !skip(len + 1)) return false;
          continue;
        case 0xcc:
        case 0xd0:
          if (!skip(1)) return false;
          continue;
        case 0xcd:
        case 0xd1:
          if (!skip(2)) return false;
          continue;
        case 0xca:
        case 0xce:
        case 0xd2:
          if (!skip(4)) return false;
          continue;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          if (!skip(8)) return false;
          continue;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
          if (!skip(1 + (uint64_t{1} << (b - 0xd4)))) return false;
          continue;
        case 0xdc:
          if (!be(2, &elements)) return false;
          break;
        case 0xdd:
          if (!be(4, &elements)) return false;
          break;
        case 0xde:
          if (!be(2, &elements)) return false;
          elements *= 2;
          break;
        case 0xdf:
          if (!be(4, &elements)) return false;
          elements *= 2;
          break;
        default:
          return true;  // 0xc1, never used: msgpack-c refuses it
      }
    }
    owed += elements;
    if (owed > n - pos) return false;
  }
  return true;
}

}  // namespace

struct SentryIngestFormat::Impl {
  msgpack_zone zone;
  // `,"project":"NAME","project_id":ID}` per mapped project, JSON-escaped once here.
  std::map<int64_t, std::string> suffixes;
  simdjson::ondemand::parser parser;
  std::string padded;  // the event JSON with simdjson's padding, for the transaction check

  // The event JSON with `"project_id":ID` (and `"project":NAME` when mapped) as the last keys.
  void Stamp(std::string_view payload, int64_t project_id, std::string* json) const {
    size_t begin = 0;
    size_t end = payload.size();
    while (begin < end && IsSpace(payload[begin])) ++begin;
    while (end > begin && IsSpace(payload[end - 1])) --end;
    // Not an object: unchanged, so the decoder rejects it as it would any such event.
    if (end - begin < 2 || payload[begin] != '{' || payload[end - 1] != '}') {
      json->assign(payload);
      return;
    }
    size_t last = end - 1;  // the closing brace
    size_t inner = last;
    while (inner > begin + 1 && IsSpace(payload[inner - 1])) --inner;
    const bool empty = inner == begin + 1;
    json->assign(payload.substr(begin, last - begin));
    auto it = suffixes.find(project_id);
    if (it != suffixes.end()) {
      json->append(empty ? it->second.substr(1) : it->second);
      return;
    }
    json->append(empty ? "\"project_id\":" : ",\"project_id\":");
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, project_id);
    json->append(digits, r.ptr);
    json->push_back('}');
  }

  // Whether the event's top-level `type` is "transaction" (Relay puts transactions in `event`
  // messages too, on its transactions topic). Anything unreadable is left to the decoder.
  bool IsTransaction(const std::string& json) {
    padded.reserve(json.size() + simdjson::SIMDJSON_PADDING);
    padded.assign(json);
    simdjson::ondemand::document doc;
    if (parser.iterate(padded.data(), padded.size(), padded.capacity()).get(doc)) return false;
    simdjson::ondemand::object object;
    if (doc.get_object().get(object)) return false;
    bool transaction = false;
    for (auto field : object) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return false;
      if (key != "type") continue;
      std::string_view type;
      // A later duplicate wins, as in the decoder.
      transaction = !field.value().get_string().get(type) && type == "transaction";
    }
    return transaction;
  }
};

SentryIngestFormat::SentryIngestFormat(const std::map<int64_t, std::string>& project_names)
    : impl_(std::make_unique<Impl>()) {
  msgpack_zone_init(&impl_->zone, MSGPACK_ZONE_CHUNK_SIZE);
  for (const auto& [id, name] : project_names) {
    impl_->suffixes[id] = ",\"project\":" + nlohmann::json(name).dump() +
                          ",\"project_id\":" + std::to_string(id) + "}";
  }
}

SentryIngestFormat::~SentryIngestFormat() { msgpack_zone_destroy(&impl_->zone); }

SentryIngestFormat::Outcome SentryIngestFormat::ToEventJson(std::string_view message,
                                                            std::string* json) {
  Impl& m = *impl_;
  Outcome out;
  out.kind = Kind::kMalformed;
  if (!DeclaredSizesFit(message)) {
    // A bomb (a few bytes declaring billions of elements) is a message cut short of what it
    // declares, as a truncated one is: one reason for both.
    out.error = "the msgpack message is truncated";
    return out;
  }
  msgpack_object root;
  size_t offset = 0;
  // msgpack_unpack (not msgpack_unpack_next) is the entry point that takes the caller's zone:
  // it is cleared after each message instead of a new one being allocated. Strings and bins
  // point into `message`.
  const msgpack_unpack_return r =
      msgpack_unpack(message.data(), message.size(), &offset, &m.zone, &root);
  struct ClearZone {
    msgpack_zone* zone;
    ~ClearZone() { msgpack_zone_clear(zone); }
  } clear{&m.zone};
  switch (r) {
    case MSGPACK_UNPACK_SUCCESS:
      break;
    case MSGPACK_UNPACK_EXTRA_BYTES:
      out.error = "bytes after the end of the msgpack message";
      return out;
    case MSGPACK_UNPACK_CONTINUE:
      out.error = "the msgpack message is truncated";
      return out;
    case MSGPACK_UNPACK_NOMEM_ERROR:
      out.error = "the msgpack message nests too deeply or declares more elements than can be held";
      return out;
    default:
      out.error = "not msgpack";
      return out;
  }
  if (root.type != MSGPACK_OBJECT_MAP) {
    out.error = "not a msgpack map (Relay's ingest message)";
    return out;
  }
  const msgpack_object* type = nullptr;
  const msgpack_object* payload = nullptr;
  const msgpack_object* project_id = nullptr;
  for (uint32_t i = 0; i < root.via.map.size; ++i) {
    const msgpack_object_kv& kv = root.via.map.ptr[i];
    if (!IsText(kv.key)) continue;
    const std::string_view key = Text(kv.key);
    if (key == "type") type = &kv.val;
    if (key == "payload") payload = &kv.val;
    if (key == "project_id") project_id = &kv.val;
  }
  if (type == nullptr || !IsText(*type)) {
    out.error = "no string `type`";
    return out;
  }
  if (Text(*type) != "event") {
    out.kind = Kind::kSkipped;
    out.type = Text(*type);
    return out;
  }
  if (payload == nullptr || !IsText(*payload)) {
    out.error = "an event message without a bytes `payload`";
    return out;
  }
  // Relay writes an unsigned integer; a signed one is read as long as it is positive.
  int64_t project = 0;
  if (project_id != nullptr && project_id->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
      project_id->via.u64 <= static_cast<uint64_t>(INT64_MAX)) {
    project = static_cast<int64_t>(project_id->via.u64);
  }
  if (project <= 0) {
    out.error = "an event message without a positive integer `project_id`";
    return out;
  }
  m.Stamp(Text(*payload), project, json);
  if (m.IsTransaction(*json)) {
    out.kind = Kind::kSkipped;
    out.type = "transaction";
    return out;
  }
  out.kind = Kind::kEvent;
  return out;
}

}  // namespace klaxon::connectors
