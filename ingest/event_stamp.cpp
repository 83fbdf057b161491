#include "ingest/event_stamp.h"

#include <nlohmann/json.hpp>

namespace klaxon::ingest {

Result<std::string> StampEvent(std::string_view json, const Project& project,
                               const std::string& fallback_event_id, std::string* event_id) {
  nlohmann::json event = nlohmann::json::parse(json, nullptr, false);
  if (!event.is_object()) return Status::InvalidArgument("the event is not a JSON object");
  auto id = event.find("event_id");
  if (id == event.end() || !id->is_string() || id->get<std::string>().empty()) {
    event["event_id"] = fallback_event_id;
  }
  *event_id = event["event_id"].get<std::string>();
  event["project"] = project.name;
  event["project_id"] = project.id;
  // Invalid UTF-8 from a client is replaced, not a reason to throw.
  return event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace klaxon::ingest
