#pragma once
/// The engine `serve` answers with: the SQL engine, or the memory engine once its snapshot
/// has loaded (SQL answers until then, and for good when the load fails).

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "graph/engine.h"

namespace psvc::observability {
class MetricsRegistry;
}

namespace psvc::graph {

class MemoryGraphEngine;

/// Which engine answers, and why.
struct EngineStatus {
  std::string engine;  ///< "sql" or "memory"
  std::string reason;  ///< "requested", "memory_loading" or "memory_failed" (a metric label)
  std::string detail;  ///< one line for people (/readyz header, logs)
};

class ServingGraphEngine final : public GraphEngine {
 public:
  /// Answers with `sql` (which must outlive this object).
  explicit ServingGraphEngine(GraphEngine& sql);
  ~ServingGraphEngine() override;

  /// Starts loading the memory graph from `read_url` on a background thread; calls are
  /// answered by SQL until it is ready.
  void LoadMemoryInBackground(std::string read_url);
  /// Exports psvc_graph_engine{engine,reason} and the memory graph's size.
  void AddMetrics(observability::MetricsRegistry& registry);
  EngineStatus Status() const;

  std::string_view name() const override;
  NeighborsResult Neighbors(const CallBudget& budget, const std::string& id,
                            const EdgeFilter& filter, int limit, int hub_window) override;
  KHopResult KHop(const CallBudget& budget, const std::string& id, const EdgeFilter& filter,
                  const AppliedLimits& limits) override;
  PathResult Path(const CallBudget& budget, const std::string& from, const std::string& to,
                  const EdgeFilter& filter, int max_hops, int hub_window, int node_budget) override;
  CompareResult Compare(const CallBudget& budget, const std::string& a,
                        const std::string& b) override;

 private:
  GraphEngine& Current() const;

  GraphEngine& sql_;
  std::shared_ptr<MemoryGraphEngine> memory_holder_;  // owned; published through memory_
  std::atomic<MemoryGraphEngine*> memory_{nullptr};
  mutable std::mutex mu_;
  EngineStatus status_{"sql", "requested", "SQL engine requested"};
  double load_seconds_ = 0;
  std::jthread loader_;
};

}  // namespace psvc::graph
