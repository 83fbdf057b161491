#include "cli/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <yaml-cpp/yaml.h>

#include "actions/http_client.h"
#include "connectors/kafka_config.h"
#include "engine/closest_match.h"
#include "service/listen_address.h"

namespace klaxon::cli {
namespace {

// One problem, with the position of the YAML node it is about (absent for flags).
struct ConfigError {
  int line = -1;  // 0-based, as yaml-cpp counts
  int column = -1;
  std::string key;  // dotted, "engine.max_depth"
  std::string message;
};

YAML::Mark MarkOf(const YAML::Node& n) {
  return n && n.IsDefined() ? n.Mark() : YAML::Mark::null_mark();
}

// Reads one YAML mapping, remembering which keys were read so that the rest are reported.
class Section {
 public:
  Section(YAML::Node node, std::string path, const EnvLookup& env, const FileReader& read_file,
          std::vector<ConfigError>& errors)
      : node_(std::move(node)),
        path_(std::move(path)),
        env_(env),
        read_file_(read_file),
        errors_(errors) {
    if (node_ && !node_.IsNull() && !node_.IsMap()) {
      Error(MarkOf(node_), path_.empty() ? "the configuration" : path_, "must be a mapping");
    }
  }

  // Keys never read are typos or keys of another version: report each, with the closest known.
  ~Section() {
    if (!node_ || !node_.IsMap()) return;
    std::vector<std::string> known(known_.begin(), known_.end());
    for (const auto& kv : node_) {
      const std::string key = kv.first.Scalar();
      if (used_.count(key) != 0) continue;
      const std::string best = ClosestMatch(key, known);
      Error(MarkOf(kv.first), Key(key),
            "unknown key" + (best.empty() ? "" : "; did you mean `" + best + "`?"));
    }
  }
  Section(const Section&) = delete;
  Section& operator=(const Section&) = delete;

  Section Child(const std::string& key) {
    Use(key);
    return Section(Get(key), Key(key), env_, read_file_, errors_);
  }

  // Whether the key (or KEY_file) gave a value. A key written without one (`key:`, `~`, `null`)
  // is an error rather than its default, so a half-filled config does not start with a value
  // nobody chose.
  bool String(const std::string& key, std::string& out) {
    Use(key);
    Use(key + "_file");
    if (YAML::Node file = Get(key + "_file"); file) {
      std::string path;
      if (file.IsNull()) return NoValue(key + "_file", file);
      if (!Scalar(key + "_file", file, path)) return false;
      Result<std::string> content = read_file_(path);
      if (!content.ok()) {
        Error(MarkOf(file), Key(key + "_file"), content.status().message());
        return false;
      }
      std::string value = std::move(content).value();
      while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
      out = std::move(value);
      return true;
    }
    YAML::Node n = Get(key);
    if (!n) return false;
    if (n.IsNull()) return NoValue(key, n);
    return Scalar(key, n, out);
  }

  // A string that must be one of `choices`.
  void Choice(const std::string& key, std::string& out, const std::vector<std::string>& choices) {
    Parsed(key, out, [&](const std::string& text) -> Result<std::string> {
      if (std::find(choices.begin(), choices.end(), text) != choices.end()) return text;
      std::string list;
      for (size_t i = 0; i < choices.size(); ++i) {
        list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
      }
      return Status::InvalidArgument("must be " + list + ", not '" + text + "'");
    });
  }

  void Bool(const std::string& key, bool& out) {
    Parsed(key, out, [](const std::string& text) -> Result<bool> {
      // YAML 1.2's core schema spellings.
      if (text == "true" || text == "True" || text == "TRUE") return true;
      if (text == "false" || text == "False" || text == "FALSE") return false;
      return Status::InvalidArgument("must be true or false, not '" + text + "'");
    });
  }

