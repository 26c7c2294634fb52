#pragma once

#include <cstdint>
#include <vector>

#include "graphql/ast.h"
#include "graphql/error.h"
#include "graphql/schema.h"

namespace psvc::graphql {

/// Validation switches and our own limits (applied after fragments are expanded).
struct ValidationOptions {
  uint32_t max_depth = 10;    // field nesting; introspection subtrees are not counted
  uint32_t max_aliases = 30;  // aliased fields per operation (fragments counted once)
  uint64_t max_cost = 5000;   // sum of field costs, children scaled by list multipliers
  bool introspection = true;  // false: __schema and __type are unknown fields
};

/// Checks a document against the schema (GraphQL spec §5); empty when valid.
std::vector<Error> Validate(const Schema& schema, const Document& document,
                            const ValidationOptions& options = {});

}  // namespace psvc::graphql
