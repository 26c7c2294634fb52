#include "db/array_literal.h"

namespace psvc::db {

namespace {
void Append(std::string& out, std::string_view item) {
  out += '"';
  for (char c : item) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}
}  // namespace

std::string ArrayLiteral(const std::vector<std::optional<std::string>>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    if (items[i]) {
      Append(out, *items[i]);
    } else {
      out += "NULL";
    }
  }
  out += '}';
  return out;
}

namespace {
template <typename Strings>
std::string QuotedArray(const Strings& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    Append(out, items[i]);
  }
  out += '}';
  return out;
}
}  // namespace

std::string ArrayLiteral(const std::vector<std::string>& items) { return QuotedArray(items); }
std::string ArrayLiteral(const std::vector<std::string_view>& items) { return QuotedArray(items); }

}  // namespace psvc::db
