#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "graphql/value.h"

namespace psvc::graphql {

/// Appends a double the way JavaScript's Number#toString prints it (so output matches graphql-js).
void AppendJsNumber(std::string& out, double d);

/// Appends a value as JSON (maps as objects, enums as strings, opaque objects as null).
void AppendJson(std::string& out, const Value& value);

/// Bounds on what ParseJson builds. Arrays and objects nested deeper than max_depth are refused
/// whatever the caller asks (the reader never recurses, and neither does anything after it).
struct JsonLimits {
  static constexpr size_t kMaxDepth = 64;
  /// Every scalar, array and object counts (object keys do not). Each costs ~50 bytes once
  /// built, so this bounds the memory an untrusted document can make us allocate.
  size_t max_values = SIZE_MAX;
};

/// Parses JSON text into a Value (objects become ValueMap); nullopt with `error` on bad JSON,
/// on anything but whitespace after the document, and beyond the limits. Cost is linear in
/// the text's size.
std::optional<Value> ParseJson(std::string_view text, std::string* error,
                               const JsonLimits& limits = {});

/// Like graphql-js inspect(): JSON-ish text of a value for error messages.
std::string Inspect(const Value& value);

}  // namespace psvc::graphql
