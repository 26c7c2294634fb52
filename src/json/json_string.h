#pragma once
/// JSON string literals: the one escaper behind every JSON the service writes by hand
/// (GraphQL responses, log lines, outbox and saga payloads).

#include <string>
#include <string_view>

namespace psvc::json {

/// Appends `s` escaped for use inside a JSON string, without the quotes: `"`, `\` and control
/// characters are escaped; every other byte (UTF-8 included) is copied as it is.
void AppendEscaped(std::string& out, std::string_view s);

/// Appends `s` as a JSON string literal, quotes included.
void AppendQuoted(std::string& out, std::string_view s);

/// `s` as a JSON string literal, quotes included.
std::string Quoted(std::string_view s);

}  // namespace psvc::json