  // A value `parse` turns into a T, or into the error reported for `key`.
  template <typename T, typename Parse>
  void Parsed(const std::string& key, T& out, Parse parse) {
    std::string text;
    if (!String(key, text)) return;
    Result<T> value = parse(text);
    if (!value.ok()) {
      ValueError(key, value.status().message());
      return;
    }
    out = std::move(value).value();
  }

  template <typename Int>
  void Integer(const std::string& key, Int& out, int64_t min, int64_t max) {
    Parsed(key, out, [&](const std::string& text) -> Result<Int> {
      Result<int64_t> n = ParseCount(text, min, max);
      if (!n.ok()) return n.status();
      return static_cast<Int>(*n);
    });
  }

  void Duration(const std::string& key, int64_t& out, int64_t min_ms = 0) {
    Parsed(key, out, [&](const std::string& text) -> Result<int64_t> {
      Result<int64_t> ms = ParseDurationMs(text);
      if (ms.ok() && *ms < min_ms) {
        return Status::InvalidArgument("must be at least " + std::to_string(min_ms) + "ms");
      }
      return ms;
    });
  }

  void Bytes(const std::string& key, size_t& out) {
    Parsed(key, out, [](const std::string& text) -> Result<size_t> {
      Result<int64_t> bytes = ParseBytes(text);
      if (!bytes.ok()) return bytes.status();
      if (*bytes == 0) return Status::InvalidArgument("must be more than 0");
      return static_cast<size_t>(*bytes);
    });
  }

  void Listen(const std::string& key, std::string& out) {
    Parsed(key, out, [](const std::string& text) -> Result<std::string> {
      Result<service::ListenAddress> address = service::ParseListenAddress(text);
      if (!address.ok()) return address.status();
      return text;
    });
  }

  // A list of strings (or one string); `check`, when given, judges each entry, and its error is
  // placed at that entry.
  void StringList(const std::string& key, std::vector<std::string>& out,
                  const std::function<Status(const std::string&)>& check = nullptr) {
    Use(key);
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return;
    if (!n.IsScalar() && !n.IsSequence()) {
      Error(MarkOf(n), Key(key), "must be a list");
      return;
    }
    std::vector<YAML::Node> entries;
    if (n.IsScalar()) {
      entries.push_back(n);
    } else {
      for (const YAML::Node& e : n) entries.push_back(e);
    }
    out.clear();
    for (const YAML::Node& e : entries) {
      std::string value;
      if (!Scalar(key, e, value)) continue;
      if (check) {
        if (Status st = check(value); !st.ok()) Error(MarkOf(e), Key(key), st.message());
      }
      out.push_back(std::move(value));
    }
  }

  // A mapping of strings; `check`, when given, judges each (key, value), its error placed at the
  // value and named `key.<entry>`.
  void StringMap(
      const std::string& key, std::map<std::string, std::string>& out,
      const std::function<Status(const std::string&, const std::string&)>& check = nullptr) {
    Use(key);
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return;
    if (!n.IsMap()) {
      Error(MarkOf(n), Key(key), "must be a mapping");
      return;
    }
    for (const auto& kv : n) {
      std::string value;
      const std::string entry = key + "." + kv.first.Scalar();
      if (!Scalar(entry, kv.second, value)) continue;
      out[kv.first.Scalar()] = value;
      if (!check) continue;
      if (Status st = check(kv.first.Scalar(), value); !st.ok()) {
        Error(MarkOf(kv.second), Key(entry), st.message());
      }
    }
  }

  // A list of mappings: `read` is called with a Section for each (named `key[i]` in errors).
  template <typename Read>
  void MappingList(const std::string& key, Read read) {
    Use(key);
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return;
    if (!n.IsSequence()) {
      Error(MarkOf(n), Key(key), "must be a list");
      return;
    }
    size_t i = 0;
    for (const YAML::Node& e : n) {
      Section item(e, Key(key) + "[" + std::to_string(i) + "]", env_, read_file_, errors_);
      read(item, i++);
    }
  }

