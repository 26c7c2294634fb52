#include "auth/auth.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace psvc::api {

namespace {

// Every byte of both strings is visited whatever matches, and the result is only read at
// the end: no early exit a caller could time.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

}  // namespace

BearerTokens::BearerTokens(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  for (const auto& t : tokens_) {
    if (t.size() < 16 || t.find_first_of(" \t\r\n") != std::string::npos) {
      throw std::invalid_argument(
          "--auth-tokens (PSVC_AUTH_TOKENS): every token must be at least 16 characters without spaces");
    }
  }
}

bool BearerTokens::Accepts(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {  // the scheme is case-insensitive (RFC 7235)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return false;
    }
  }
  auto presented = authorization.substr(kScheme.size());
  bool ok = false;
  for (const auto& t : tokens_) ok |= ConstantTimeEquals(presented, t);  // no short-circuit
  return ok;
}

std::vector<std::string> SplitTokens(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    auto item = list.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = end + 1;
  }
  return out;
}

}  // namespace psvc::api
