#include "cli/secrets.h"

#include <cstdlib>
#include <filesystem>

#include "cli/rule_files.h"

namespace klaxon::cli {

actions::SecretResolver MakeSecretResolver(EnvLookup env, std::string base_dir) {
  return [env = std::move(env),
          base_dir = std::move(base_dir)](const ActionValue& v) -> Result<std::string> {
    if (v.kind == ActionValue::Kind::kEnv) {
      std::optional<std::string> value = env(v.text);
      if (!value || value->empty()) {
        return Status::InvalidArgument("environment variable " + v.text + " is not set");
      }
      return *value;
    }
    if (v.kind == ActionValue::Kind::kFile) {
      std::string path = v.text;
      if (!std::filesystem::path(path).is_absolute() && !base_dir.empty()) {
        path = (std::filesystem::path(base_dir) / path).lexically_normal().string();
      }
      Result<std::string> content = ReadFileText(path);
      if (!content.ok()) return Status::InvalidArgument("cannot read secret file " + v.text);
      std::string s = std::move(content).value();
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
      return s;
    }
    return v.text;
  };
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

}  // namespace klaxon::cli
