#include "tests/cli/golden_util.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace klaxon::cli::testing {

std::string SourceDir() {
  const char* dir = std::getenv("KLAXON_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

bool UpdateGolden() {
  const char* update = std::getenv("KLAXON_UPDATE_GOLDEN");
  return update != nullptr && std::string(update) == "1";
}

}  // namespace klaxon::cli::testing
