#pragma once
/// gRPC PostgresGraphService: validation, limits and translation around a graph::GraphEngine.

#include <chrono>
#include <memory>

#include "db/statement.h"
#include "graph/limits.h"

namespace psvc::db {
class Pool;
}
namespace psvc::graph {
class GraphEngine;
}

namespace psvc::api {

class BearerTokens;

/// Settings of the graph service.
struct GraphServiceOptions {
  graph::LimitCaps caps;
  /// For the SQL engine RegisterGraphService(server, pool, ...) makes.
  std::chrono::milliseconds statement_timeout{2000};
  /// Longest a request may wait for a pooled connection (bounded further by its deadline).
  std::chrono::milliseconds acquire_timeout{1000};
  /// When enabled, every call needs `authorization: Bearer <token>` metadata. Must outlive
  /// the service.
  const BearerTokens* tokens = nullptr;
  /// Where a merged-away id is looked up (anime_redirect) when the engine does not find it,
  /// so the call is answered for the survivor. RegisterGraphService(server, pool, ...) uses
  /// `pool`; with an engine, nullptr means merged ids are simply not found. Must outlive the
  /// service.
  db::Pool* redirect_pool = nullptr;
  /// Where a call with min_change_token looks merged ids up when redirect_pool may lag (a
  /// standby): a pool on the primary. nullptr: redirect_pool reads the primary.
  db::Pool* primary_redirect_pool = nullptr;
};

class GrpcServer;

/// Adds PostgresGraphService to `server`, answering with the SQL engine on `pool` (a
/// read-only pool that must outlive it).
void RegisterGraphService(GrpcServer& server, db::Pool& pool, GraphServiceOptions options);
/// Adds PostgresGraphService to `server`, answering with `engine` (which must outlive it).
void RegisterGraphService(GrpcServer& server, graph::GraphEngine& engine,
                          GraphServiceOptions options);

/// The service's own SQL (merged ids), for the prepare-every-statement test.
db::StatementList GraphServiceStatements();

}  // namespace psvc::api
