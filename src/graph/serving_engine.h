#pragma once
/// The engine `serve` answers with: the SQL engine, or the memory engine once its snapshot
/// has loaded (SQL answers until then, and for good when the load fails). Following the
/// committed change feed, the memory graph is reloaded whole after writes that touch graph
/// data, and the new snapshot replaces the old one atomically.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "changes/change_source.h"
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

/// How the memory graph follows committed changes; a snapshot.
struct MemoryFreshness {
  bool following = false;                            ///< subscribed to a change feed
  uint64_t watermark = 0;                            ///< the served snapshot's (0 = not recorded)
  std::chrono::system_clock::time_point taken_at{};  ///< when the served snapshot was taken
  uint64_t reloads = 0;  ///< snapshots loaded and swapped in after the first
  uint64_t reload_failures = 0;
  double last_reload_seconds = 0;  ///< duration of the last successful reload
  bool reload_pending = false;     ///< a change arrived that the served snapshot may lack
};

/// True when a change of this event type can alter the graph or its labels: every event type
/// except AnimeViewed (a view count).
bool ChangeTouchesGraph(std::string_view event_type);

class ServingGraphEngine final : public GraphEngine {
 public:
  /// Answers with `sql` (which must outlive this object).
  explicit ServingGraphEngine(GraphEngine& sql);
  ~ServingGraphEngine() override;

  /// Before LoadMemoryInBackground: reload the memory graph whenever a batch of `feed` holds a
  /// change that touches graph data (ChangeTouchesGraph) or says changes were lost. Reloads
  /// read `reload_url` (where the feed reads, so a delivered change is in the next snapshot),
  /// one at a time; changes arriving during a reload cause one more. `feed` must outlive this
  /// object; `retry_initial` is the first wait after a failed reload (doubling to 30 s).
  void FollowChanges(changes::ChangeSource& feed, std::string reload_url,
                     std::chrono::milliseconds retry_initial = std::chrono::seconds(1));
  /// Starts loading the memory graph from `read_url` on a background thread; calls are
  /// answered by SQL until it is ready. With FollowChanges, the same thread then reloads.
  void LoadMemoryInBackground(std::string read_url);
  /// Exports psvc_graph_engine{engine,reason}, the memory graph's size and freshness.
  void AddMetrics(observability::MetricsRegistry& registry);
  EngineStatus Status() const;
  MemoryFreshness Freshness() const;
  /// Read-your-writes: waits (on a condition variable) until the served memory graph includes
  /// every transaction up to `xid` (its watermark is above it) or `deadline`; true when it does.
  bool WaitForWatermark(uint64_t xid, std::chrono::steady_clock::time_point deadline) const;

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
  /// The engine a call uses; held for the call, so a swap never pulls a graph from under it.
  std::shared_ptr<GraphEngine> Current() const;
  /// Current(), for a call that may name a change its answer must include (CallBudget::
  /// min_change): the memory graph once it includes it, else throws ChangeNotCaughtUp.
  std::shared_ptr<GraphEngine> Answering(const CallBudget& budget) const;
  /// Raises the served watermark to `watermark` (when higher) and wakes WaitForWatermark.
  /// Caller holds mu_.
  void AdvanceWatermark(uint64_t watermark);
  void OnBatch(const changes::ChangeBatch& batch);
  void Run(std::stop_token stop, const std::string& read_url);
  /// Loads a snapshot; publishes it and returns true, or logs and returns false.
  bool LoadOnce(const std::string& url, bool first);

  GraphEngine& sql_;
  std::shared_ptr<GraphEngine> sql_alias_;  // sql_ as a non-owning shared_ptr
  std::atomic<std::shared_ptr<MemoryGraphEngine>> memory_;

  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  mutable std::condition_variable watermark_advanced_;  // freshness_.watermark grew
  EngineStatus status_{"sql", "requested", "SQL engine requested"};
  double load_seconds_ = 0;
  MemoryFreshness freshness_;
  // Change tracking (under mu_). A feed that started after our subscription may begin above a
  // snapshot's watermark: the transactions between were in neither, so a reload follows.
  bool dirty_ = false;
  std::optional<uint64_t> first_batch_from_;           // from_watermark of the first batch
  std::optional<uint64_t> check_first_batch_against_;  // a snapshot's watermark to compare it to
  // The end of the last delivered batch with changes the served graph may lack (graph changes,
  // or a span the feed missed): while the served watermark is below it, batches without graph
  // changes do not advance it.
  uint64_t unserved_until_ = 0;
  uint64_t delivered_until_ = 0;  // the highest watermark of a batch delivered to OnBatch

  changes::ChangeSource* feed_ = nullptr;
  changes::ChangeSource::ListenerId listener_ = 0;
  std::string reload_url_;
  std::chrono::milliseconds retry_initial_{1000};
  std::jthread loader_;  // last: joined first
};

}  // namespace psvc::graph
