// What an importer builds, and how it becomes a rule file: actions and rules as plain data,
// the comments that explain each part that has no Klaxon equivalent, and the rendering to the
// text `klaxon fmt` prints. One writer per imported file; not thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/status.h"
#include "importer/filter_expr.h"
#include "importer/importer.h"

namespace klaxon::importer {

struct ImportedAction {
  std::string name;
  std::string kind;                                       // slack, pagerduty, jira, webhook
  std::vector<std::pair<std::string, std::string>> args;  // key, value as rule text
  std::vector<std::string> comments;                      // printed above the definition
};

struct ImportedRule {
  std::string name;
  std::vector<std::string> comments;  // printed above the rule
  std::string condition;              // "frequency > 5 in 1m"; empty: fire on every matching event
  FilterExpr filter;                  // `for FILTER`, or the whole condition of an every-event rule
  std::vector<std::string> group_by;
  std::string repeat;  // a duration, `repeat every`
  std::string severity;
  std::string summary;
  std::vector<std::string> then;
};

class RuleWriter {
 public:
  explicit RuleWriter(std::string header) : header_(std::move(header)) {}

  // A unique rule or action name made of letters, digits, `-` and `_` from any text.
  std::string UniqueName(const std::string& wanted);

  // A comment for something not imported: counted, so that the command can exit 1.
  void Dropped(std::vector<std::string>& comments, const std::string& what);

  void Add(ImportedAction action) { actions_.push_back(std::move(action)); }
  void Add(ImportedRule rule) { rules_.push_back(std::move(rule)); }
  // A comment at the top of the file (after the header), for what belongs to no rule.
  void FileComment(const std::string& text) { file_comments_.push_back(text); }
  void FileDropped(const std::string& what);

  // The rule file in canonical layout; fails only on a bug (text that does not parse).
  Result<ImportOutput> Finish() const;

 private:
  std::string header_;
  std::vector<std::string> file_comments_;
  std::vector<ImportedAction> actions_;
  std::vector<ImportedRule> rules_;
  std::vector<std::string> names_;
  int dropped_ = 0;
};

// A duration in milliseconds as one rule-language amount and unit ("90s", "5m", "2h", "1d").
std::string DurationText(int64_t ms);

// A string literal of the rule language, quoted and escaped.
std::string StringLiteral(const std::string& s);

// A threshold as written in rules: integers without a decimal point ("5", "2.5").
std::string NumberText(double v);

// The environment variable an imported action reads a secret from: "ORDERS_SLACK_WEBHOOK_URL".
std::string EnvName(const std::string& action, const std::string& suffix);

}  // namespace klaxon::importer
