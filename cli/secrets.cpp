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
      Result<std::string> content = ReadSecretFile(path);
      if (!content.ok()) {
        // The message names the path as written, never the contents.
        const std::string& why = content.status().message();
        return Status::InvalidArgument(
            content.status().code() == StatusCode::kInvalidArgument
                ? "secret file " + v.text + " is larger than 64 KiB"
                : "cannot read secret file " + v.text +
                      (why.ends_with(": not a regular file") ? ": not a regular file" : ""));
      }
      std::string s = std::move(content).value();
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
      return s;
    }
    return v.text;
  };
}

Result<std::string> ReadSecretFile(const std::string& path) {
  Result<std::string> content = ReadFileText(path, kMaxSecretBytes);
  if (!content.ok()) return content.status();
  if (content->size() > kMaxSecretBytes) {
    return Status::InvalidArgument(path + " is larger than 64 KiB (not a secret file?)");
  }
  return content;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

}  // namespace klaxon::cli
