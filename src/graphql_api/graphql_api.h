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
  /// Subscription events are read here (nullptr: `read_pool`). The change feed reads the
  /// primary, where a change is visible once committed; a replica may not have it yet.
  db::Pool* event_pool = nullptr;
  /// recordView: views counted in memory and flushed in bulk (nullptr: through `applier`,
  /// one transaction per view).
  write::ViewCounter* views = nullptr;
};

/// The kinds of change subscriptions report (GraphQL enum ChangeKind) and the outbox event
/// type behind each (docs/events.md, docs/sagas.md).
struct ChangeKindInfo {
  std::string_view name;
  std::string_view event_type;
  std::string_view description;
};
inline constexpr ChangeKindInfo kChangeKinds[] = {
    {"ENRICHED", "AnimeEnriched",
     "A full document was applied: the anime was created, or enriched again."},
    {"UPDATED", "AnimeUpdated", "Some fields changed (`fields` names them)."},
    {"EPISODE_AIRED", "EpisodeAired", "An episode was added or changed."},
    {"VIEWED", "AnimeViewed",
     "Views were added (one change per anime per flush of a replica's view counter)."},
    {"RELATIONS_CHANGED", "AnimeRelationsChanged",
     "A relation waiting for this anime's target arrived and was added."},
    {"MERGED", "AnimeMergeCompleted",
     "A merge completed: `animeId` was merged into `mergedInto` (reported for both anime)."},
    {"REMOVED", "AnimeRemoved", "The anime left the catalogue (a removal started)."},
    {"RESTORED", "AnimeRemovalReverted", "A removal was compensated: the anime is back."},
};

/// What a subscription document follows, as the API understands it (see ResolveSubscription).
struct SubscriptionStream {
  enum class Field { kAnimeChanged, kCatalogueChanged };
  Field field = Field::kCatalogueChanged;
  std::vector<std::string> anime_ids;  ///< kAnimeChanged: canonical ids
  bool kinds_filtered = false;         ///< false: every kind
  std::vector<std::string> kinds;      ///< ChangeKind names, when filtered
  /// Non-empty: the stream cannot start; a JSON array of GraphQL errors (the protocol's
  /// `error` payload).
  std::string error_json;
};

struct EventScope;

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

  /// The stream a subscription document asks for, or why it cannot start (parse, validation,
  /// variable or argument errors).
  SubscriptionStream ResolveSubscription(const graphql::PreparedDocument& prepared,
                                         std::string_view operation_name,
                                         const graphql::ValueMap* variables) const;
  /// Loaders for one batch of events (ExecuteEvent); one thread at a time.
  std::shared_ptr<EventScope> NewEventScope() const;
  /// Runs a subscription document for one event (§6.2.3.2): `event` is the root value its
  /// field resolves from (an AnimeChange map). Returns the `next` payload (a JSON response).
  std::string ExecuteEvent(const GraphqlRequest& request, const graphql::Value& event,
                           EventScope& scope) const;

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
