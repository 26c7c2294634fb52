#pragma once

#include <string>

#include "graphql/schema.h"

namespace psvc::graphql::detail {

/// Converts a resolver's leaf result in place to the output form of `type` (a scalar or enum);
/// false with `error` when the value cannot be represented.
bool SerializeLeaf(Value& value, const Type* type, std::string* error);

/// True for String, Int, Float, Boolean and ID.
bool IsBuiltinScalar(std::string_view name);

/// The whole of `text` as a decimal int64 (GraphQL Int literals before the 32-bit check).
bool ParseInt(std::string_view text, int64_t* out);

}  // namespace psvc::graphql::detail
