#include "graphql/lexer.h"

#include <gtest/gtest.h>

namespace psvc::graphql {
namespace {

std::vector<Token> LexAll(std::string_view src, Error* error = nullptr, LexerLimits limits = {}) {
  Lexer lexer(src, limits);
  std::vector<Token> out;
  Token t;
  Error e;
  while (true) {
    if (!lexer.Next(t, e)) {
      if (error) *error = e;
      return out;
    }
    out.push_back(t);
    if (t.kind == TokenKind::kEof) return out;
  }
}

TEST(LexerTest, PunctuatorsNamesAndNumbers) {
  auto toks = LexAll("{ a(x: -1.5e3, y: 0) @d ...F $v! [ ] | & = }");
  std::vector<TokenKind> kinds;
  for (const auto& t : toks) kinds.push_back(t.kind);
  using K = TokenKind;
  EXPECT_EQ(kinds, (std::vector<K>{K::kBraceL, K::kName,   K::kParenL,   K::kName,     K::kColon,
                                   K::kFloat,  K::kName,   K::kColon,    K::kInt,      K::kParenR,
                                   K::kAt,     K::kName,   K::kSpread,   K::kName,     K::kDollar,
                                   K::kName,   K::kBang,   K::kBracketL, K::kBracketR, K::kPipe,
                                   K::kAmp,    K::kEquals, K::kBraceR,   K::kEof}));
  EXPECT_EQ(toks[5].text, "-1.5e3");
}

TEST(LexerTest, IgnoresCommentsCommasAndBom) {
  auto toks = LexAll("\xEF\xBB\xBF# c\n,,a # trailing\r\nb");
  ASSERT_EQ(toks.size(), 3u);
  EXPECT_EQ(toks[0].text, "a");
  EXPECT_EQ(toks[0].loc, (SourceLocation{2, 3}));
  EXPECT_EQ(toks[1].loc, (SourceLocation{3, 1}));
}

TEST(LexerTest, StringEscapes) {
  auto toks = LexAll(R"("a\"b\\c\/d\b\f\n\r\t\u00e9\u{1F600}\uD83D\uDE00")");
  ASSERT_EQ(toks[0].kind, TokenKind::kString);
  EXPECT_EQ(toks[0].value, "a\"b\\c/d\b\f\n\r\t\xC3\xA9\xF0\x9F\x98\x80\xF0\x9F\x98\x80");
}

TEST(LexerTest, BlockStringDedent) {
  auto toks = LexAll("\"\"\"\n    Hello,\n      World!\n\n    Yours \\\"\"\"\n  \"\"\"");
  ASSERT_EQ(toks[0].kind, TokenKind::kBlockString);
  EXPECT_EQ(toks[0].value, "Hello,\n  World!\n\nYours \"\"\"");
  EXPECT_EQ(toks[1].loc.line, 6u);
}

TEST(LexerTest, ErrorsCarryLineAndColumn) {
  struct Case {
    const char* src;
    const char* message;
    SourceLocation loc;
  };
  for (const Case& c : {
           Case{"{\n  a ?", "Syntax Error: Unexpected character: \"?\".", {2, 5}},
           Case{"\"abc", "Syntax Error: Unterminated string.", {1, 5}},
           Case{"01", "Syntax Error: Invalid number, unexpected digit after 0: \"1\".", {1, 2}},
           Case{"1.", "Syntax Error: Invalid number, expected digit but got: <EOF>.", {1, 3}},
           Case{"12a", "Syntax Error: Invalid number, expected digit but got: \"a\".", {1, 3}},
           Case{"\"\\x\"", "Syntax Error: Invalid character escape sequence: \"\\x\".", {1, 2}},
           Case{"\"\\uD800\"",
                "Syntax Error: Invalid Unicode escape sequence: \"\\uD800\".",
                {1, 2}},
           Case{"..", "Syntax Error: Unexpected character: \".\".", {1, 1}},
       }) {
    Error e;
    LexAll(c.src, &e);
    EXPECT_EQ(e.message, c.message) << c.src;
    ASSERT_EQ(e.locations.size(), 1u);
    EXPECT_EQ(e.locations[0], c.loc) << c.src;
  }
}

TEST(LexerTest, RejectsInvalidUtf8) {
  Error e;
  LexAll("\"\xC3\x28\"", &e);
  EXPECT_NE(e.message.find("UTF-8"), std::string::npos);
}

TEST(LexerTest, TokenLimit) {
  Error e;
  LexAll("a b c d e", &e, LexerLimits{1 << 20, 3});
  EXPECT_EQ(e.message, "Syntax Error: Document contains more than 3 tokens. Parsing aborted.");
}

TEST(LexerTest, SizeLimit) {
  Error e;
  LexAll(std::string(100, ' ') + "a", &e, LexerLimits{50, 100});
  EXPECT_NE(e.message.find("too large"), std::string::npos);
}

TEST(LexerTest, BlockStringValueMatchesSpec) {
  EXPECT_EQ(BlockStringValue("  a\n  b"), "  a\nb");
  EXPECT_EQ(BlockStringValue("\n\n  x\n\n"), "x");
  EXPECT_EQ(BlockStringValue(""), "");
}

}  // namespace
}  // namespace psvc::graphql
