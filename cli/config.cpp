#include "cli/config.h"

#include <cctype>
#include <charconv>
#include <set>
#include <type_traits>

#include <yaml-cpp/yaml.h>

namespace klaxon::cli {
namespace {

// Reads one YAML mapping, remembering which keys were read so that the rest are reported.
class Section {
 public:
  Section(YAML::Node node, std::string path, const EnvLookup& env, const FileReader& read_file,
          std::vector<std::string>& errors)
      : node_(std::move(node)),
        path_(std::move(path)),
        env_(env),
        read_file_(read_file),
        errors_(errors) {
    if (node_ && !node_.IsNull() && !node_.IsMap()) {
      Error(path_.empty() ? "the configuration" : path_, "must be a mapping");
    }
  }

  ~Section() {
    if (!node_ || !node_.IsMap()) return;
    for (const auto& kv : node_) {
      const std::string key = kv.first.as<std::string>();
      if (used_.count(key) == 0) Error(Key(key), "unknown key");
    }
  }
  Section(const Section&) = delete;
  Section& operator=(const Section&) = delete;

  Section Child(const std::string& key) {
    used_.insert(key);
    return Section(Get(key), Key(key), env_, read_file_, errors_);
  }

  void String(const std::string& key, std::string& out) {
    used_.insert(key);
    used_.insert(key + "_file");
    if (YAML::Node file = Get(key + "_file"); file && !file.IsNull()) {
      std::string path;
      if (!Scalar(key + "_file", file, path)) return;
      Result<std::string> content = read_file_(path);
      if (!content.ok()) {
        Error(Key(key + "_file"), content.status().message());
        return;
      }
      std::string value = std::move(content).value();
      while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
      out = std::move(value);
      return;
    }
    if (YAML::Node n = Get(key); n && !n.IsNull()) Scalar(key, n, out);
  }

  void Bool(const std::string& key, bool& out) {
    std::string text;
    String(key, text);
    if (text.empty()) return;
    if (text == "true") {
      out = true;
    } else if (text == "false") {
      out = false;
    } else {
      Error(Key(key), "must be true or false, not '" + text + "'");
    }
  }

  template <typename Int>
  void Integer(const std::string& key, Int& out) {
    std::string text;
    String(key, text);
    if (text.empty()) return;
    Int value{};
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || p != text.data() + text.size()) {
      Error(Key(key), "must be a non-negative whole number, not '" + text + "'");
      return;
    }
    out = value;
  }

  void Duration(const std::string& key, int64_t& out) {
    std::string text;
    String(key, text);
    if (text.empty()) return;
    Result<int64_t> ms = ParseDurationMs(text);
    if (!ms.ok()) {
      Error(Key(key), ms.status().message());
      return;
    }
    out = *ms;
  }

  void Bytes(const std::string& key, size_t& out) {
    std::string text;
    String(key, text);
    if (text.empty()) return;
    Result<int64_t> bytes = ParseBytes(text);
    if (!bytes.ok()) {
      Error(Key(key), bytes.status().message());
      return;
    }
    out = static_cast<size_t>(*bytes);
  }

  void StringList(const std::string& key, std::vector<std::string>& out) {
    used_.insert(key);
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return;
    if (n.IsScalar()) {
      std::string one;
      if (Scalar(key, n, one)) out = {one};
      return;
    }
    if (!n.IsSequence()) {
      Error(Key(key), "must be a list");
      return;
    }
    out.clear();
    for (const YAML::Node& e : n) {
      std::string value;
      if (Scalar(key, e, value)) out.push_back(value);
    }
  }

  void StringMap(const std::string& key, std::map<std::string, std::string>& out) {
    used_.insert(key);
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return;
    if (!n.IsMap()) {
      Error(Key(key), "must be a mapping");
      return;
    }
    for (const auto& kv : n) {
      std::string value;
      if (Scalar(key + "." + kv.first.as<std::string>(), kv.second, value)) {
        out[kv.first.as<std::string>()] = value;
      }
    }
  }

