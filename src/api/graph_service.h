#pragma once
/// gRPC PostgresGraphService: validation, limits and translation around graph::GraphQueries.

#include <chrono>
#include <memory>

#include "db/statement.h"
#include "graph/limits.h"

namespace psvc::db {
class Pool;
}

namespace psvc::api {

class BearerTokens;

/// Settings of the graph service.
struct GraphServiceOptions {
  graph::LimitCaps caps;
  std::chrono::milliseconds statement_timeout{2000};
  /// Longest a request may wait for a pooled connection (bounded further by its deadline).
  std::chrono::milliseconds acquire_timeout{1000};
  /// When enabled, every call needs `authorization: Bearer <token>` metadata. Must outlive
  /// the service.
  const BearerTokens* tokens = nullptr;
};

class GrpcServer;

/// Adds PostgresGraphService to `server`; `pool` must outlive it (a read-only pool).
void RegisterGraphService(GrpcServer& server, db::Pool& pool, GraphServiceOptions options);

/// The service's own SQL (merged ids), for the prepare-every-statement test.
db::StatementList GraphServiceStatements();

}  // namespace psvc::api
