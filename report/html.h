// HTML escaping for text and attribute values. Event content is untrusted: everything an event
// can set (tags, messages, exception values, group keys) is passed through EscapeHtml before it
// reaches a page.
#pragma once

#include <string>
#include <string_view>

namespace klaxon::report {

// Escapes & < > " ' (so the result is safe in text and in quoted attributes), and replaces
// invalid UTF-8 and control characters other than tab and newline with U+FFFD.
std::string EscapeHtml(std::string_view text);
void AppendEscaped(std::string& out, std::string_view text);

}  // namespace klaxon::report
