#pragma once
/// The graph in memory: a compact adjacency built from one consistent snapshot of the
/// catalogue, answering neighbors, k_hop and path exactly as the SQL engine does
/// (docs/graph.md) without a database round trip.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "db/statement.h"
#include "graph/engine.h"
#include "graph/labels.h"

namespace psvc::db {
class Connection;
}

namespace psvc::graph {

/// Immutable after Load. Nodes are dense indices in UUID order (so comparing indices compares
/// ids); anime merged away or hidden are not loaded.
class MemoryGraph {
 public:
  /// Hub kinds, indexed by rank - kFirstHubRank (ADAPTED_FROM, CO_APPEARS, SAME_STUDIO).
  static constexpr int kHubKinds = 3;
  static constexpr int kFirstHubRank = 11;

  /// Runs inside the snapshot transaction before the tables are read (a consumer of the change
  /// feed records the snapshot's watermark there).
  using InSnapshot = std::function<void(db::Connection&)>;

  /// Reads the catalogue in one REPEATABLE READ READ ONLY transaction (one snapshot). `conn`
  /// must be idle.
  static std::unique_ptr<const MemoryGraph> Load(db::Connection& conn,
                                                 const InSnapshot& in_snapshot = {});
  /// Reads the catalogue in the caller's (REPEATABLE READ) transaction, each table streamed by
  /// binary COPY and built into the adjacency as it arrives, so no result holds a whole table.
  static std::unique_ptr<const MemoryGraph> Read(db::Connection& conn);
  /// The statements Load runs (for the prepare-everything test).
  static db::StatementList Statements();

  std::optional<uint32_t> Find(std::string_view uuid) const;
  std::string Text(uint32_t node) const;
  std::string HubText(int kind, uint32_t hub) const;
  size_t nodes() const { return ids_.size(); }
  /// Bytes held by the adjacency (what the graph costs a replica).
  size_t bytes() const;

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

  template <typename T>
  struct Span {
    const T* b;
    const T* e;
    const T* begin() const { return b; }
    const T* end() const { return e; }
  };
  Span<RelationEdge> Relations(uint32_t node) const {
    return {relations_.data() + relation_begin_[node],
            relations_.data() + relation_begin_[node + 1]};
  }
  Span<Membership> Memberships(int kind, uint32_t node) const {
    const auto& h = hubs_[kind];
    return {h.memberships.data() + h.membership_begin[node],
            h.memberships.data() + h.membership_begin[node + 1]};
  }
  Span<Member> Members(int kind, uint32_t hub) const {
    const auto& h = hubs_[kind];
    return {h.members.data() + h.member_begin[hub], h.members.data() + h.member_begin[hub + 1]};
  }
  const Member& MemberAt(int kind, uint32_t position) const {
    return hubs_[kind].members[position];
  }
  uint32_t MemberBegin(int kind, uint32_t hub) const { return hubs_[kind].member_begin[hub]; }

 private:
  struct HubIndex {
    std::vector<Uuid16> ids;                 // hub ids in UUID order
    std::vector<uint32_t> member_begin;      // per hub, into members (+1 sentinel)
    std::vector<Member> members;             // grouped by hub, each in (year, id) order
    std::vector<uint32_t> membership_begin;  // per node, into memberships (+1 sentinel)
    std::vector<Membership> memberships;
  };

  std::vector<Uuid16> ids_;
  std::vector<uint32_t> relation_begin_;
  std::vector<RelationEdge> relations_;
  std::array<HubIndex, kHubKinds> hubs_;
};

/// GraphEngine over a MemoryGraph, its answers labelled from GraphLabels (labels.h) without a
/// database round trip. Compare is delegated to `compare` (the SQL engine): its answer is
/// mostly scalars (titles, scores, view counts) that change without touching the graph. The
/// graph itself is the catalogue as of Load: ServingGraphEngine follows later writes by loading
/// a new one.
class MemoryGraphEngine final : public GraphEngine {
 public:
  MemoryGraphEngine(std::shared_ptr<const MemoryGraph> graph,
                    std::shared_ptr<const GraphLabels> labels, GraphEngine& compare)
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

  /// Re-reads the labels of `keys` (anime whose title, type or year changed, that appeared or
  /// went away; companies, characters, original works renamed or new) through `conn`, and
  /// publishes them: calls answered after it returns use them, calls in flight keep the
  /// labels they started with. Safe to call from any thread, concurrently with calls.
  void ReloadLabels(db::Connection& conn, const LabelKeys& keys);
  std::shared_ptr<const GraphLabels> labels() const { return labels_.load(); }

  std::string_view name() const override { return "memory"; }
  const MemoryGraph& graph() const { return *graph_; }

  NeighborsResult Neighbors(const CallBudget& budget, const std::string& id,
                            const EdgeFilter& filter, int limit, int hub_window) override;
  KHopResult KHop(const CallBudget& budget, const std::string& id, const EdgeFilter& filter,
                  const AppliedLimits& limits) override;
  PathResult Path(const CallBudget& budget, const std::string& from, const std::string& to,
                  const EdgeFilter& filter, int max_hops, int hub_window, int node_budget) override;
  CompareResult Compare(const CallBudget& budget, const std::string& a,
                        const std::string& b) override;

 private:
  std::shared_ptr<const MemoryGraph> graph_;
  std::atomic<std::shared_ptr<const GraphLabels>> labels_;
  std::mutex reload_mu_;  // one reload at a time, so none is lost
  GraphEngine& compare_;
};

}  // namespace psvc::graph
