// libFuzzer target for `klaxon import`: any bytes, as Sentry rule JSON (first byte even) or
// ElastAlert YAML (odd), must never crash or hang; what imports must be a formatted rule file
// (the importer checks it before returning it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "importer/importer.h"
#include "rules-dsl/rules_dsl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const klaxon::Result<klaxon::importer::ImportOutput> out =
      data[0] % 2 == 0 ? klaxon::importer::ImportSentry(text, "fuzz.json")
                       : klaxon::importer::ImportElastAlert(text, "fuzz.yaml");
  if (out.ok()) {
    klaxon::Result<std::string> formatted = klaxon::rules_dsl::FormatRules(out->text, "fuzz");
    if (!formatted.ok() || *formatted != out->text) std::abort();
  }
  return 0;
}
