#include "cli/flags.h"

#include <ostream>

#include "engine/duration.h"

namespace klaxon::cli {

FlagParser::FlagParser(std::string command, std::string_view usage)
    : command_(std::move(command)), usage_(usage) {}

void FlagParser::Value(std::string name, SetValue set) {
  flags_.push_back({std::move(name), std::move(set), nullptr});
}

void FlagParser::Switch(std::string name, bool* on) {
  flags_.push_back({std::move(name), nullptr, on});
}

void FlagParser::Duration(std::string name, int64_t* ms) {
  Value(std::move(name), [ms](const std::string& v) {
    Result<int64_t> d = ParseDurationMs(v);
    if (!d.ok()) return d.status();
    *ms = *d;
    return Status::Ok();
  });
}

void FlagParser::Other(SetOther set) { other_ = std::move(set); }

int FlagParser::UsageError(const std::string& message, std::ostream& err) const {
  err << "klaxon " << command_ << ": " << message << "\n" << usage_;
  return 2;
}

std::optional<int> FlagParser::Parse(const Args& args, std::vector<std::string>& positional,
                                     std::ostream& out, std::ostream& err) const {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out << usage_;
      return 0;
    }
    if (a.empty() || a[0] != '-' || a == "-") {
      positional.push_back(a);
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    const Flag* flag = nullptr;
    for (const Flag& f : flags_) {
      if (f.name == name) flag = &f;
    }
    if (flag != nullptr && flag->on != nullptr) {
      if (eq != std::string::npos) return UsageError(name + " takes no value", err);
      *flag->on = true;
      continue;
    }
    if (flag == nullptr && (!other_ || !name.starts_with("--") || name.size() == 2)) {
      return UsageError("unknown flag " + name, err);
    }
    std::string value;
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      err << "klaxon " << command_ << ": " << name << " needs a value\n";
      return 2;
    }
    const Status st = flag != nullptr ? flag->set(value) : other_(name.substr(2), value);
    if (!st.ok()) {
      err << "klaxon " << command_ << ": " << name << ": " << st.message() << "\n";
      return 2;
    }
  }
  return std::nullopt;
}

}  // namespace klaxon::cli
