#pragma once
/// A named SQL statement, prepared once per connection on first use.

#include <span>
#include <string_view>

namespace psvc::db {

/// SQL text with a stable name. Parameters are $1..$n, always bound, never spliced.
struct Statement {
  std::string_view name;
  std::string_view sql;
};

/// Every statement of one area, so a test can prepare them all against the migrated schema.
using StatementList = std::span<const Statement* const>;

}  // namespace psvc::db
