#pragma once
/// The GraphQL API of the catalogue: schema, batched resolvers over PostgreSQL, mutations
/// through the write path. Transport-free (graphql_http.h puts it on HTTP).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "db/statement.h"
#include "graphql/parser.h"
#include "graphql/value.h"

namespace psvc::db {
class Pool;
}
namespace psvc::write {
class EventApplier;
class ViewCounter;
}  // namespace psvc::write
namespace psvc::graphql {
class Engine;
struct PreparedDocument;
}  // namespace psvc::graphql

namespace psvc::api {

/// Where the API reads and writes, and the limits that keep one request bounded.
struct GraphqlApiOptions {
  db::Pool& read_pool;           ///< hydration and search (may be a read-only pool/replica)
  write::EventApplier& applier;  ///< mutations: the same write path as ingestion events
  uint32_t max_depth = 10;       ///< field nesting
  uint32_t max_aliases = 30;     ///< aliased fields per operation
  uint64_t max_cost = 10000;     ///< engine cost budget (list fields scale their children)
  bool introspection = true;     ///< false: __schema/__type are unknown fields
  int max_page_size = 100;       ///< cap on `first`, `limit` and the length of `ids`
  std::chrono::milliseconds statement_timeout{2000};
  std::chrono::milliseconds acquire_timeout{1000};  ///< wait for a pooled connection
  /// recordView: views counted in memory and flushed in bulk (nullptr: through `applier`,
  /// one transaction per view).
  write::ViewCounter* views = nullptr;
};

/// What kind of operation a document would run (GET may only run queries).
enum class OperationKind { kQuery, kMutation, kSubscription, kUnknown };

/// One GraphQL request, already decoded from its transport.
struct GraphqlRequest {
  std::string_view query;
  std::string_view operation_name;
  const graphql::ValueMap* variables = nullptr;         ///< nullptr: none
  const graphql::PreparedDocument* prepared = nullptr;  ///< from GraphqlApi::Prepare, if done
};

/// The JSON response body; `has_data` is false for request errors (parse, validation,
/// variables), which GraphQL over HTTP answers with 400 under application/graphql-response+json.
struct GraphqlResponse {
  std::string json;
  bool has_data = false;
  uint64_t statements = 0;            ///< SQL statements this request sent (tests, metrics)
  std::string_view search_statement;  ///< the search's statement, if it searched (tests)
};

/// Thread-safe: the schema is immutable and every request gets its own loaders.
class GraphqlApi {
 public:
  explicit GraphqlApi(GraphqlApiOptions options);
  ~GraphqlApi();
  GraphqlApi(const GraphqlApi&) = delete;
  GraphqlApi& operator=(const GraphqlApi&) = delete;

  GraphqlResponse Execute(const GraphqlRequest& request) const;

  /// Parses and validates `query` once for both Classify and Execute
  /// (GraphqlRequest::prepared); documents already seen come from the engine's cache.
  std::shared_ptr<const graphql::PreparedDocument> Prepare(std::string_view query) const;
  /// The operation `operation_name` (or the only one) of a parsed query; kUnknown when the
  /// document does not parse or names no such operation (execution then reports the error).
  OperationKind Classify(const graphql::ParseResult& parsed, std::string_view operation_name) const;

  /// Documents the engine parsed and validated so far (cache hits are not counted).
  uint64_t documents_prepared() const;

  /// The schema in SDL, as graphql-js printSchema prints it (docs/schema.graphql).
  std::string Sdl() const;

 private:
  GraphqlApiOptions options_;
  std::unique_ptr<graphql::Engine> engine_;
};

/// Settings for every connection of the API's read pool (db::PoolOptions::session_setup):
/// generic plans. The statements are written for them (parameters, not literals, decide the
/// search's prefix-index walk); under the default plan cache mode PostgreSQL kept planning the
/// search anew on every call, and planning was most of its cost.
std::vector<std::string> GraphqlSessionSetup();

/// Search lane upkeep on the primary: recomputes every company's popularity (migration 0009:
/// the views of its most-viewed visible anime); returns the rows changed. serve runs it at
/// start-up and every minute; it throws db::DbError like any query.
int64_t RefreshSearchPopularity(db::Pool& primary);
/// The SQL of RefreshSearchPopularity, for the prepare-every-statement test.
db::StatementList SearchUpkeepStatements();

}  // namespace psvc::api
