#include "cli/preflight.h"

#include <filesystem>
#include <ostream>
#include <sstream>

#include "actions/action.h"
#include "cli/rule_files.h"
#include "cli/secrets.h"

namespace klaxon::cli {
namespace {

// Every env("...") and file("...") of one action value, lists included.
void CheckSecrets(const ActionDef& def, const std::string& key, const ActionValue& v,
                  const actions::SecretResolver& resolve, std::vector<std::string>& problems) {
  if (v.kind == ActionValue::Kind::kList) {
    for (const ActionValue& e : v.list) CheckSecrets(def, key, e, resolve, problems);
    return;
  }
  if (v.kind != ActionValue::Kind::kEnv && v.kind != ActionValue::Kind::kFile) return;
  const Result<std::string> secret = resolve(v);
  if (!secret.ok()) {
    problems.push_back(v.pos.file + ":" + std::to_string(v.pos.line) + ":" +
                       std::to_string(v.pos.column) + ": action " + def.name + ", " + key + ": " +
                       secret.status().message());
  }
}

}  // namespace

Result<std::string> ReadConfigFile(const std::string& path) {
  constexpr size_t kMaxConfigBytes = 1 << 20;
  Result<std::string> text = ReadFileText(path, kMaxConfigBytes);
  if (text.ok() && text->size() > kMaxConfigBytes) {
    return Status::InvalidArgument(path + " is larger than 1 MiB");
  }
  return text;
}

std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  if (path == "-" || path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

std::vector<std::string> PreflightProblems(const Config& config, const EnvLookup& env) {
  std::vector<std::string> problems;
  std::vector<std::string> paths;
  for (const std::string& p : config.rules) paths.push_back(ResolvePath(config.base_dir, p));
  std::ostringstream diagnostics;
  Result<LoadedRules> loaded = LoadRules(paths, diagnostics);
  if (!loaded.ok()) {
    std::string text = diagnostics.str();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    problems.push_back("rules: " + loaded.status().message() + (text.empty() ? "" : "\n" + text));
    return problems;
  }
  const actions::SecretResolver resolve = MakeSecretResolver(env, config.base_dir);
  for (const ActionDef& def : loaded->rules.actions) {
    const size_t before = problems.size();
    for (const ActionArg& arg : def.args) CheckSecrets(def, arg.key, arg.value, resolve, problems);
    if (problems.size() != before) continue;
    // With its secrets at hand, the action is built exactly as `klaxon run` builds it.
    Result<std::unique_ptr<actions::Action>> action = actions::CreateAction(def, resolve, {});
    if (!action.ok()) problems.push_back("action " + def.name + ": " + action.status().message());
  }
  return problems;
}

int CheckConfigFile(const std::string& path, std::ostream& out, std::ostream& err) {
  Result<std::string> text = ReadConfigFile(path);
  if (!text.ok()) {
    err << "klaxon check: " << text.status().message() << "\n";
    return 2;
  }
  const EnvLookup env = ProcessEnv();
  Result<Config> config = ParseConfig(*text, {}, env, ReadSecretFile, path);
  if (!config.ok()) {
    err << "klaxon check: " << config.status().message() << "\n";
    return 1;
  }
  config->base_dir = std::filesystem::path(path).parent_path().string();
  if (config->base_dir.empty()) config->base_dir = ".";
  const std::vector<std::string> problems = PreflightProblems(*config, env);
  if (!problems.empty()) {
    err << path << ": " << problems.size() << (problems.size() == 1 ? " problem" : " problems")
        << ":\n";
    for (const std::string& p : problems) err << "  " << p << "\n";
    return 1;
  }
  out << path << ": OK\n";
  return 0;
}

}  // namespace klaxon::cli
