#pragma once
/// The graph in memory: a compact adjacency built from one consistent snapshot of the
/// catalogue and patched per anime as it changes, answering neighbors, k_hop and path exactly
/// as the SQL engine does (docs/graph.md) without a database round trip.

#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "db/statement.h"
#include "graph/engine.h"
#include "graph/labels.h"

namespace psvc::db {
class Connection;
}

namespace psvc::graph {

/// Nodes are dense indices: the snapshot's anime in UUID order, then anime that appeared later
/// in the order they appeared. Anime merged away or hidden are not in it (an anime that leaves
/// keeps its index, unused, so it gets it back if it is restored). Not thread-safe:
/// MemoryGraphEngine serialises Apply against readers.
class MemoryGraph {
 public:
  /// Hub kinds, indexed by rank - kFirstHubRank (ADAPTED_FROM, CO_APPEARS, SAME_STUDIO).
  static constexpr int kHubKinds = 3;
  static constexpr int kFirstHubRank = 11;

  /// Runs inside the snapshot transaction before the tables are read (a consumer of the change
  /// feed records the snapshot's watermark there).
  using InSnapshot = std::function<void(db::Connection&)>;

  /// Reads the catalogue in the caller's (REPEATABLE READ) transaction, each table streamed by
  /// binary COPY and built into the adjacency as it arrives, so no result holds a whole table.
  static std::unique_ptr<MemoryGraph> Read(db::Connection& conn);
  /// The statements Read and ReadPatch run (for the prepare-everything test).
  static db::StatementList Statements();

  /// The graph data of some anime as the database holds it: what Read would read about them.
  struct Patch {
    std::vector<Uuid16> anime;    ///< every anime re-read (present, gone or hidden)
    std::vector<Uuid16> visible;  ///< those in the graph now (not merged away, not hidden)
    struct Relation {
      Uuid16 a, b;  ///< a row (a, b, type) of anime_relation with a or b re-read
      EdgeType type;
    };
    std::vector<Relation> relations;
    struct HubRow {
      int kind;
      Uuid16 hub, anime;
      int32_t year;
    };
    std::vector<HubRow> hub_rows;  ///< every hub membership of a re-read anime
  };
  /// Reads the Patch of `anime` (canonical UUID text; others are ignored) through `conn`, in
  /// the caller's transaction.
  static Patch ReadPatch(db::Connection& conn, const std::vector<std::string>& anime);
  /// Replaces everything the graph holds about the patch's anime (the node, its relation edges
  /// from both ends, its places in every hub) with the patch: afterwards the graph equals a
  /// fresh Load wherever the patch's anime are concerned. Hub members stay in (year, id) order.
  void Apply(const Patch& patch);

  /// A visible anime's node.
  std::optional<uint32_t> Find(std::string_view uuid) const;
  const Uuid16& Id(uint32_t node) const { return ids_[node]; }
  const Uuid16& HubId(int kind, uint32_t hub) const { return hubs_[kind].ids[hub]; }
  std::string Text(uint32_t node) const;
  std::string HubText(int kind, uint32_t hub) const;
  /// Anime in the graph.
  size_t nodes() const { return visible_count_; }
  /// Bytes held by the adjacency (what the graph costs a replica).
  size_t bytes() const;
  /// Every node, edge and hub list in a canonical text form (UUIDs, UUID order), so two graphs
  /// holding the same catalogue compare equal whatever their node numbering (tests).
  std::string CanonicalText() const;

  /// One relation neighbour: the types of node->other as seen from the node (out) and of
  /// other->node as seen from other (in), as bit sets over EdgeType values.
  struct RelationEdge {
    uint32_t other;
    uint16_t out_types;
    uint16_t in_types;
  };
  /// A hub member, in the hub's (year, id) order.
  struct Member {
    uint32_t node;
    int32_t year;  ///< anime_year of the hub row: 0 when unknown
  };
  /// A node's membership: which hub, and its position in that hub's member list.
  struct Membership {
    uint32_t hub;
    uint32_t position;
  };

  const std::vector<RelationEdge>& Relations(uint32_t node) const { return relations_[node]; }
  const std::vector<Membership>& Memberships(int kind, uint32_t node) const {
    return hubs_[kind].memberships[node];
  }
  const std::vector<Member>& Members(int kind, uint32_t hub) const {
    return hubs_[kind].members[hub];
  }

 private:
  struct UuidHash {
    size_t operator()(const Uuid16& u) const noexcept;
  };
  struct HubIndex {
    std::vector<Uuid16> ids;  // by hub number
    std::unordered_map<Uuid16, uint32_t, UuidHash> numbers;
    std::vector<std::vector<Member>> members;          // per hub, in (year, id) order
    std::vector<std::vector<Membership>> memberships;  // per node
  };

  uint32_t AddNode(const Uuid16& id);
  /// Removes every edge and hub place of `node` (it stays numbered).
  void Detach(uint32_t node);
  void AddRelationHalf(uint32_t node, uint32_t other, uint16_t out, uint16_t in);
  void InsertMember(int kind, const Uuid16& hub, uint32_t node, int32_t year);
  /// Rewrites the positions that members from `from` on hold in their memberships of `hub`.
  void Renumber(int kind, uint32_t hub, size_t from);
  std::optional<uint32_t> FindAny(const Uuid16& id) const;

