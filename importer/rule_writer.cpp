#include "importer/rule_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "rules-dsl/rules_dsl.h"

namespace klaxon::importer {
namespace {

// Comments hold one line each: line breaks in imported names or values become spaces.
std::string CommentText(const std::string& text) {
  std::string out = text;
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return out;
}

void WriteComments(std::string& out, const std::vector<std::string>& comments) {
  for (const std::string& c : comments) out += "# " + CommentText(c) + "\n";
}

}  // namespace

std::string StringLiteral(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string NumberText(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string EnvName(const std::string& action, const std::string& suffix) {
  std::string out;
  for (char c : action) {
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  }
  return out + "_" + suffix;
}

namespace {

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out;
}

}  // namespace

std::string DurationText(int64_t ms) {
  struct Unit {
    int64_t ms;
    const char* name;
  };
  constexpr Unit kUnits[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
  for (const Unit& u : kUnits) {
    if (ms >= u.ms && ms % u.ms == 0) return std::to_string(ms / u.ms) + u.name;
  }
  return std::to_string(std::max<int64_t>(ms / 1000, 1)) + "s";
}

std::string RuleWriter::UniqueName(const std::string& wanted) {
  std::string base;
  for (char c : wanted) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    if (ok) {
      base += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!base.empty() && base.back() != '-') {
      base += '-';
    }
    if (base.size() >= 64) break;
  }
  while (!base.empty() && base.back() == '-') base.pop_back();
  if (base.empty() || !(std::isalpha(static_cast<unsigned char>(base[0])) || base[0] == '_')) {
    base = "imported-" + base;
    if (base.back() == '-') base.pop_back();
  }
  std::string name = base;
  for (int n = 2; std::find(names_.begin(), names_.end(), name) != names_.end(); ++n) {
    name = base + "-" + std::to_string(n);
  }
  names_.push_back(name);
  return name;
}

void RuleWriter::Dropped(std::vector<std::string>& comments, const std::string& what) {
  comments.push_back("not imported: " + what);
  ++dropped_;
}

void RuleWriter::FileDropped(const std::string& what) {
  file_comments_.push_back("not imported: " + what);
  ++dropped_;
}

Result<ImportOutput> RuleWriter::Finish() const {
  std::string text;
  WriteComments(text, {header_});
  WriteComments(text, file_comments_);
  for (const ImportedAction& a : actions_) {
    text += "\n";
    WriteComments(text, a.comments);
    text += "action " + a.name + " = " + a.kind + "(";
    for (size_t i = 0; i < a.args.size(); ++i) {
      text += (i ? ", " : "") + a.args[i].first + ": " + a.args[i].second;
    }
    text += ")\n";
  }
  for (const ImportedRule& r : rules_) {
    text += "\n";
    WriteComments(text, r.comments);
    text += "rule " + r.name + " {\n";
    std::string when = r.condition;
    if (when.empty()) {
      // An every-event rule needs a filter; every Sentry event has an id.
      when = r.filter.IsAll() ? "has:event_id" : RenderFilter(r.filter);
    } else if (!r.filter.IsAll()) {
      when += " for " + RenderFilter(r.filter);
    }
    text += "  when " + when + "\n";
    if (!r.group_by.empty()) text += "  group by " + Join(r.group_by) + "\n";
    if (!r.severity.empty()) text += "  severity " + r.severity + "\n";
    if (!r.summary.empty()) text += "  summary " + StringLiteral(r.summary) + "\n";
    if (!r.repeat.empty()) text += "  repeat every " + r.repeat + "\n";
    if (!r.then.empty()) text += "  then " + Join(r.then) + "\n";
    text += "}\n";
  }
  Result<std::string> formatted = rules_dsl::FormatRules(text, "<import>");
  if (!formatted.ok()) {
    return Status::Internal("the imported rules do not parse (a bug in klaxon import):\n" +
                            formatted.status().message() + text);
  }
  // Values from the input can still make a rule Klaxon refuses (`level:error AND level:fatal`,
  // a unique() threshold above what the engine keeps): say so rather than print such a file.
  rules_dsl::LoadResult checked = rules_dsl::ParseAndCheck({{"<import>", *formatted}});
  if (!checked.ok()) {
    std::string message = "the translation does not pass klaxon check:";
    for (const rules_dsl::Diagnostic& d : checked.diagnostics) {
      if (d.severity != "error") continue;
      const size_t start = d.source_line.find_first_not_of(' ');
      message += "\n  " + d.message + " (in `" +
                 (start == std::string::npos ? "" : d.source_line.substr(start)) + "`)";
    }
    return Status::InvalidArgument(message);
  }
  return ImportOutput{*formatted, dropped_};
}

}  // namespace klaxon::importer
