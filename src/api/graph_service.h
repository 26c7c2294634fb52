#pragma once
/// gRPC PostgresGraphService: validation, limits and translation around a graph::GraphEngine.

#include <chrono>
#include <memory>

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
};

class GrpcServer;

/// Adds PostgresGraphService to `server`, answering with the SQL engine on `pool` (a
/// read-only pool that must outlive it).
void RegisterGraphService(GrpcServer& server, db::Pool& pool, GraphServiceOptions options);
/// Adds PostgresGraphService to `server`, answering with `engine` (which must outlive it).
void RegisterGraphService(GrpcServer& server, graph::GraphEngine& engine,
                          GraphServiceOptions options);

}  // namespace psvc::api
