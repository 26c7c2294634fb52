#pragma once
/// PostgreSQL array literals for text-format parameters (`$1::text[]`, `$1::uuid[]`).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace psvc::db {

/// '{"a","b \"c\"",NULL}': every element quoted and escaped, so any text round-trips.
std::string ArrayLiteral(const std::vector<std::optional<std::string>>& items);
std::string ArrayLiteral(const std::vector<std::string>& items);
std::string ArrayLiteral(const std::vector<std::string_view>& items);

}  // namespace psvc::db
