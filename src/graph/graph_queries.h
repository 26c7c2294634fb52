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

namespace psvc::graph {

/// One edge from an expanded node.
struct Edge {
  std::string node_id;
  EdgeType type;
  std::string via_id;  ///< hub of a derived edge, empty for relations
};

struct NeighborsResult {
  bool start_found = false;
  std::vector<Edge> edges;
};

/// A node reached by KHop and how.
struct KHopNode {
  std::string node_id;
  int depth = 0;
  EdgeType type = EdgeType::kOther;
  std::string parent_id;
  std::string via_id;
};

struct KHopResult {
  bool start_found = false;
  bool truncated = false;
  std::vector<KHopNode> nodes;
};

/// A step of a path: the node and the edge that reached it (none for the first).
struct PathStep {
  std::string node_id;
  std::optional<EdgeType> type;
  std::string via_id;
};

struct PathResult {
  bool found = false;
  bool from_found = false;
  bool to_found = false;
  bool truncated = false;
  std::vector<PathStep> steps;
};

/// Scalars of one anime (Compare).
struct AnimeSummary {
  std::string id, title, title_english, type, status, season;
  int year = 0;
  int episode_count = 0;
  double score = 0;
  int64_t view_count = 0;
};

struct SharedEntity {
  std::string id, name, role_in_a, role_in_b;
};

struct CompareResult {
  std::optional<AnimeSummary> a, b;
  std::vector<SharedEntity> characters, studios, original_works;
  std::vector<EdgeType> direct_relations;
};

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

  /// Statements these primitives run (for the prepare-everything test).
  static db::StatementList Statements();

  /// Session settings for connections that run these primitives: generic plans. The
  /// neighbour statement plans in ~1.3 ms and runs in ~0.4 ms; PostgreSQL's default keeps
  /// re-planning it for every call, so the plan is forced generic (measured on SF1).
  static std::vector<std::string> SessionSetup();

 private:
  struct Row {
    std::string src, dst;
    EdgeType type;
    std::string via;
  };
  std::vector<Row> Expand(const std::vector<std::string>& frontier, const EdgeFilter& filter,
                          int hub_window, const std::vector<std::string>& exclude, int per_node);
  std::vector<std::string> Existing(const std::vector<std::string>& ids);
  /// Runs one statement within the caller's deadline and the statement timeout.
  db::Result Run(const db::Statement& stmt, const std::vector<db::Param>& params);

  db::Connection& conn_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::milliseconds statement_timeout_;
};

}  // namespace psvc::graph
