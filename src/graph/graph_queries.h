#pragma once
/// The four bounded graph primitives over a database connection (no gRPC here).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "db/connection.h"
#include "db/statement.h"
#include "graph/edge_type.h"
#include "graph/limits.h"
#include "graph/results.h"

namespace psvc::graph {

/// Runs the primitives on one borrowed connection. Ids must already be canonical UUIDs and
/// limits resolved (see limits.h): validation belongs to the API boundary. Throws
/// db::DbError; kTimeout once `deadline` has passed.
class GraphQueries {
 public:
  GraphQueries(db::Connection& conn, std::chrono::steady_clock::time_point deadline,
               std::chrono::milliseconds statement_timeout);

  NeighborsResult Neighbors(const std::string& id, const EdgeFilter& filter, int limit,
                            int hub_window);
  KHopResult KHop(const std::string& id, const EdgeFilter& filter, const AppliedLimits& limits);
  PathResult Path(const std::string& from, const std::string& to, const EdgeFilter& filter,
                  int max_hops, int hub_window, int node_budget);
  CompareResult Compare(const std::string& a, const std::string& b);

  /// Statements these primitives run (for the prepare-everything test); the labels statement
  /// is GraphLabels::Statements()'s.
  static db::StatementList Statements();

  /// Session settings for connections that run these primitives: generic plans. The
  /// neighbour statement plans in ~1.3 ms and runs in ~0.4 ms; PostgreSQL's default keeps
  /// re-planning it for every call, so the plan is forced generic (measured on SF1).
  static std::vector<std::string> SessionSetup();

 private:
  friend class SqlSource;
  /// Runs one statement within the caller's deadline and the statement timeout.
  db::Result Run(const db::Statement& stmt, const std::vector<db::Param>& params);

  db::Connection& conn_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::milliseconds statement_timeout_;
};

}  // namespace psvc::graph
