#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "graphql/error.h"

namespace psvc::graphql {

/// Kinds of lexical tokens (GraphQL spec §2.1.6); comments, commas and whitespace are skipped.
enum class TokenKind : uint8_t {
  kEof,
  kBang,
  kDollar,
  kAmp,
  kParenL,
  kParenR,
  kSpread,
  kColon,
  kEquals,
  kAt,
  kBracketL,
  kBracketR,
  kBraceL,
  kPipe,
  kBraceR,
  kName,
  kInt,
  kFloat,
  kString,
  kBlockString,
};

/// Printable description of a token kind for error messages ("Name", "\"{\"", "<EOF>").
std::string_view TokenKindName(TokenKind kind);

/// One token; `text` views the source, `value` holds the decoded string of (block) strings.
struct Token {
  TokenKind kind = TokenKind::kEof;
  std::string_view text;
  SourceLocation loc;
  std::string value;
};

/// Caps that keep a hostile document cheap: checked while lexing.
struct LexerLimits {
  size_t max_bytes = 1 << 20;
  uint32_t max_tokens = 15000;
};

/// Turns a GraphQL source into tokens, one at a time.
class Lexer {
 public:
  Lexer(std::string_view source, LexerLimits limits);

  /// Reads the next token into `token`; on failure returns false and sets `error`.
  bool Next(Token& token, Error& error);

 private:
  bool Fail(Error& error, SourceLocation loc, std::string message);
  SourceLocation LocAt(size_t pos) const;
  bool ReadNumber(Token& token, Error& error);
  bool ReadString(Token& token, Error& error);
  bool ReadBlockString(Token& token, Error& error);
  // Validates one UTF-8 sequence at pos_; returns its length or 0 when invalid.
  size_t Utf8Length(size_t pos, uint32_t* code_point) const;

  std::string_view src_;
  LexerLimits limits_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  size_t line_start_ = 0;
  uint32_t tokens_ = 0;
};

/// The value of a block string after the spec's BlockStringValue() dedent (§2.9.4).
std::string BlockStringValue(std::string_view raw);

}  // namespace psvc::graphql
