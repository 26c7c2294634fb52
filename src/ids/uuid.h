#pragma once
/// UUID text validation shared by every boundary that accepts ids.

#include <optional>
#include <string>
#include <string_view>

namespace psvc::ids {

/// The canonical lower-case 8-4-4-4-12 form, or nullopt when `text` is not a UUID.
/// Upper-case hex is accepted; braces, missing dashes and surrounding spaces are not.
std::optional<std::string> CanonicalUuid(std::string_view text);

/// A random (version 4, RFC 4122 variant) UUID in canonical form, from the OS entropy source.
std::string RandomUuid();

/// For error messages: the input, truncated and with control characters escaped.
std::string QuoteForMessage(std::string_view text, std::size_t max = 40);

}  // namespace psvc::ids
