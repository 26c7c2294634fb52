#include "graphql/request_params.h"

#include <cctype>
#include <utility>
#include <vector>

#include "graphql/json.h"

namespace psvc::graphql {

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding ('+' is a space).
std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 &&
               HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> QueryParams(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    out.emplace_back(UrlDecode(item.substr(0, eq)),
                     eq == std::string_view::npos ? std::string() : UrlDecode(item.substr(eq + 1)));
  }
  return out;
}

RequestParams Fail(std::string message) {
  RequestParams p;
  p.error = std::move(message);
  return p;
}

constexpr std::string_view kNoQuery = "The request has no `query` parameter.";

// Reads extensions.persistedQuery ({version: 1, sha256Hash: <64 hex digits>}) into `p`;
// returns an error message for a malformed one, empty otherwise.
std::string ReadPersistedQuery(RequestParams& p) {
  const Value* pq = p.extensions ? p.extensions->Find("persistedQuery") : nullptr;
  if (!pq || pq->IsNull()) return "";
  const Value* version = pq->IsMap() ? pq->Find("version") : nullptr;
  const Value* hash = pq->IsMap() ? pq->Find("sha256Hash") : nullptr;
  if (!version || !(version->IsInt() || version->IsFloat()) || version->AsNumber() != 1) {
    return "extensions.persistedQuery: only version 1 is supported.";
  }
  bool hex = hash && hash->IsString() && hash->AsString().size() == 64;
  for (size_t i = 0; hex && i < 64; ++i) hex = HexDigit(hash->AsString()[i]) >= 0;
  if (!hex) return "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits.";
  p.persisted_query_hash = std::string(hash->AsString());
  for (char& ch : p.persisted_query_hash) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return "";
}

}  // namespace

RequestParams DecodeJsonBody(std::string_view text) {
  if (text.empty()) return Fail("The request body is empty.");
  std::string why;
  auto body = ParseJson(text, &why, JsonLimits{.max_values = kMaxRequestJsonValues});
  if (!body) return Fail("The request body is not valid JSON: " + why);
  if (!body->IsMap()) return Fail("The request body must be a JSON object.");
  RequestParams p;
  const Value* query = body->Find("query");
  if (query) {
    if (!query->IsString()) return Fail("The `query` parameter must be a string.");
    p.query = std::string(query->AsString());
  }
  if (const Value* op = body->Find("operationName"); op && !op->IsNull()) {
    if (!op->IsString()) return Fail("The `operationName` parameter must be a string or null.");
    p.operation_name = std::string(op->AsString());
  }
  if (const Value* vars = body->Find("variables"); vars && !vars->IsNull()) {
    if (!vars->IsMap()) return Fail("The `variables` parameter must be an object or null.");
    p.variables = *vars;
  }
  if (const Value* ext = body->Find("extensions"); ext && !ext->IsNull()) {
    if (!ext->IsMap()) return Fail("The `extensions` parameter must be an object or null.");
    p.extensions = *ext;
  }
  if (std::string error = ReadPersistedQuery(p); !error.empty()) return Fail(std::move(error));
  if (!p.query && p.persisted_query_hash.empty()) return Fail(std::string(kNoQuery));
  return p;
}

RequestParams DecodeQueryString(std::string_view query_string) {
  RequestParams p;
  bool seen_operation = false, seen_variables = false, seen_extensions = false;
  // A parameter sent twice: the first one counts.
  for (auto& [name, value] : QueryParams(query_string)) {
    if (name == "query") {
      if (!p.query) p.query = std::move(value);
    } else if (name == "operationName") {
      if (!std::exchange(seen_operation, true)) p.operation_name = std::move(value);
    } else if ((name == "variables" && !std::exchange(seen_variables, true)) ||
               (name == "extensions" && !std::exchange(seen_extensions, true))) {
      if (value.empty() || !p.error.empty()) continue;
      std::string why;
      auto v = ParseJson(value, &why, JsonLimits{.max_values = kMaxRequestJsonValues});
      if (!v || !(v->IsMap() || v->IsNull())) {
        p.error =
            "The `" + name + "` parameter must be a JSON object" + (v ? "." : " (" + why + ").");
      } else if (name == "variables" && v->IsMap()) {
        p.variables = std::move(*v);
      } else if (name == "extensions" && v->IsMap()) {
        p.extensions = std::move(*v);
      }
    }
  }
  if (p.error.empty()) p.error = ReadPersistedQuery(p);
  if (!p.query && p.persisted_query_hash.empty() && p.error.empty()) p.error = kNoQuery;
  return p;
}

}  // namespace psvc::graphql