 private:
  YAML::Node Get(const std::string& key) const {
    if (!node_ || !node_.IsMap()) return YAML::Node();
    return node_[key];
  }
  std::string Key(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  void Error(const std::string& key, const std::string& message) {
    errors_.push_back(key + ": " + message);
  }
  bool Scalar(const std::string& key, const YAML::Node& n, std::string& out) {
    if (!n.IsScalar()) {
      Error(Key(key), "must be a single value");
      return false;
    }
    Result<std::string> value = Interpolate(n.Scalar(), env_);
    if (!value.ok()) {
      Error(Key(key), value.status().message());
      return false;
    }
    out = std::move(value).value();
    return true;
  }

  YAML::Node node_;
  std::string path_;
  const EnvLookup& env_;
  const FileReader& read_file_;
  std::vector<std::string>& errors_;
  std::set<std::string> used_;
};

void ApplyOverride(YAML::Node root, const std::string& dotted, const std::string& value) {
  // kafka.properties.<librdkafka.property> keeps the dots of the property name.
  std::vector<std::string> keys;
  const std::string properties_prefix = "kafka.properties.";
  if (dotted.rfind(properties_prefix, 0) == 0) {
    keys = {"kafka", "properties", dotted.substr(properties_prefix.size())};
  } else {
    size_t start = 0;
    while (true) {
      const size_t dot = dotted.find('.', start);
      keys.push_back(dotted.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  }
  std::vector<YAML::Node> chain = {root};
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    YAML::Node next = chain.back()[keys[i]];
    if (!next.IsMap()) next = YAML::Node(YAML::NodeType::Map);
    chain.back()[keys[i]] = next;
    chain.push_back(chain.back()[keys[i]]);
  }
  if (keys.back() == "rules" || keys.back() == "topics" || keys.back() == "allow") {
    YAML::Node list(YAML::NodeType::Sequence);
    size_t start = 0;
    while (start <= value.size()) {
      const size_t comma = value.find(',', start);
      list.push_back(value.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    chain.back()[keys.back()] = list;
  } else {
    chain.back()[keys.back()] = value;
  }
}

}  // namespace

Result<int64_t> ParseDurationMs(const std::string& text) {
  struct Unit {
    const char* name;
    int64_t ms;
  };
  constexpr Unit kUnits[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
                             {"h", 3600000}, {"d", 86400000}, {"w", 604800000}};
  int64_t total = 0;
  size_t i = 0;
  if (text.empty()) return Status::InvalidArgument("empty duration");
  while (i < text.size()) {
    size_t digits = i;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
      ++digits;
    }
    if (digits == i) {
      return Status::InvalidArgument("invalid duration '" + text +
                                     "' (use e.g. 500ms, 30s, 5m, 1h)");
    }
    const int64_t number = std::stoll(text.substr(i, digits - i));
    size_t unit_end = digits;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) {
      ++unit_end;
    }
    const std::string unit = text.substr(digits, unit_end - digits);
    const Unit* found = nullptr;
    for (const Unit& u : kUnits) {
      if (unit == u.name) found = &u;
    }
    if (found == nullptr) {
      return Status::InvalidArgument("invalid duration '" + text +
                                     "' (use e.g. 500ms, 30s, 5m, 1h)");
    }
    total += number * found->ms;
    i = unit_end;
  }
  return total;
}

Result<int64_t> ParseBytes(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) {
    return Status::InvalidArgument("invalid size '" + text + "' (use e.g. 1048576, 512KiB, 1MiB)");
  }
  const int64_t number = std::stoll(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  if (unit.empty() || unit == "B") return number;
  if (unit == "KiB" || unit == "KB") return number * 1024;
  if (unit == "MiB" || unit == "MB") return number * 1024 * 1024;
  if (unit == "GiB" || unit == "GB") return number * 1024 * 1024 * 1024;
  return Status::InvalidArgument("invalid size '" + text + "' (use e.g. 1048576, 512KiB, 1MiB)");
}

Result<std::string> Interpolate(const std::string& value, const EnvLookup& env) {
  std::string out;
  size_t i = 0;
  while (i < value.size()) {
    if (value[i] != '$') {
      out.push_back(value[i++]);
      continue;
    }
    if (i + 1 < value.size() && value[i + 1] == '$') {
      out.push_back('$');
      i += 2;
      continue;
    }
    if (i + 1 >= value.size() || value[i + 1] != '{') {
      out.push_back(value[i++]);
      continue;
    }
    const size_t close = value.find('}', i + 2);
    if (close == std::string::npos) {
      return Status::InvalidArgument("unclosed '${' in '" + value + "'");
    }
    const std::string inner = value.substr(i + 2, close - i - 2);
    const size_t dash = inner.find(":-");
    const std::string name = inner.substr(0, dash);
    if (name.empty()) return Status::InvalidArgument("empty variable name in '" + value + "'");
    std::optional<std::string> found = env(name);
    if (found && !found->empty()) {
      out += *found;
    } else if (dash != std::string::npos) {
      out += inner.substr(dash + 2);
    } else {
      return Status::InvalidArgument("environment variable " + name + " is not set (write ${" +
                                     name + ":-default} for a default)");
    }
    i = close + 1;
  }
  return out;
}

Result<Config> ParseConfig(const std::string& text,
                           const std::map<std::string, std::string>& overrides,
                           const EnvLookup& env, const FileReader& read_file) {
  YAML::Node root;
  try {
    root = text.empty() ? YAML::Node(YAML::NodeType::Map) : YAML::Load(text);
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) return Status::InvalidArgument("the configuration must be a YAML mapping");
    for (const auto& [key, value] : overrides) ApplyOverride(root, key, value);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("invalid YAML: line " + std::to_string(e.mark.line + 1) +
                                   ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }

  Config c;
  std::vector<std::string> errors;
  try {
    Section top(root, "", env, read_file, errors);
    top.StringList("rules", c.rules);
    top.String("source", c.source_kind);
    {
      Section k = top.Child("kafka");
      k.String("brokers", c.kafka.brokers);
      k.StringList("topics", c.kafka.topics);
      k.String("topic_regex", c.kafka.topic_regex);
      k.String("group_id", c.kafka.group_id);
      k.String("client_id", c.kafka.client_id);
      k.String("security_protocol", c.kafka.security_protocol);
      k.String("sasl_mechanism", c.kafka.sasl_mechanism);
      k.String("sasl_username", c.kafka.sasl_username);
      k.String("sasl_password", c.kafka.sasl_password);
      k.String("ssl_ca_location", c.kafka.ssl_ca_location);
      k.String("ssl_certificate_location", c.kafka.ssl_certificate_location);
      k.String("ssl_key_location", c.kafka.ssl_key_location);
      k.String("ssl_key_password", c.kafka.ssl_key_password);
      k.Duration("statistics_interval", c.kafka.statistics_interval_ms);
      k.String("dead_letter_topic", c.kafka.dead_letter_topic);
      k.StringMap("properties", c.kafka.properties);
    }
    {
      Section f = top.Child("file");
      f.String("path", c.file.path);
      f.Bool("follow", c.file.follow);
    }
    {
      Section e = top.Child("engine");
      std::string timestamp_field;
      e.String("timestamp_field", timestamp_field);
      if (!timestamp_field.empty()) {
        c.engine.timestamp_path.clear();
        size_t start = 0;
        while (true) {
          const size_t dot = timestamp_field.find('.', start);
          c.engine.timestamp_path.push_back(timestamp_field.substr(start, dot - start));
          if (dot == std::string::npos) break;
          start = dot + 1;
        }
      }
      e.Duration("allowed_lateness", c.engine.allowed_lateness_ms);
      e.Integer("max_groups_per_rule", c.engine.max_groups_per_rule);
      e.Bytes("max_event_size", c.engine.max_event_bytes);
      e.Integer("max_depth", c.engine.max_depth);
      e.Duration("idle_tick", c.idle_tick_ms);
      e.Duration("restore_horizon", c.restore_horizon_ms);
      e.Duration("max_partition_skew", c.max_partition_skew_ms);
      e.Duration("partition_idle_timeout", c.partition_idle_timeout_ms);
      e.Duration("future_limit", c.future_limit_ms);
    }
    {
      Section o = top.Child("outbox");
      o.String("path", c.outbox_path);
      o.Duration("max_age", c.outbox_max_age_ms);
      o.Duration("drain_timeout", c.drain_timeout_ms);
      o.Integer("workers", c.workers);
    }
    {
      Section h = top.Child("http");
      h.Duration("connect_timeout", c.connect_timeout_ms);
      h.Duration("read_timeout", c.read_timeout_ms);
      h.StringList("allow", c.http_allow);
    }
    {
      Section a = top.Child("admin");
      a.String("listen", c.admin_listen);
      a.Bool("enable_reload", c.enable_reload_endpoint);
    }
    {
      Section l = top.Child("log");
      l.String("format", c.log_format);
      l.String("level", c.log_level);
    }
  } catch (const YAML::Exception& e) {
    errors.push_back(std::string("invalid YAML: ") + e.what());
  }

  if (c.source_kind != "kafka" && c.source_kind != "file" && c.source_kind != "stdin") {
    errors.push_back("source: must be kafka, file or stdin, not '" + c.source_kind + "'");
  }
  if (c.source_kind == "kafka" && c.kafka.topics.empty() && c.kafka.topic_regex.empty()) {
    errors.push_back("kafka.topics: name at least one topic (or set kafka.topic_regex)");
  }
  if (c.log_format != "logfmt" && c.log_format != "json") {
    errors.push_back("log.format: must be logfmt or json, not '" + c.log_format + "'");
  }
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    errors.push_back("log.level: must be debug, info, warn or error, not '" + c.log_level + "'");
  }
  if (c.rules.empty()) errors.push_back("rules: list at least one rule file or folder");
  if (c.workers < 1 || c.workers > 64) errors.push_back("outbox.workers: must be 1 to 64");
  if (!errors.empty()) {
    std::string message = "invalid configuration:";
    for (const std::string& e : errors) message += "\n  " + e;
    return Status::InvalidArgument(message);
  }
  return c;
}

}  // namespace klaxon::cli
