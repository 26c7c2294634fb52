#include "graphql/lexer.h"

#include <vector>

namespace psvc::graphql {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameContinue(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PrintChar(std::string_view src, size_t pos) {
  if (pos >= src.size()) return "<EOF>";
  unsigned char c = static_cast<unsigned char>(src[pos]);
  if (c == '"') return "'\"'";
  if (c < 0x20 || c >= 0x7F) {
    char buf[16];
    snprintf(buf, sizeof buf, "U+%04X", c);
    return buf;
  }
  return std::string("\"") + static_cast<char>(c) + "\"";
}

bool IsWhiteSpace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::string_view TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEof:
      return "<EOF>";
    case TokenKind::kBang:
      return "\"!\"";
    case TokenKind::kDollar:
      return "\"$\"";
    case TokenKind::kAmp:
      return "\"&\"";
    case TokenKind::kParenL:
      return "\"(\"";
    case TokenKind::kParenR:
      return "\")\"";
    case TokenKind::kSpread:
      return "\"...\"";
    case TokenKind::kColon:
      return "\":\"";
    case TokenKind::kEquals:
      return "\"=\"";
    case TokenKind::kAt:
      return "\"@\"";
    case TokenKind::kBracketL:
      return "\"[\"";
    case TokenKind::kBracketR:
      return "\"]\"";
    case TokenKind::kBraceL:
      return "\"{\"";
    case TokenKind::kPipe:
      return "\"|\"";
    case TokenKind::kBraceR:
      return "\"}\"";
    case TokenKind::kName:
      return "Name";
    case TokenKind::kInt:
      return "Int";
    case TokenKind::kFloat:
      return "Float";
    case TokenKind::kString:
      return "String";
    case TokenKind::kBlockString:
      return "BlockString";
  }
  return "?";
}

Lexer::Lexer(std::string_view source, LexerLimits limits) : src_(source), limits_(limits) {
  // A leading byte order mark is ignored (§2.1.1).
  if (src_.size() >= 3 && src_.substr(0, 3) == "\xEF\xBB\xBF") {
    pos_ = 3;
    line_start_ = 3;
  }
}

SourceLocation Lexer::LocAt(size_t pos) const {
  return SourceLocation{line_, static_cast<uint32_t>(pos - line_start_ + 1)};
}

bool Lexer::Fail(Error& error, SourceLocation loc, std::string message) {
  error.message = "Syntax Error: " + std::move(message);
  error.locations = {loc};
  return false;
}

