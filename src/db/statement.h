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

/// Session setting for connections whose statements are written for generic plans: under
/// PostgreSQL's default plan cache mode a statement whose custom plan looks cheaper is planned
/// again on every execution (the graph's neighbour statement, the typeahead search).
inline constexpr std::string_view kForceGenericPlans = "SET plan_cache_mode = force_generic_plan";

}  // namespace psvc::db
