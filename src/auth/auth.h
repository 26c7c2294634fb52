#pragma once
/// Bearer-token authentication for the write surfaces (and, optionally, reads).

#include <string>
#include <string_view>
#include <vector>

namespace psvc::api {

/// The configured tokens. Empty = authentication off (development).
class BearerTokens {
 public:
  BearerTokens() = default;
  /// Throws std::invalid_argument for a token shorter than 16 characters or with spaces.
  explicit BearerTokens(std::vector<std::string> tokens);

  bool enabled() const { return !tokens_.empty(); }
  /// True when `authorization` is "Bearer <one of the tokens>". Compares in constant time
  /// with respect to the token contents, so timing does not reveal a prefix.
  bool Accepts(std::string_view authorization) const;

 private:
  std::vector<std::string> tokens_;
};

/// Splits "a,b,c" (surrounding spaces trimmed, empty items dropped).
std::vector<std::string> SplitTokens(std::string_view list);

}  // namespace psvc::api
