#include "graph/graph_queries.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "db/array_literal.h"
#include "db/error.h"
#include "graph/graph_statements.h"

namespace psvc::graph {

namespace {

// Path search follows every neighbour: the hub window already bounds a node's degree, and
// a per-node cap would make the neighbour relation asymmetric (bidirectional search needs
// symmetry to be correct).
constexpr int kUnlimitedPerNode = 1'000'000;

const char* Bool(bool b) { return b ? "true" : "false"; }

}  // namespace

GraphQueries::GraphQueries(db::Connection& conn, std::chrono::steady_clock::time_point deadline,
                           std::chrono::milliseconds statement_timeout)
    : conn_(conn), deadline_(deadline), statement_timeout_(statement_timeout) {}

db::StatementList GraphQueries::Statements() { return sql::kAll; }

std::vector<std::string> GraphQueries::SessionSetup() {
  return {std::string(db::kForceGenericPlans)};
}

db::Result GraphQueries::Run(const db::Statement& stmt, const std::vector<db::Param>& params) {
  using namespace std::chrono;
  auto now = steady_clock::now();
  // Under a millisecond left, the statement could not finish anyway: do not start it.
  if (deadline_ - now < milliseconds(1)) {
    throw db::DbError(db::ErrorKind::kTimeout, "deadline exceeded before the query could run");
  }
  conn_.SetStatementTimeout(statement_timeout_);  // a no-op after the connection's first use
  // A caller's deadline that comes before the statement timeout (0: none) cancels the
  // statement then.
  if (statement_timeout_.count() == 0 || deadline_ < now + statement_timeout_) {
    return conn_.Execute(stmt, params, deadline_);
  }
  return conn_.Execute(stmt, params);
}

std::vector<GraphQueries::Row> GraphQueries::Expand(const std::vector<std::string>& frontier,
                                                    const EdgeFilter& filter, int hub_window,
                                                    const std::vector<std::string>& exclude,
                                                    int per_node) {
  auto res = Run(sql::kNeighbors,
                 {db::ArrayLiteral(frontier), db::ArrayLiteral(filter.relation_types),
                  Bool(filter.same_studio), Bool(filter.co_appears), Bool(filter.adapted_from),
                  std::to_string(hub_window), db::ArrayLiteral(exclude), std::to_string(per_node)});
  std::vector<Row> rows;
  rows.reserve(res.rows());
  for (int r = 0; r < res.rows(); ++r) {
    rows.push_back({std::string(res.Get(r, 0)), std::string(res.Get(r, 1)),
                    static_cast<EdgeType>(res.GetInt64(r, 2)),
                    res.IsNull(r, 3) ? std::string() : std::string(res.Get(r, 3))});
  }
  return rows;
}

std::vector<std::string> GraphQueries::Existing(const std::vector<std::string>& ids) {
  auto res = Run(sql::kExisting, {db::ArrayLiteral(ids)});
  std::vector<std::string> out;
  for (int r = 0; r < res.rows(); ++r) out.emplace_back(res.Get(r, 0));
  return out;
}

NeighborsResult GraphQueries::Neighbors(const std::string& id, const EdgeFilter& filter, int limit,
                                        int hub_window) {
  NeighborsResult out;
  auto rows = Expand({id}, filter, hub_window, {id}, limit);
  out.edges.reserve(rows.size());
  for (auto& row : rows) {
    out.edges.push_back({std::move(row.dst), row.type, std::move(row.via)});
  }
  // Edges imply the node exists; only an empty answer needs the extra look-up.
  out.start_found = !out.edges.empty() || !Existing({id}).empty();
  return out;
}

KHopResult GraphQueries::KHop(const std::string& id, const EdgeFilter& filter,
                              const AppliedLimits& limits) {
  KHopResult out;
  std::unordered_set<std::string> visited{id};
  std::vector<std::string> visited_list{id};
  std::vector<std::string> frontier{id};
  for (int depth = 1; depth <= limits.max_hops && !frontier.empty() && !out.truncated; ++depth) {
    auto rows =
        Expand(frontier, filter, limits.hub_window, visited_list, limits.max_fanout_per_hop);
    std::vector<std::string> next;
    for (auto& row : rows) {
      if (visited.contains(row.dst)) continue;  // reached earlier in this level
      if (static_cast<int>(out.nodes.size()) == limits.max_results) {
        out.truncated = true;
        break;
      }
      visited.insert(row.dst);
      visited_list.push_back(row.dst);
      next.push_back(row.dst);
      out.nodes.push_back({row.dst, depth, row.type, row.src, row.via});
    }
    if (static_cast<int>(out.nodes.size()) == limits.max_results) out.truncated = true;
    frontier = std::move(next);
  }
  out.start_found = !out.nodes.empty() || !Existing({id}).empty();
  return out;
}

PathResult GraphQueries::Path(const std::string& from, const std::string& to,
                              const EdgeFilter& filter, int max_hops, int hub_window,
                              int node_budget) {
  PathResult out;
  auto existing = Existing({from, to});
  out.from_found = std::find(existing.begin(), existing.end(), from) != existing.end();
  out.to_found = std::find(existing.begin(), existing.end(), to) != existing.end();
  if (!out.from_found || !out.to_found) return out;
  if (from == to) {
    out.found = true;
    out.steps.push_back({from, std::nullopt, ""});
    return out;
  }

  // Bidirectional breadth-first search, one statement per level, expanding the smaller
  // frontier. parent maps a node to the node it was reached from on that side.
  struct Side {
    std::unordered_map<std::string, std::pair<std::string, int>> parent;  // node → (parent, dist)
    std::vector<std::string> frontier;
    int depth = 0;
  };
  Side fwd, bwd;
  fwd.parent[from] = {"", 0};
  fwd.frontier = {from};
  bwd.parent[to] = {"", 0};
  bwd.frontier = {to};

  std::string meet;
  while (fwd.depth + bwd.depth < max_hops) {
    bool forward = fwd.frontier.size() <= bwd.frontier.size();
    Side& side = forward ? fwd : bwd;
    Side& other = forward ? bwd : fwd;
    auto rows = Expand(side.frontier, filter, hub_window, {}, kUnlimitedPerNode);
    ++side.depth;
    std::vector<std::string> next;
    int best_total = -1;
    for (auto& row : rows) {
      if (side.parent.contains(row.dst)) continue;
      side.parent[row.dst] = {row.src, side.depth};
      next.push_back(row.dst);
      if (auto it = other.parent.find(row.dst); it != other.parent.end()) {
        int total = side.depth + it->second.second;
        // Shortest total first; among equals the smallest meeting id, so answers are stable.
        if (best_total < 0 || total < best_total || (total == best_total && row.dst < meet)) {
          best_total = total;
          meet = row.dst;
        }
      }
    }
    if (!meet.empty()) break;
    if (next.empty()) return out;  // this side's component is exhausted: no path at all
    if (static_cast<int>(fwd.parent.size() + bwd.parent.size()) > node_budget) {
      out.truncated = true;
      return out;
    }
    side.frontier = std::move(next);
  }
  if (meet.empty()) return out;

  std::vector<std::string> chain;
  for (std::string n = meet; !n.empty(); n = fwd.parent[n].first) chain.push_back(n);
  std::reverse(chain.begin(), chain.end());
  for (std::string n = bwd.parent[meet].first; !n.empty(); n = bwd.parent[n].first) {
    chain.push_back(n);
  }

  // Label each hop as seen from its earlier node (the backward half was found from the
  // other end; the neighbour statement gives the preferred edge for each ordered pair).
  std::vector<std::string> sources(chain.begin(), chain.end() - 1);
  std::unordered_map<std::string, std::pair<EdgeType, std::string>> label;
  for (auto& row : Expand(sources, filter, hub_window, {}, kUnlimitedPerNode)) {
    label.try_emplace(row.src + row.dst, row.type, row.via);
  }
  out.steps.push_back({chain.front(), std::nullopt, ""});
  for (size_t i = 1; i < chain.size(); ++i) {
    auto it = label.find(chain[i - 1] + chain[i]);
    if (it == label.end()) {
      throw db::DbError(db::ErrorKind::kInternal, "path edge vanished while labelling");
    }
    out.steps.push_back({chain[i], it->second.first, it->second.second});
  }
  out.found = true;
  return out;
}

CompareResult GraphQueries::Compare(const std::string& a, const std::string& b) {
  CompareResult out;
  auto res = Run(sql::kCompareSummary, {a, b});
  for (int r = 0; r < res.rows(); ++r) {
    AnimeSummary s;
    s.id = res.Get(r, 0);
    s.title = res.Get(r, 1);
    s.title_english = res.Get(r, 2);
    s.type = res.Get(r, 3);
    s.status = res.Get(r, 4);
    s.season = res.Get(r, 5);
    s.year = static_cast<int>(res.GetInt64(r, 6));
    s.episode_count = static_cast<int>(res.GetInt64(r, 7));
    s.score = res.GetDouble(r, 8);
    s.view_count = res.GetInt64(r, 9);
    if (s.id == a) out.a = s;
    if (s.id == b) out.b = s;
  }
  if (!out.a || !out.b) return out;
  auto shared = [&](const db::Statement& stmt, std::vector<SharedEntity>& into) {
    auto r = Run(stmt, {a, b});
    for (int i = 0; i < r.rows(); ++i) {
      into.push_back({std::string(r.Get(i, 0)), std::string(r.Get(i, 1)), std::string(r.Get(i, 2)),
                      std::string(r.Get(i, 3))});
    }
  };
  shared(sql::kCompareCharacters, out.characters);
  shared(sql::kCompareStudios, out.studios);
  shared(sql::kCompareWorks, out.original_works);
  auto direct = Run(sql::kCompareDirect, {a, b});
  for (int i = 0; i < direct.rows(); ++i) {
    if (auto t = EdgeTypeFromName(direct.Get(i, 0))) out.direct_relations.push_back(*t);
  }
  return out;
}

}  // namespace psvc::graph
