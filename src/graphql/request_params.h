#pragma once
/// The parameters of a GraphQL-over-HTTP request (query, operationName, variables,
/// extensions), decoded from a POST body or a GET query string. No HTTP server here: the
/// routes (graphql_api/graphql_http.cpp) and the fuzz target share this one decoder.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "graphql/value.h"

namespace psvc::graphql {

/// JSON values one request body (or one GET parameter) may hold: every scalar, array and
/// object counts. Far above any real request (lists of ids are capped at 100), far below what
/// 1 MiB of JSON can spell (~500,000), so a hostile body is refused before it costs memory.
constexpr size_t kMaxRequestJsonValues = 20000;

/// One request's parameters, checked for shape (not yet parsed as GraphQL).
struct RequestParams {
  std::optional<std::string> query;  ///< nullopt: the request has no `query` parameter
  std::string operation_name;
  std::optional<Value> variables;   ///< an object, or nullopt
  std::optional<Value> extensions;  ///< an object, or nullopt
  /// extensions.persistedQuery.sha256Hash (automatic persisted queries, version 1), lower-case
  /// hex; empty when the request names no persisted query. With a hash, `query` may be absent.
  std::string persisted_query_hash;
  /// Non-empty: the request is malformed (answer 400 with this message). Set for a missing
  /// `query` too, after the other parameters were checked.
  std::string error;
};

/// A POST body (application/json): a JSON object with the parameters as members.
RequestParams DecodeJsonBody(std::string_view body);

/// A GET query string (after '?', form-urlencoded); `variables` and `extensions` are JSON.
RequestParams DecodeQueryString(std::string_view query_string);

}  // namespace psvc::graphql
