#include "cli/preflight.h"

#include <unistd.h>

#include <filesystem>
#include <ostream>
#include <sstream>

#include "actions/action.h"
#include "cli/rule_files.h"
#include "cli/runtime_options.h"
#include "cli/secrets.h"
#include "connectors/kafka_config.h"

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

// Why the service could not create or write `path` (a file it opens read-write), or "".
std::string WritableFileProblem(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  if (!fs::is_directory(folder, ec)) return "folder " + folder.string() + " does not exist";
  if (fs::exists(path, ec)) {
    if (::access(path.c_str(), W_OK) != 0) return path + " is read-only";
  } else if (::access(folder.c_str(), W_OK) != 0) {
    return "folder " + folder.string() + " is not writable";
  }
  return "";
}

// What librdkafka refuses only when a client is created (fetch.max.bytes below
// message.max.bytes, ...): found here, so `klaxon run` stops before it writes any file.
std::vector<std::string> KafkaClientProblems(const Config& config) {
  std::vector<std::string> problems;
  if (config.source_kind != "kafka") return problems;
  const connectors::KafkaClientOptions client = KafkaOptionsFrom(config.kafka).client;
  using connectors::KafkaClientKind;
  if (Status s = connectors::CheckKafkaClient(client, KafkaClientKind::kConsumer); !s.ok()) {
    problems.push_back("kafka (consumer): " + s.message());
  }
  if (config.kafka.dead_letter_topic.empty()) return problems;
  if (Status s = connectors::CheckKafkaClient(client, KafkaClientKind::kProducer); !s.ok()) {
    problems.push_back("kafka.dead_letter_topic (producer): " + s.message());
  }
  return problems;
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
  } else if (loaded->rules.rules.empty()) {
    problems.push_back("rules: " + NoRulesIn(loaded->files) + ": nothing to evaluate");
  } else {
    const actions::SecretResolver resolve = MakeSecretResolver(env, config.base_dir);
    for (const ActionDef& def : loaded->rules.actions) {
      const size_t before = problems.size();
      for (const ActionArg& arg : def.args)
        CheckSecrets(def, arg.key, arg.value, resolve, problems);
      if (problems.size() != before) continue;
      // With its secrets at hand, the action is built exactly as `klaxon run` builds it.
      Result<std::unique_ptr<actions::Action>> action = actions::CreateAction(def, resolve, {});
      if (!action.ok()) problems.push_back("action " + def.name + ": " + action.status().message());
    }
  }
  // The files the service writes: their folders must be there (the outbox's also holds the
  // silences and the progress file).
  const std::string outbox = ResolvePath(config.base_dir, config.outbox_path);
  if (std::string p = WritableFileProblem(outbox); !p.empty()) {
    problems.push_back("outbox.path: cannot open " + outbox + ": " + p);
  }
  if (config.source_kind == "kafka" && config.state_enabled) {
    const bool beside = config.state_path.empty();
    const std::string state =
        ResolvePath(config.base_dir, beside ? config.outbox_path + ".state" : config.state_path);
    if (std::string p = WritableFileProblem(state); !p.empty()) {
      problems.push_back(std::string(beside ? "state.path (beside outbox.path)" : "state.path") +
                         ": cannot open " + state + ": " + p);
    }
  }
  return problems;
}

std::vector<std::string> StartProblems(const std::string& text,
                                       const std::map<std::string, std::string>& overrides,
                                       const std::string& config_path, const EnvLookup& env,
                                       Config& config) {
  ParsedConfig parsed = ParseConfigProblems(text, overrides, env, ReadSecretFile, config_path);
  config = std::move(parsed.config);
  config.base_dir = std::filesystem::path(config_path).parent_path().string();
  if (config.base_dir.empty()) config.base_dir = ".";
  const bool config_ok = parsed.problems.empty();
  std::vector<std::string> problems = std::move(parsed.problems);
  // A configuration error does not hide those of the rule files and secrets: a user mending the
  // files gets everything in one round.
  if (parsed.structure_ok && !config.rules.empty()) {
    for (std::string& p : PreflightProblems(config, env)) problems.push_back(std::move(p));
  }
  // Kafka properties weighed against each other, once each is valid on its own.
  if (config_ok) {
    for (std::string& p : KafkaClientProblems(config)) problems.push_back(std::move(p));
  }
  return problems;
}

int CheckConfigFile(const std::string& path, const std::map<std::string, std::string>& overrides,
                    std::ostream& out, std::ostream& err) {
  Result<std::string> text = ReadConfigFile(path);
  if (!text.ok()) {
    err << "klaxon check: " << text.status().message() << "\n";
    return 2;
  }
  Config config;
  const std::vector<std::string> problems =
      StartProblems(*text, overrides, path, ProcessEnv(), config);
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