  std::vector<Uuid16> ids_;       // by node
  std::vector<uint8_t> visible_;  // by node: 0 once merged away or hidden
  size_t visible_count_ = 0;
  std::unordered_map<Uuid16, uint32_t, UuidHash> numbers_;
  std::vector<std::vector<RelationEdge>> relations_;  // by node
  std::array<HubIndex, kHubKinds> hubs_;
};

/// A reader-writer lock that lets a waiting writer in before new readers (glibc's default
/// prefers readers, so a steady stream of traversals could hold a patch back indefinitely).
class WriterPreferringLock {
 public:
  WriterPreferringLock();
  ~WriterPreferringLock();
  WriterPreferringLock(const WriterPreferringLock&) = delete;
  WriterPreferringLock& operator=(const WriterPreferringLock&) = delete;
  void lock();
  void unlock();
  void lock_shared();
  void unlock_shared();

 private:
  pthread_rwlock_t lock_;
};

/// GraphEngine over a MemoryGraph, its answers labelled from GraphLabels (labels.h) without a
/// database round trip. Compare is delegated to `compare` (the SQL engine): its answer is
/// mostly scalars (titles, scores, view counts) that change without touching the graph.
///
/// ApplyChanges patches the graph in place: the database is read first, with no lock held;
/// then the patch is applied under the write side of a writer-preferring lock whose read side
/// each call holds for its traversal. A call therefore sees the graph and its labels entirely
/// before or entirely after a patch, never half of one, and waits at most for one patch's
/// in-memory update (microseconds to a few milliseconds).
class MemoryGraphEngine final : public GraphEngine {
 public:
  MemoryGraphEngine(std::unique_ptr<MemoryGraph> graph, std::shared_ptr<const GraphLabels> labels,
                    GraphEngine& compare)
      : graph_(std::move(graph)), labels_(std::move(labels)), compare_(compare) {}
  /// Loads the graph and every label through `conn` from one snapshot (`in_snapshot` runs in
  /// its transaction first).
  static std::unique_ptr<MemoryGraphEngine> Load(db::Connection& conn, GraphEngine& compare,
                                                 const MemoryGraph::InSnapshot& in_snapshot = {});
  /// As above over two connections to `url`: the graph on one, the labels on the other, which
  /// imports the first one's snapshot (pg_export_snapshot), so both halves are read in parallel
  /// and still from one snapshot. What `serve` does.
  static std::unique_ptr<MemoryGraphEngine> Load(const std::string& url, GraphEngine& compare,
                                                 const MemoryGraph::InSnapshot& in_snapshot = {});

  /// Re-reads the graph data and labels of `anime` (canonical UUID text) and of the hubs they
  /// belong to, in one REPEATABLE READ snapshot through `conn` (idle), and applies them: every
  /// transaction that had committed when it began is then in the graph as far as these anime
  /// are concerned. Safe to call from any thread, concurrently with calls; one at a time.
  void ApplyChanges(db::Connection& conn, const std::vector<std::string>& anime);

  /// Re-reads the labels of `keys` (anime whose title, type or year changed, that appeared or
  /// went away; companies, characters, original works renamed or new) through `conn`, and
  /// publishes them: calls answered after it returns use them, calls in flight keep the
  /// labels they started with. Safe to call from any thread, concurrently with calls.
  void ReloadLabels(db::Connection& conn, const LabelKeys& keys);
  std::shared_ptr<const GraphLabels> labels() const { return labels_.load(); }

  std::string_view name() const override { return "memory"; }
  /// Anime in the graph, and the bytes its adjacency holds (consistent with patches).
  size_t nodes() const;
  size_t bytes() const;
  /// MemoryGraph::CanonicalText of the graph as it is now (tests).
  std::string CanonicalText() const;

  NeighborsResult Neighbors(const CallBudget& budget, const std::string& id,
                            const EdgeFilter& filter, int limit, int hub_window) override;
  KHopResult KHop(const CallBudget& budget, const std::string& id, const EdgeFilter& filter,
                  const AppliedLimits& limits) override;
  PathResult Path(const CallBudget& budget, const std::string& from, const std::string& to,
                  const EdgeFilter& filter, int max_hops, int hub_window, int node_budget) override;
  CompareResult Compare(const CallBudget& budget, const std::string& a,
                        const std::string& b) override;

 private:
  std::unique_ptr<MemoryGraph> graph_;  // guarded by graph_lock_
  mutable WriterPreferringLock graph_lock_;
  // Read lock-free by callers that only need labels; swapped under graph_lock_'s write side
  // together with a patch, so a traversal's labels match its graph.
  std::atomic<std::shared_ptr<const GraphLabels>> labels_;
  std::mutex reload_mu_;  // one patch or label reload at a time, so none is lost
  GraphEngine& compare_;
};

}  // namespace psvc::graph
