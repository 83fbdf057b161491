// The parse-only baseline the engine is measured against: one simdjson on-demand pass over an
// event touching the fields realistic rules read (timestamp, level, server_name, every tag,
// every exception type). Shared by the benchmarks so they compare against the same work.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string_view>

namespace klaxon::bench {

// Returns a value derived from the fields read (so the compiler cannot drop the work), or 0 when
// the document does not parse. `data` must have simdjson::SIMDJSON_PADDING readable bytes past
// `size` (`capacity` says how many bytes are readable in all).
inline uint64_t TouchEventFields(simdjson::ondemand::parser& parser, const char* data, size_t size,
                                 size_t capacity) {
  namespace od = simdjson::ondemand;
  uint64_t sink = 0;
  od::document doc;
  if (parser.iterate(data, size, capacity).get(doc)) return 0;
  od::object obj;
  if (doc.get_object().get(obj)) return 0;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) break;
    if (key == "timestamp") {
      double d = 0;
      if (!field.value().get_double().get(d)) sink += static_cast<uint64_t>(d);
    } else if (key == "level" || key == "server_name") {
      std::string_view v;
      if (!field.value().get_string().get(v)) sink += v.size();
    } else if (key == "tags") {
      od::value v;
      if (field.value().get(v)) break;
      od::json_type t;
      if (v.type().get(t)) break;
      if (t == od::json_type::object) {
        for (auto tf : v.get_object()) {
          std::string_view tv;
          if (!tf.value().get_string().get(tv)) sink += tv.size();
        }
      } else {
        for (auto pair : v.get_array()) {
          for (auto item : pair.get_array()) {
            std::string_view tv;
            if (!item.get_string().get(tv)) sink += tv.size();
          }
        }
      }
    } else if (key == "exception") {
      for (auto ex : field.value()["values"].get_array()) {
        std::string_view tv;
        if (!ex["type"].get_string().get(tv)) sink += tv.size();
      }
    }
  }
  return sink;
}

}  // namespace klaxon::bench
