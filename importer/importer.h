// `klaxon import`: other tools' alert rules (Sentry's issue-alert rules API JSON, ElastAlert2
// rule YAML) translated into a Klaxon rule file. Pure functions from text to text: no files,
// no environment. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "engine/status.h"

namespace klaxon::importer {

struct ImportOutput {
  std::string text;  // a rule file in `klaxon fmt`'s layout that passes `klaxon check`
  int dropped = 0;   // parts with no Klaxon equivalent, each explained by a comment in `text`
};

// Inputs larger than this are refused (a rules file is a few KB; this bounds memory).
constexpr size_t kMaxImportBytes = 4 * 1024 * 1024;

// Sentry's alert-rules API: one rule object or a list of them. Errors (malformed JSON, a rule
// that is not an object, a condition without an id) are InvalidArgument with
// "FILE:LINE:COL: message".
Result<ImportOutput> ImportSentry(std::string_view text, std::string_view file_name);

// One ElastAlert2 rule file (YAML). Errors as above, "FILE:LINE:COL: message".
Result<ImportOutput> ImportElastAlert(std::string_view text, std::string_view file_name);

}  // namespace klaxon::importer
