#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace psvc::graphql {

/// A 1-based position in a GraphQL document.
struct SourceLocation {
  uint32_t line = 0;
  uint32_t column = 0;
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

/// One step of a response path: a field's response key or a list index.
using PathSegment = std::variant<std::string, int64_t>;

/// A GraphQL error as it appears in a response: message, locations and path.
struct Error {
  std::string message;
  std::vector<SourceLocation> locations;
  std::vector<PathSegment> path;
};

}  // namespace psvc::graphql
