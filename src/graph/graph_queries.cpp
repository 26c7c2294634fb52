#include "graph/graph_queries.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "db/array_literal.h"
#include "db/error.h"
#include "graph/graph_statements.h"
#include "graph/labels.h"
#include "graph/traversal.h"

namespace psvc::graph {

namespace {

const char* Bool(bool b) { return b ? "true" : "false"; }

}  // namespace

/// Neighbour expansions with the neighbour statement, for the shared traversal code.
class SqlSource {
 public:
  using Id = std::string;
  struct Row {
    std::string src, dst;
    EdgeType type;
    std::string via;
  };

  explicit SqlSource(GraphQueries& q) : q_(q) {}

  std::vector<Row> Expand(const std::vector<std::string>& frontier, const EdgeFilter& filter,
                          int hub_window, const std::unordered_set<std::string>& exclude,
                          int per_node, bool reverse) {
    std::vector<std::string> excluded(exclude.begin(), exclude.end());
    auto res = q_.Run(sql::kNeighbors,
                      {db::ArrayLiteral(frontier), db::ArrayLiteral(filter.relation_types),
                       Bool(filter.same_studio), Bool(filter.co_appears), Bool(filter.adapted_from),
                       std::to_string(hub_window), db::ArrayLiteral(excluded),
                       std::to_string(per_node), Bool(reverse)});
    std::vector<Row> rows;
    rows.reserve(res.rows());
    for (int r = 0; r < res.rows(); ++r) {
      rows.push_back({std::string(res.Get(r, 0)), std::string(res.Get(r, 1)),
                      static_cast<EdgeType>(res.GetInt64(r, 2)),
                      res.IsNull(r, 3) ? std::string() : std::string(res.Get(r, 3))});
    }
    return rows;
  }

  bool Less(const std::string& a, const std::string& b) const { return a < b; }  // UUID text
  std::vector<std::string> Existing(const std::vector<std::string>& ids) {
    auto res = q_.Run(sql::kExisting, {db::ArrayLiteral(ids)});
    std::vector<std::string> out;
    for (int r = 0; r < res.rows(); ++r) out.emplace_back(res.Get(r, 0));
    return out;
  }

  const std::string& Text(const std::string& id) const { return id; }
  const std::string& ViaText(const std::string& via) const { return via; }

  /// The labels an answer names, in one statement (none when it names nothing).
  FetchedLabels Labels(const LabelKeys& keys) {
    FetchedLabels out;
    if (keys.empty()) return out;
    auto arrays = FetchedLabels::Arrays(keys);
    auto res = q_.Run(sql::kLabels, {arrays[0], arrays[1], arrays[2], arrays[3]});
    for (int r = 0; r < res.rows(); ++r) {
      out.AddRow(res.Get(r, 0), res.Get(r, 1), res.Get(r, 2),
                 res.IsNull(r, 3) ? std::string_view() : res.Get(r, 3),
                 static_cast<int>(res.GetInt64(r, 4)));
    }
    return out;
  }

 private:
  GraphQueries& q_;
};

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

NeighborsResult GraphQueries::Neighbors(const std::string& id, const EdgeFilter& filter, int limit,
                                        int hub_window) {
  SqlSource source(*this);
  auto out = RunNeighbors(source, id, filter, limit, hub_window);
  ApplyLabels(out, id, source.Labels(KeysOf(out, id)));
  return out;
}

KHopResult GraphQueries::KHop(const std::string& id, const EdgeFilter& filter,
                              const AppliedLimits& limits) {
  SqlSource source(*this);
  auto out = RunKHop(source, id, filter, limits);
  ApplyLabels(out, id, source.Labels(KeysOf(out, id)));
  return out;
}

PathResult GraphQueries::Path(const std::string& from, const std::string& to,
                              const EdgeFilter& filter, int max_hops, int hub_window,
                              int node_budget) {
  SqlSource source(*this);
  try {
    auto out = RunPath(source, from, to, filter, max_hops, hub_window, node_budget);
    ApplyLabels(out, source.Labels(KeysOf(out)));
    return out;
  } catch (const PathEdgeVanished& e) {
    throw db::DbError(db::ErrorKind::kInternal, e.what());
  }
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
