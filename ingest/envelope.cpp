#include "ingest/envelope.h"

#include <nlohmann/json.hpp>

namespace klaxon::ingest {
namespace {

// The line starting at `pos` without its newline; `pos` moves past the newline.
std::string_view TakeLine(std::string_view body, size_t& pos) {
  const size_t end = body.find('\n', pos);
  const size_t stop = end == std::string_view::npos ? body.size() : end;
  std::string_view line = body.substr(pos, stop - pos);
  pos = end == std::string_view::npos ? body.size() : end + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

Result<Envelope> ParseEnvelope(std::string_view body, size_t max_items) {
  size_t pos = 0;
  const std::string_view header_line = TakeLine(body, pos);
  // nlohmann throws only when asked to; parse errors come back as a discarded value.
  const nlohmann::json header = nlohmann::json::parse(header_line, nullptr, false);
  if (!header.is_object()) {
    return Status::InvalidArgument("envelope header is not a JSON object");
  }
  Envelope out;
  if (auto it = header.find("event_id"); it != header.end() && it->is_string()) {
    out.event_id = it->get<std::string>();
  }
  if (auto it = header.find("dsn"); it != header.end() && it->is_string()) {
    out.dsn = it->get<std::string>();
  }
  while (pos < body.size()) {
    const std::string_view item_line = TakeLine(body, pos);
    if (IsBlank(item_line)) continue;  // SDKs may end the body with extra newlines
    const nlohmann::json item = nlohmann::json::parse(item_line, nullptr, false);
    if (!item.is_object()) return Status::InvalidArgument("item header is not a JSON object");
    auto type = item.find("type");
    if (type == item.end() || !type->is_string() || type->get<std::string>().empty()) {
      return Status::InvalidArgument("item header has no type");
    }
    if (out.items.size() >= max_items) {
      return Status::InvalidArgument("more than " + std::to_string(max_items) + " items");
    }
    EnvelopeItem parsed;
    parsed.type = type->get<std::string>();
    if (auto length = item.find("length"); length != item.end() && !length->is_null()) {
      if (!length->is_number_unsigned()) {
        return Status::InvalidArgument("item length is not a whole number");
      }
      const uint64_t n = length->get<uint64_t>();
      if (n > body.size() - pos) {
        return Status::InvalidArgument("item length runs past the end of the envelope");
      }
      parsed.payload = body.substr(pos, n);
      pos += n;
      // The payload may be followed by a newline (or end the body).
      if (pos < body.size() && body[pos] == '\r') ++pos;
      if (pos < body.size()) {
        if (body[pos] != '\n') {
          return Status::InvalidArgument("item payload is not followed by a newline");
        }
        ++pos;
      }
    } else {
      parsed.payload = TakeLine(body, pos);
    }
    out.items.push_back(std::move(parsed));
  }
  return out;
}

}  // namespace klaxon::ingest
