#include "service/progress_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace klaxon::service {

Result<HandedOffsets> LoadProgressFile(const std::string& path) {
  HandedOffsets offsets;
  std::ifstream in(path);
  if (!in) return offsets;  // first start
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_array()) return Status::InvalidArgument("unreadable progress file " + path);
  for (const auto& e : j) {
    if (e.is_object() && e.value("topic", nlohmann::json()).is_string() &&
        e.value("partition", nlohmann::json()).is_number_integer() &&
        e.value("offset", nlohmann::json()).is_number_integer()) {
      offsets[{e["topic"].get<std::string>(), e["partition"].get<int32_t>()}] =
          e["offset"].get<int64_t>();
    }
  }
  return offsets;
}

Status SaveProgressFile(const std::string& path, const HandedOffsets& offsets) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [key, offset] : offsets) {
    j.push_back({{"topic", key.first}, {"partition", key.second}, {"offset", offset}});
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << "\n";
    out.flush();
    if (!out) return Status::Unavailable("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::Unavailable("cannot rename " + tmp + " to " + path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace klaxon::service