  // True when `key` is present (and not null).
  bool Has(const std::string& key) const {
    YAML::Node n = Get(key);
    return n && !n.IsNull();
  }

  // An error about `key`, placed at its value, or at this section when the key is absent.
  void ItemError(const std::string& key, const std::string& message) {
    YAML::Node n = Get(key);
    Error(MarkOf(n && n.IsDefined() ? n : node_), Key(key), message);
  }

  // An error about the whole section, placed at its key (or the top of the file).
  void SectionError(const std::string& key, const std::string& message) {
    Error(MarkOf(Get(key)), Key(key), message);
  }

 private:
  void Use(const std::string& key) {
    used_.insert(key);
    known_.insert(key);
  }
  YAML::Node Get(const std::string& key) const {
    if (!node_ || !node_.IsMap())
      return YAML::Node(YAML::NodeType::Undefined);  // absent, unlike a key without a value
    return node_[key];
  }
  std::string Key(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  void Error(const YAML::Mark& mark, const std::string& key, const std::string& message) {
    errors_.push_back({mark.line, mark.column, key, message});
  }
  // Errors about a value point at the value (or at its `_file` key when that supplied it).
  void ValueError(const std::string& key, const std::string& message) {
    YAML::Node file = Get(key + "_file");
    Error(MarkOf(file && !file.IsNull() ? file : Get(key)), Key(key), message);
  }
  bool NoValue(const std::string& key, const YAML::Node& n) {
    Error(MarkOf(n), Key(key), "has no value: give one, or leave the key out for its default");
    return false;
  }

  bool Scalar(const std::string& key, const YAML::Node& n, std::string& out) {
    if (!n.IsScalar()) {
      Error(MarkOf(n), Key(key), "must be a single value");
      return false;
    }
    Result<std::string> value = Interpolate(n.Scalar(), env_);
    if (!value.ok()) {
      Error(MarkOf(n), Key(key), value.status().message());
      return false;
    }
    out = std::move(value).value();
    return true;
  }

  YAML::Node node_;
  std::string path_;
  const EnvLookup& env_;
  const FileReader& read_file_;
  std::vector<ConfigError>& errors_;
  std::set<std::string> used_;
  std::set<std::string> known_;  // keys this section reads (without `_file`), for suggestions
};

// A typed Kafka key judged as librdkafka judges the property it sets.
auto KafkaValue(const char* property) {
  return [property](const std::string& value) -> Result<std::string> {
    if (Status st = connectors::CheckKafkaProperty(property, value); !st.ok()) return st;
    return value;
  };
}

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

Result<int64_t> ParseCount(const std::string& text, int64_t min, int64_t max) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || text[0] == '-' || end != text.data() + text.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return Status::InvalidArgument(std::string(min > 0 ? "must be a whole number from " +
                                                             std::to_string(min) + " to " +
                                                             std::to_string(max)
                                                       : "must be a non-negative whole number") +
                                   ", not '" + text + "'");
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    return Status::InvalidArgument("'" + text + "' is out of range (" + std::to_string(min) +
                                   " to " + std::to_string(max) + ")");
  }
  return value;
}

Result<double> ParseRate(const std::string& text) {
  const size_t slash = text.find('/');
  const std::string unit = slash == std::string::npos ? "" : text.substr(slash + 1);
  const double per = unit == "s" ? 1 : unit == "min" ? 60 : unit == "h" ? 3600 : 0;
  if (per == 0) {
    return Status::InvalidArgument("invalid rate '" + text + "' (use e.g. 10/s, 600/min, 1000/h)");
  }
  Result<int64_t> n = ParseCount(text.substr(0, slash), 1, 1000000000);
  if (!n.ok()) return n.status();
  return static_cast<double>(*n) / per;
}

Result<int64_t> ParseBytes(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string unit = text.substr(digits);
  int64_t multiplier = 0;
  if (unit.empty() || unit == "B") multiplier = 1;
  if (unit == "KiB" || unit == "KB") multiplier = int64_t{1} << 10;
  if (unit == "MiB" || unit == "MB") multiplier = int64_t{1} << 20;
  if (unit == "GiB" || unit == "GB") multiplier = int64_t{1} << 30;
  if (digits == 0 || multiplier == 0) {
    return Status::InvalidArgument("invalid size '" + text + "' (use e.g. 1048576, 512KiB, 1MiB)");
  }
  int64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec == std::errc::result_out_of_range || number > kMaxBytes / multiplier) {
    return Status::InvalidArgument("size '" + text + "' is out of range (at most 1024GiB)");
  }
  return number * multiplier;
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

ParsedConfig ParseConfigProblems(const std::string& text,
                                 const std::map<std::string, std::string>& overrides,
                                 const EnvLookup& env, const FileReader& read_file,
                                 const std::string& file_name) {
  ParsedConfig parsed;
  Config& c = parsed.config;
  YAML::Node root;
  try {
    root = text.empty() ? YAML::Node(YAML::NodeType::Map) : YAML::Load(text);
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) {
      parsed.problems.push_back("the configuration must be a YAML mapping");
      return parsed;
    }
    for (const auto& [key, value] : overrides) ApplyOverride(root, key, value);
  } catch (const YAML::Exception& e) {
    parsed.problems.push_back("invalid YAML: line " + std::to_string(e.mark.line + 1) +
                              ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
    return parsed;
  }
  parsed.structure_ok = true;

  std::vector<ConfigError> errors;
  try {
    Section top(root, "", env, read_file, errors);
    top.StringList("rules", c.rules);
    if (c.rules.empty()) top.SectionError("rules", "list at least one rule file or folder");
    top.Choice("source", c.source_kind, {"kafka", "file", "stdin", "sentry"});
    {
      Section k = top.Child("kafka");
      k.String("brokers", c.kafka.brokers);
      k.StringList("topics", c.kafka.topics);
      k.String("topic_regex", c.kafka.topic_regex);
      if (c.source_kind == "kafka" && c.kafka.topics.empty() && c.kafka.topic_regex.empty()) {
        k.SectionError("topics", "name at least one topic (or set kafka.topic_regex)");
      }
      k.String("group_id", c.kafka.group_id);
      k.String("client_id", c.kafka.client_id);
      k.Parsed("security_protocol", c.kafka.security_protocol, KafkaValue("security.protocol"));
      k.Parsed("sasl_mechanism", c.kafka.sasl_mechanism, KafkaValue("sasl.mechanism"));
      k.String("sasl_username", c.kafka.sasl_username);
      k.String("sasl_password", c.kafka.sasl_password);
      k.String("ssl_ca_location", c.kafka.ssl_ca_location);
      k.String("ssl_certificate_location", c.kafka.ssl_certificate_location);
      k.String("ssl_key_location", c.kafka.ssl_key_location);
      k.String("ssl_key_password", c.kafka.ssl_key_password);
      k.Duration("statistics_interval", c.kafka.statistics_interval_ms);
      k.Integer("paused_prefetch_messages", c.kafka.paused_prefetch_messages, 1, 10000000);
      k.String("dead_letter_topic", c.kafka.dead_letter_topic);
      // What librdkafka would refuse when the consumer is built, refused here, at its line.
      k.StringMap("properties", c.kafka.properties, connectors::CheckKafkaProperty);
      k.Choice("format", c.kafka.format, {"json", "sentry_ingest"});
    }
    // Reading Sentry's own topic, the `sentry:` block only names projects: no endpoint.
    const bool sentry_topic = c.source_kind == "kafka" && c.kafka.format == "sentry_ingest";
    c.sentry.enabled = c.source_kind == "sentry" || (top.Has("sentry") && !sentry_topic);
    {
      Section se = top.Child("sentry");
      if (c.sentry.enabled && c.source_kind != "sentry" && c.source_kind != "kafka") {
        top.SectionError("sentry",
                         "needs `source: sentry` or `source: kafka` (not " + c.source_kind + ")");
      }
      if (c.sentry.enabled && c.source_kind == "kafka" && c.kafka.topics.empty()) {
        top.SectionError("sentry", "produces to the first of kafka.topics: name one there");
      }
      if (sentry_topic && se.Has("listen")) {
        se.SectionError("listen",
                        "kafka.format sentry_ingest reads Sentry's topic: Klaxon starts no "
                        "ingestion endpoint then (remove `listen`)");
      }
      se.Listen("listen", c.sentry.listen);
      std::set<int64_t> ids;
      se.MappingList("projects", [&](Section& p, size_t) {
        SentryProjectConfig project;
        p.Integer("id", project.id, 1, int64_t{1} << 53);
        p.String("name", project.name);
        p.StringList("keys", project.keys);
        p.Parsed("rate_limit", project.rate_per_second, ParseRate);
        p.Integer("burst", project.burst, 1, 1000000000);
        if (project.id == 0) p.ItemError("id", "a project needs its numeric `id` (the DSN's)");
        if (project.name.empty()) p.ItemError("name", "a project needs a `name`");
        if (!sentry_topic &&
            (project.keys.empty() ||
             std::find(project.keys.begin(), project.keys.end(), "") != project.keys.end())) {
          p.ItemError("keys", "list the project's public DSN keys (none may be empty)");
        }
        if (project.id != 0 && !ids.insert(project.id).second) {
          p.ItemError("id", "project id " + std::to_string(project.id) + " appears twice");
        }
        c.sentry.projects.push_back(std::move(project));
      });
      if (c.sentry.enabled && c.sentry.projects.empty()) {
        se.SectionError("projects", "list at least one project ({id, name, keys})");
      }
      se.Bytes("max_request_bytes", c.sentry.max_request_bytes);
      se.Bytes("max_event_bytes", c.sentry.max_event_bytes);
      se.Integer("threads", c.sentry.threads, 1, 1024);
      se.Duration("read_timeout", c.sentry.read_timeout_ms, 1);
      se.Duration("request_timeout", c.sentry.request_timeout_ms, 1);
      se.Integer("queue_size", c.sentry.queue_size, 1, 100000000);
      se.Bytes("queue_bytes", c.sentry.queue_bytes);
      se.Duration("ack_timeout", c.sentry.ack_timeout_ms, 1);
      se.String("capture", c.sentry.capture);
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
      if (e.Has("timestamp_field") &&
          (timestamp_field.empty() || timestamp_field.front() == '.' ||
           timestamp_field.back() == '.' || timestamp_field.find("..") != std::string::npos)) {
        e.ItemError("timestamp_field",
                    "must be a dotted field path such as timestamp or contexts.trace.timestamp, "
                    "not '" +
                        timestamp_field + "'");
      } else if (!timestamp_field.empty()) {
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
      e.Integer("max_groups_per_rule", c.engine.max_groups_per_rule, 1, 100000000);
      e.Bytes("max_event_size", c.engine.max_event_bytes);
      e.Integer("max_depth", c.engine.max_depth, 1, 1024);
      e.Duration("idle_tick", c.idle_tick_ms, 1);
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
      o.Integer("workers", c.workers, 1, 64);
      o.Duration("max_retry_after", c.max_retry_after_ms, 1);
      o.Duration("stop_grace", c.stop_grace_ms);
      o.Duration("warning_interval", c.warning_interval_ms);
    }
    {
      Section st = top.Child("state");
      st.Bool("enabled", c.state_enabled);
      st.String("path", c.state_path);
      st.Duration("checkpoint_interval", c.checkpoint_interval_ms, 1);
    }
    {
      Section so = top.Child("scale_out");
      so.Bool("enabled", c.scale_out.enabled);
      so.String("application_id", c.scale_out.application_id);
      so.Integer("partitions", c.scale_out.partitions, 1, 10000);
      so.Bool("warm_standby", c.scale_out.warm_standby);
      so.Bool("exactly_once", c.scale_out.exactly_once);
      // The internal topics are named after the id: Kafka allows 249 characters of
      // [A-Za-z0-9._-] in a topic name, and the longest suffix is "-repartition".
      const std::string& id = c.scale_out.application_id;
      if (so.Has("application_id") &&
          (id.empty() || id.size() > 249 - std::string_view("-repartition").size() ||
           id.find_first_not_of(
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
               std::string::npos)) {
        so.ItemError("application_id",
                     "names the internal topics <application_id>-repartition and the consumer "
                     "groups: use 1 to 237 of the characters A-Z a-z 0-9 . _ -, not '" +
                         id + "'");
      }
      if (c.scale_out.enabled) {
        if (c.source_kind != "kafka") {
          so.ItemError("enabled", "needs `source: kafka` (not " + c.source_kind + ")");
        } else if (!c.kafka.topic_regex.empty()) {
          so.ItemError("enabled",
                       "reads the partition counts of kafka.topics: name the topics instead of "
                       "kafka.topic_regex");
        } else if (c.kafka.format != "json") {
          so.ItemError("enabled", "reads JSON events only, not kafka.format " + c.kafka.format);
        }
      }
    }
    {
      Section h = top.Child("http");
      h.Duration("connect_timeout", c.connect_timeout_ms, 1);
      h.Duration("read_timeout", c.read_timeout_ms, 1);
      h.Duration("request_deadline", c.request_deadline_ms, 1);
      // Parsed entry by entry as the HTTP client parses the list when the service starts.
      h.StringList("allow", c.http_allow, [](const std::string& entry) {
        return actions::AllowList::Parse({entry}).status();
      });
    }
    {
      Section a = top.Child("admin");
      a.Listen("listen", c.admin_listen);
      a.Bool("enable_reload", c.enable_reload_endpoint);
      a.String("token_file", c.admin_token_file);
    }
    {
      Section l = top.Child("log");
      l.Choice("format", c.log_format, {"logfmt", "json"});
      l.Choice("level", c.log_level, {"debug", "info", "warn", "error"});
    }
  } catch (const YAML::Exception& e) {
    errors.push_back({e.mark.line, e.mark.column, "", "invalid YAML: " + e.msg});
  }

  // A value set by a flag is reported against the flag, even when the file has the key too
  // (the override replaced the value of the file's node, which keeps the file's position).
  for (ConfigError& e : errors) {
    if (overrides.count(e.key) != 0) e.line = e.column = -1;
  }
  {
    // In file order; errors without a position (from flags) last.
    std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
      const bool a_flag = a.line < 0;
      const bool b_flag = b.line < 0;
      if (a_flag != b_flag) return b_flag;
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    for (const ConfigError& e : errors) {
      std::string line;
      if (e.line >= 0) {
        line += (file_name.empty() ? "" : file_name + ":") + std::to_string(e.line + 1) + ":" +
                std::to_string(e.column + 1) + ": ";
      }
      // A value from a flag is named as the flag.
      line += (e.line < 0 && overrides.count(e.key) != 0 ? "--" : "") + e.key +
              (e.key.empty() ? "" : ": ") + e.message;
      parsed.problems.push_back(std::move(line));
    }
  }
  return parsed;
}

Result<Config> ParseConfig(const std::string& text,
                           const std::map<std::string, std::string>& overrides,
                           const EnvLookup& env, const FileReader& read_file,
                           const std::string& file_name) {
  ParsedConfig parsed = ParseConfigProblems(text, overrides, env, read_file, file_name);
  if (parsed.problems.empty()) return std::move(parsed.config);
  if (!parsed.structure_ok) return Status::InvalidArgument(parsed.problems.front());
  std::string message = "invalid configuration:";
  for (const std::string& p : parsed.problems) message += "\n  " + p;
  return Status::InvalidArgument(message);
}

}  // namespace klaxon::cli