size_t Lexer::Utf8Length(size_t pos, uint32_t* code_point) const {
  auto b = [&](size_t i) { return static_cast<unsigned char>(src_[i]); };
  unsigned char c = b(pos);
  size_t len;
  uint32_t cp;
  if (c < 0x80) {
    *code_point = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (pos + len > src_.size()) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((b(pos + i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(pos + i) & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  *code_point = cp;
  return len;
}

bool Lexer::Next(Token& token, Error& error) {
  if (src_.size() > limits_.max_bytes) {
    return Fail(error, SourceLocation{1, 1},
                "Document is too large: " + std::to_string(src_.size()) + " bytes, limit " +
                    std::to_string(limits_.max_bytes) + ".");
  }
  // Skip ignored tokens (§2.1.7): whitespace, line terminators, commas, comments.
  while (pos_ < src_.size()) {
    char c = src_[pos_];
    if (c == ' ' || c == '\t' || c == ',') {
      ++pos_;
    } else if (c == '\n') {
      ++pos_;
      ++line_;
      line_start_ = pos_;
    } else if (c == '\r') {
      ++pos_;
      if (pos_ < src_.size() && src_[pos_] == '\n') ++pos_;
      ++line_;
      line_start_ = pos_;
    } else if (c == '#') {
      while (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r') {
        uint32_t cp;
        size_t n = Utf8Length(pos_, &cp);
        if (n == 0) return Fail(error, LocAt(pos_), "Invalid UTF-8 in comment.");
        pos_ += n;
      }
    } else if (static_cast<unsigned char>(c) == 0xEF && src_.substr(pos_, 3) == "\xEF\xBB\xBF") {
      pos_ += 3;  // a BOM counts as whitespace
    } else {
      break;
    }
  }
  token.value.clear();
  token.loc = LocAt(pos_);
  if (pos_ >= src_.size()) {
    token.kind = TokenKind::kEof;
    token.text = {};
    return true;
  }
  if (++tokens_ > limits_.max_tokens) {
    return Fail(error, token.loc,
                "Document contains more than " + std::to_string(limits_.max_tokens) +
                    " tokens. Parsing aborted.");
  }
  size_t start = pos_;
  auto single = [&](TokenKind kind) {
    token.kind = kind;
    token.text = src_.substr(start, 1);
    ++pos_;
    return true;
  };
  char c = src_[pos_];
  switch (c) {
    case '!':
      return single(TokenKind::kBang);
    case '$':
      return single(TokenKind::kDollar);
    case '&':
      return single(TokenKind::kAmp);
    case '(':
      return single(TokenKind::kParenL);
    case ')':
      return single(TokenKind::kParenR);
    case ':':
      return single(TokenKind::kColon);
    case '=':
      return single(TokenKind::kEquals);
    case '@':
      return single(TokenKind::kAt);
    case '[':
      return single(TokenKind::kBracketL);
    case ']':
      return single(TokenKind::kBracketR);
    case '{':
      return single(TokenKind::kBraceL);
    case '|':
      return single(TokenKind::kPipe);
    case '}':
      return single(TokenKind::kBraceR);
    case '.':
      if (src_.substr(pos_, 3) == "...") {
        token.kind = TokenKind::kSpread;
        token.text = src_.substr(start, 3);
        pos_ += 3;
        return true;
      }
      return Fail(error, token.loc, "Unexpected character: \".\".");
    case '"':
      if (src_.substr(pos_, 3) == "\"\"\"") return ReadBlockString(token, error);
      return ReadString(token, error);
    default:
      break;
  }
  if (IsNameStart(c)) {
    while (pos_ < src_.size() && IsNameContinue(src_[pos_])) ++pos_;
    token.kind = TokenKind::kName;
    token.text = src_.substr(start, pos_ - start);
    return true;
  }
  if (IsDigit(c) || c == '-') return ReadNumber(token, error);
  return Fail(error, token.loc, "Unexpected character: " + PrintChar(src_, pos_) + ".");
}

bool Lexer::ReadNumber(Token& token, Error& error) {
  size_t start = pos_;
  bool is_float = false;
  auto at = [&](size_t i) { return i < src_.size() ? src_[i] : '\0'; };
  if (at(pos_) == '-') ++pos_;
  if (at(pos_) == '0') {
    ++pos_;
    if (IsDigit(at(pos_))) {
      return Fail(error, LocAt(pos_),
                  "Invalid number, unexpected digit after 0: " + PrintChar(src_, pos_) + ".");
    }
  } else {
    if (!IsDigit(at(pos_))) {
      return Fail(error, LocAt(pos_),
                  "Invalid number, expected digit but got: " + PrintChar(src_, pos_) + ".");
    }
    while (IsDigit(at(pos_))) ++pos_;
  }
  if (at(pos_) == '.') {
    is_float = true;
    ++pos_;
    if (!IsDigit(at(pos_))) {
      return Fail(error, LocAt(pos_),
                  "Invalid number, expected digit but got: " + PrintChar(src_, pos_) + ".");
    }
    while (IsDigit(at(pos_))) ++pos_;
  }
  if (at(pos_) == 'e' || at(pos_) == 'E') {
    is_float = true;
    ++pos_;
    if (at(pos_) == '+' || at(pos_) == '-') ++pos_;
    if (!IsDigit(at(pos_))) {
      return Fail(error, LocAt(pos_),
                  "Invalid number, expected digit but got: " + PrintChar(src_, pos_) + ".");
    }
    while (IsDigit(at(pos_))) ++pos_;
  }
  // A number may not be directly followed by a name start or a dot (§2.9.1 lookahead).
  if (at(pos_) == '.' || IsNameStart(at(pos_))) {
    return Fail(error, LocAt(pos_),
                "Invalid number, expected digit but got: " + PrintChar(src_, pos_) + ".");
  }
  token.kind = is_float ? TokenKind::kFloat : TokenKind::kInt;
  token.text = src_.substr(start, pos_ - start);
  return true;
}

bool Lexer::ReadString(Token& token, Error& error) {
  size_t start = pos_;
  ++pos_;
  std::string& out = token.value;
  while (pos_ < src_.size()) {
    char c = src_[pos_];
    if (c == '"') {
      ++pos_;
      token.kind = TokenKind::kString;
      token.text = src_.substr(start, pos_ - start);
      return true;
    }
    if (c == '\n' || c == '\r') break;
    if (c == '\\') {
      char e = pos_ + 1 < src_.size() ? src_[pos_ + 1] : '\0';
      switch (e) {
        case '"':
          out.push_back('"');
          pos_ += 2;
          continue;
        case '\\':
          out.push_back('\\');
          pos_ += 2;
          continue;
        case '/':
          out.push_back('/');
          pos_ += 2;
          continue;
        case 'b':
          out.push_back('\b');
          pos_ += 2;
          continue;
        case 'f':
          out.push_back('\f');
          pos_ += 2;
          continue;
        case 'n':
          out.push_back('\n');
          pos_ += 2;
          continue;
        case 'r':
          out.push_back('\r');
          pos_ += 2;
          continue;
        case 't':
          out.push_back('\t');
          pos_ += 2;
          continue;
        case 'u':
          break;
        default:
          return Fail(
              error, LocAt(pos_),
              "Invalid character escape sequence: \"" + std::string(src_.substr(pos_, 2)) + "\".");
      }
      // \uXXXX, \u{X...} and surrogate pairs written as two \uXXXX escapes.
      size_t esc = pos_;
      auto read_hex4 = [&](size_t at, uint32_t* v) {
        if (at + 4 > src_.size()) return false;
        uint32_t r = 0;
        for (size_t i = 0; i < 4; ++i) {
          int h = HexValue(src_[at + i]);
          if (h < 0) return false;
          r = r * 16 + static_cast<uint32_t>(h);
        }
        *v = r;
        return true;
      };
      auto bad = [&](size_t len) {
        return Fail(error, LocAt(esc),
                    "Invalid Unicode escape sequence: \"" +
                        std::string(src_.substr(esc, std::min(len, src_.size() - esc))) + "\".");
      };
      uint32_t cp = 0;
      if (pos_ + 2 < src_.size() && src_[pos_ + 2] == '{') {
        size_t i = pos_ + 3;
        size_t digits = 0;
        while (i < src_.size() && src_[i] != '}') {
          int h = HexValue(src_[i]);
          if (h < 0 || ++digits > 6) return bad(i - esc + 1);
          cp = cp * 16 + static_cast<uint32_t>(h);
          ++i;
        }
        if (i >= src_.size() || digits == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          return bad(i - esc + 1);
        }
        pos_ = i + 1;
      } else {
        if (!read_hex4(pos_ + 2, &cp)) return bad(6);
        pos_ += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t low;
          if (pos_ + 1 < src_.size() && src_[pos_] == '\\' && src_[pos_ + 1] == 'u' &&
              read_hex4(pos_ + 2, &low) && low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            pos_ += 6;
          } else {
            return bad(6);
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return bad(6);
        }
      }
      AppendUtf8(out, cp);
      continue;
    }
    // Since the October 2021 spec any Unicode scalar value may appear in a string.
    uint32_t cp;
    size_t n = Utf8Length(pos_, &cp);
    if (n == 0) return Fail(error, LocAt(pos_), "Invalid UTF-8 within String.");
    out.append(src_.data() + pos_, n);
    pos_ += n;
  }
  return Fail(error, LocAt(pos_), "Unterminated string.");
}

bool Lexer::ReadBlockString(Token& token, Error& error) {
  size_t start = pos_;
  pos_ += 3;
  std::string raw;
  while (pos_ < src_.size()) {
    char c = src_[pos_];
    if (c == '"' && src_.substr(pos_, 3) == "\"\"\"") {
      pos_ += 3;
      token.kind = TokenKind::kBlockString;
      token.text = src_.substr(start, pos_ - start);
      token.value = BlockStringValue(raw);
      return true;
    }
    if (c == '\\' && src_.substr(pos_, 4) == "\\\"\"\"") {
      raw.append("\"\"\"");
      pos_ += 4;
      continue;
    }
    if (c == '\n' || c == '\r') {
      // Line terminators are normalised to \n in the value.
      raw.push_back('\n');
      ++pos_;
      if (c == '\r' && pos_ < src_.size() && src_[pos_] == '\n') ++pos_;
      ++line_;
      line_start_ = pos_;
      continue;
    }
    // Since the October 2021 spec any Unicode scalar value may appear in a string.
    uint32_t cp;
    size_t n = Utf8Length(pos_, &cp);
    if (n == 0) return Fail(error, LocAt(pos_), "Invalid UTF-8 within String.");
    raw.append(src_.data() + pos_, n);
    pos_ += n;
  }
  return Fail(error, LocAt(pos_), "Unterminated string.");
}

std::string BlockStringValue(std::string_view raw) {
  std::vector<std::string_view> lines;
  size_t begin = 0;
  for (size_t i = 0; i <= raw.size(); ++i) {
    if (i == raw.size() || raw[i] == '\n') {
      lines.push_back(raw.substr(begin, i - begin));
      begin = i + 1;
    }
  }
  auto indent_of = [](std::string_view l) {
    size_t i = 0;
    while (i < l.size() && IsWhiteSpace(l[i])) ++i;
    return i;
  };
  size_t common = SIZE_MAX;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t ind = indent_of(lines[i]);
    if (ind < lines[i].size() && ind < common) common = ind;
  }
  if (common != SIZE_MAX) {
    for (size_t i = 1; i < lines.size(); ++i) {
      lines[i] = lines[i].size() >= common ? lines[i].substr(common) : std::string_view{};
    }
  }
  size_t first = 0, last = lines.size();
  while (first < last && indent_of(lines[first]) == lines[first].size()) ++first;
  while (last > first && indent_of(lines[last - 1]) == lines[last - 1].size()) --last;
  std::string out;
  for (size_t i = first; i < last; ++i) {
    if (i > first) out.push_back('\n');
    out.append(lines[i]);
  }
  return out;
}

}  // namespace psvc::graphql
