#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "graphql/value.h"

namespace psvc::graphql {

/// Appends a double the way JavaScript's Number#toString prints it (so output matches graphql-js).
void AppendJsNumber(std::string& out, double d);

/// Appends a value as JSON (maps as objects, enums as strings, opaque objects as null).
void AppendJson(std::string& out, const Value& value);

/// Parses JSON text into a Value (objects become ValueMap); nullopt with `error` on bad JSON.
std::optional<Value> ParseJson(std::string_view text, std::string* error);

/// Like graphql-js inspect(): JSON-ish text of a value for error messages.
std::string Inspect(const Value& value);

}  // namespace psvc::graphql
