#include <algorithm>

#include "db/pool.h"
#include "graph/engine.h"
#include "graph/graph_queries.h"

namespace psvc::graph {

// The connection wait is bounded by the acquire timeout and the caller's deadline, whichever
// comes first.
template <typename Work>
auto SqlGraphEngine::WithQueries(const CallBudget& budget, Work work) {
  auto acquire_by =
      std::min(budget.deadline, std::chrono::steady_clock::now() + options_.acquire_timeout);
  // Read-your-writes: the primary holds every committed write; a standby may not yet.
  db::Pool& pool = budget.min_change && options_.primary_pool ? *options_.primary_pool : pool_;
  auto conn = pool.Acquire(acquire_by);
  GraphQueries queries(*conn, budget.deadline, options_.statement_timeout);
  return work(queries);
}

NeighborsResult SqlGraphEngine::Neighbors(const CallBudget& budget, const std::string& id,
                                          const EdgeFilter& filter, int limit, int hub_window) {
  return WithQueries(budget,
                     [&](GraphQueries& q) { return q.Neighbors(id, filter, limit, hub_window); });
}

KHopResult SqlGraphEngine::KHop(const CallBudget& budget, const std::string& id,
                                const EdgeFilter& filter, const AppliedLimits& limits) {
  return WithQueries(budget, [&](GraphQueries& q) { return q.KHop(id, filter, limits); });
}

PathResult SqlGraphEngine::Path(const CallBudget& budget, const std::string& from,
                                const std::string& to, const EdgeFilter& filter, int max_hops,
                                int hub_window, int node_budget) {
  return WithQueries(budget, [&](GraphQueries& q) {
    return q.Path(from, to, filter, max_hops, hub_window, node_budget);
  });
}

CompareResult SqlGraphEngine::Compare(const CallBudget& budget, const std::string& a,
                                      const std::string& b) {
  return WithQueries(budget, [&](GraphQueries& q) { return q.Compare(a, b); });
}

}  // namespace psvc::graph
