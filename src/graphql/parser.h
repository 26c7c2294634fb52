#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "graphql/ast.h"
#include "graphql/lexer.h"

namespace psvc::graphql {

/// Parser limits: lexer caps plus a cap on nesting so recursion stays shallow.
struct ParseOptions {
  LexerLimits lexer;
  uint32_t max_nesting = 128;
};

/// Either a document or the first syntax error.
struct ParseResult {
  std::unique_ptr<Document> document;
  std::optional<Error> error;
};

/// Parses an executable document (operations and fragments only).
ParseResult Parse(std::string_view source, const ParseOptions& options = {});

/// A standalone value literal with the text it views (used for schema default values).
struct OwnedValue {
  std::unique_ptr<const std::string> source;
  ValueNode node;
};

/// Parses a constant value literal such as `10`, `"x"`, `[A, B]` or `{a: 1}`.
std::optional<OwnedValue> ParseConstValue(std::string_view text, Error* error = nullptr);

/// A standalone type reference such as `[ID!]!`, owning its text.
struct OwnedType {
  std::unique_ptr<const std::string> source;
  TypeNode node;
};

/// Parses a type reference such as `String`, `[ID!]!`.
std::optional<OwnedType> ParseTypeReference(std::string_view text, Error* error = nullptr);

}  // namespace psvc::graphql
