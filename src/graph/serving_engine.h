#pragma once
/// The engine `serve` answers with: the SQL engine, or the memory engine once its snapshot
/// has loaded (SQL answers until then, and for good when the load fails). Following the
/// committed change feed, the memory graph is patched per anime after writes that touch graph
/// data, and reloaded whole when the feed says changes were lost or a patch fails.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "changes/change_source.h"
#include "graph/engine.h"

namespace psvc::observability {
class MetricsRegistry;
}
namespace psvc::db {
class Connection;
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
  bool following = false;  ///< subscribed to a change feed
  /// Every transaction below it is in the served graph (0 = not recorded).
  uint64_t watermark = 0;
  /// When the served graph was last known to match the database: its snapshot was taken, or
  /// the feed read the batch that brought it up to `watermark`.
  std::chrono::system_clock::time_point taken_at{};
  uint64_t patches = 0;  ///< patches applied (ServingGraphEngine::FollowChanges)
  uint64_t patch_failures = 0;
  double last_patch_seconds = 0;  ///< database read and apply of the last patch
  uint64_t reloads = 0;           ///< whole snapshots loaded and swapped in after the first
  uint64_t reload_failures = 0;
  double last_reload_seconds = 0;  ///< duration of the last successful reload
  bool reload_pending = false;     ///< a change arrived that the served graph may lack
};

/// True when a change of this event type can alter the graph or its labels through the anime it
/// names: every event type except AnimeViewed (a view count) and CatalogueLoaded (a bulk load,
/// which names none and makes the graph reload whole).
bool ChangeTouchesGraph(std::string_view event_type);

/// The anime whose graph data a change may have altered: the one it names, and for the merge
/// saga's events the duplicate and the survivor its payload names (the duplicate is deleted
/// by a change announced on the survivor).
std::vector<std::string> AnimeIdsToReread(const changes::Change& change);

class ServingGraphEngine final : public GraphEngine {
 public:
  /// Answers with `sql` (which must outlive this object).
  explicit ServingGraphEngine(GraphEngine& sql);
  ~ServingGraphEngine() override;

  /// Before LoadMemoryInBackground: keep the memory graph current from `feed`. The anime a
  /// batch's graph changes name (ChangeTouchesGraph; AnimeIdsToReread) are re-read from
  /// `reload_url` (where the feed reads, so a delivered change is in what is read) and patched
  /// in; a batch that says changes were lost or holds a bulk load (changes::kCatalogueLoaded),
  /// a gap before the first batch, or a failed patch cause a whole reload instead. Changes arriving
  /// meanwhile are applied next, together. `feed` must outlive this object; `retry_initial` is the
  /// first wait after a failure (doubling to 30 s).
  void FollowChanges(changes::ChangeSource& feed, std::string reload_url,
                     std::chrono::milliseconds retry_initial = std::chrono::seconds(1));
  /// Starts loading the memory graph from `read_url` on a background thread; calls are
  /// answered by SQL until it is ready. With FollowChanges, the same thread then reloads.
  void LoadMemoryInBackground(std::string read_url);
  /// Exports psvc_graph_engine{engine,reason}, the memory graph's size and freshness.
  void AddMetrics(observability::MetricsRegistry& registry);
  EngineStatus Status() const;
  MemoryFreshness Freshness() const;
  /// The memory engine being served, or null while SQL answers.
  std::shared_ptr<const MemoryGraphEngine> Memory() const { return memory_.load(); }
  /// Waits until the memory graph's watermark passes `xid` (every transaction up to and
  /// including `xid` is in the served graph) or `deadline`; true when it did.
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
  void OnBatch(const changes::ChangeBatch& batch);
  void Run(std::stop_token stop, const std::string& read_url);
  /// Loads a snapshot; publishes it and returns true, or logs and returns false. Every batch up
  /// to `covered` was delivered before the load began, so the served graph holds it.
  bool LoadOnce(const std::string& url, bool first, uint64_t covered = 0);
  /// Re-reads `anime` and patches the served graph; true when applied.
  bool PatchOnce(std::stop_token stop, const std::vector<std::string>& anime);
  /// Under mu_: the served graph holds every transaction below `watermark`.
  void PublishWatermark(uint64_t watermark, std::chrono::system_clock::time_point known_at);

  GraphEngine& sql_;
  std::shared_ptr<GraphEngine> sql_alias_;  // sql_ as a non-owning shared_ptr
  std::atomic<std::shared_ptr<MemoryGraphEngine>> memory_;

  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  mutable std::condition_variable published_;  // the watermark moved
  EngineStatus status_{"sql", "requested", "SQL engine requested"};
  double load_seconds_ = 0;
  MemoryFreshness freshness_;
  // Change tracking (under mu_). A feed that started after our subscription may begin above a
  // snapshot's watermark: the transactions between were in neither, so a reload follows.
  bool reload_needed_ = false;
  std::set<std::string> pending_anime_;  // to re-read: named by batches not yet applied
  uint64_t pending_watermark_ = 0;       // of the last batch received
  std::chrono::system_clock::time_point pending_read_at_{};
  std::optional<uint64_t> first_batch_from_;           // from_watermark of the first batch
  std::optional<uint64_t> check_first_batch_against_;  // a snapshot's watermark to compare it to

  // Calls naming a change token (Answering), by outcome: already included, included after a
  // wait, not included in time; and the seconds they spent waiting.
  mutable std::atomic<uint64_t> token_included_{0}, token_waited_{0}, token_timed_out_{0};
  mutable std::atomic<uint64_t> token_wait_micros_{0};

  changes::ChangeSource* feed_ = nullptr;
  changes::ChangeSource::ListenerId listener_ = 0;
  std::string reload_url_;
  std::chrono::milliseconds retry_initial_{1000};
  std::unique_ptr<db::Connection> patch_conn_;  // the worker's, kept between patches
  std::jthread loader_;                         // last: joined first
};

}  // namespace psvc::graph
