// Helpers of the golden-file tests of the klaxon commands (check, test, import).
#pragma once

#include <filesystem>
#include <string>

namespace klaxon::cli::testing {

// The source tree (KLAXON_SOURCE_DIR, set by CTest), else ".".
std::string SourceDir();

std::string ReadAll(const std::filesystem::path& p);

void ReplaceAll(std::string& s, const std::string& from, const std::string& to);

// KLAXON_UPDATE_GOLDEN=1: the tests rewrite their golden files instead of comparing.
bool UpdateGolden();

}  // namespace klaxon::cli::testing
