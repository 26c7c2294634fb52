#include "graph/memory_engine.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <string>

#include "db/connection.h"
#include "db/error.h"
#include "graph/traversal.h"

namespace psvc::graph {

namespace sql {

// The snapshot, table by table. Hub members come in the hub's (anime_year, anime_id) order,
// read from the reverse indexes, so the in-memory windows are the SQL windows.
inline constexpr db::Statement kSnapshotAnime{"graph.snapshot_anime", R"sql(
SELECT id::text FROM anime WHERE merged_into IS NULL AND hidden_at IS NULL ORDER BY id
)sql"};
inline constexpr db::Statement kSnapshotRelations{"graph.snapshot_relations", R"sql(
SELECT anime_id::text, related_anime_id::text, relation_type FROM anime_relation
)sql"};
inline constexpr db::Statement kSnapshotWorks{"graph.snapshot_works", R"sql(
SELECT original_work_id::text, anime_id::text, anime_year FROM anime_original_work_relation
 ORDER BY original_work_id, anime_year, anime_id
)sql"};
inline constexpr db::Statement kSnapshotCharacters{"graph.snapshot_characters", R"sql(
SELECT character_id::text, anime_id::text, anime_year FROM anime_character
 ORDER BY character_id, anime_year, anime_id
)sql"};
inline constexpr db::Statement kSnapshotStudios{"graph.snapshot_studios", R"sql(
SELECT company_id::text, anime_id::text, anime_year FROM anime_company WHERE role = 'studio'
 ORDER BY company_id, anime_year, anime_id
)sql"};
// Indexed by hub kind (rank - 11): ADAPTED_FROM, CO_APPEARS, SAME_STUDIO.
inline constexpr const db::Statement* kSnapshotHubs[] = {&kSnapshotWorks, &kSnapshotCharacters,
                                                         &kSnapshotStudios};
inline constexpr const db::Statement* kSnapshotAll[] = {
    &kSnapshotAnime, &kSnapshotRelations, &kSnapshotWorks, &kSnapshotCharacters, &kSnapshotStudios};

}  // namespace sql

namespace {

constexpr int kCursorBatch = 20000;

/// Runs `stmt` through a cursor inside the caller's transaction, `batch` rows at a time.
template <typename OnRow>
void Stream(db::Connection& conn, const db::Statement& stmt, OnRow on_row) {
  conn.Exec("DECLARE psvc_snapshot NO SCROLL CURSOR FOR " + std::string(stmt.sql));
  const std::string fetch = "FETCH " + std::to_string(kCursorBatch) + " FROM psvc_snapshot";
  for (;;) {
    auto res = conn.Exec(fetch);
    for (int r = 0; r < res.rows(); ++r) on_row(res, r);
    if (res.rows() < kCursorBatch) break;
  }
  conn.Exec("CLOSE psvc_snapshot");
}

/// Mirrors psvc_inverse_relation() (migrations/0001_catalogue.sql), as a bit.
uint16_t Bit(EdgeType t) { return static_cast<uint16_t>(1u << static_cast<int>(t)); }

EdgeType TypeOfRank(int rank) {
  switch (rank) {
    case 11:
      return EdgeType::kAdaptedFrom;
    case 12:
      return EdgeType::kCoAppears;
    case 13:
      return EdgeType::kSameStudio;
    default:
      return static_cast<EdgeType>(rank);
  }
}

}  // namespace

db::StatementList MemoryGraph::Statements() { return sql::kSnapshotAll; }

std::unique_ptr<const MemoryGraph> MemoryGraph::Load(db::Connection& conn,
                                                     const InSnapshot& in_snapshot) {
  auto g = std::make_unique<MemoryGraph>();
  db::Transaction tx(conn, db::Transaction::Mode::kReadOnly);
  // One snapshot for every table: a relation and its anime are read as of the same moment.
  conn.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
  if (in_snapshot) in_snapshot(conn);

  auto find = [&](std::string_view text) -> std::optional<uint32_t> {
    auto u = ParseUuid16(text);
    if (!u) return std::nullopt;
    auto it = std::lower_bound(g->ids_.begin(), g->ids_.end(), *u);
    if (it == g->ids_.end() || *it != *u) return std::nullopt;
    return static_cast<uint32_t>(it - g->ids_.begin());
  };

  Stream(conn, sql::kSnapshotAnime, [&](const db::Result& res, int r) {
    auto u = ParseUuid16(res.Get(r, 0));
    if (!u) throw db::DbError(db::ErrorKind::kInternal, "snapshot: bad anime id");
    g->ids_.push_back(*u);
  });
  const auto n = static_cast<uint32_t>(g->ids_.size());

  // Relations: each row is an edge from both ends (docs/graph.md); rows touching anime not in
  // the graph are dropped.
  struct Half {
    uint32_t node, other;
    uint16_t out, in;
  };
  std::vector<Half> halves;
  Stream(conn, sql::kSnapshotRelations, [&](const db::Result& res, int r) {
    auto a = find(res.Get(r, 0));
    auto b = find(res.Get(r, 1));
    auto t = EdgeTypeFromName(res.Get(r, 2));
    if (!a || !b || !t || !IsRelation(*t)) return;
    const uint16_t fwd = Bit(*t), inv = Bit(Inverse(*t));
    halves.push_back({*a, *b, fwd, inv});
    halves.push_back({*b, *a, inv, fwd});
  });
  std::sort(halves.begin(), halves.end(), [](const Half& x, const Half& y) {
    return std::tie(x.node, x.other) < std::tie(y.node, y.other);
  });
  g->relation_begin_.assign(n + 1, 0);
  for (const Half& h : halves) {
    if (!g->relations_.empty() && g->relation_begin_[h.node + 1] > 0 &&
        g->relations_.back().other == h.other) {
      g->relations_.back().out_types |= h.out;
      g->relations_.back().in_types |= h.in;
      continue;
    }
    g->relations_.push_back({h.other, h.out, h.in});
    ++g->relation_begin_[h.node + 1];
  }
  for (uint32_t i = 0; i < n; ++i) g->relation_begin_[i + 1] += g->relation_begin_[i];
  halves = {};

  for (int kind = 0; kind < kHubKinds; ++kind) {
    HubIndex& h = g->hubs_[kind];
    std::vector<uint32_t> per_node(n + 1, 0);
    Stream(conn, *sql::kSnapshotHubs[kind], [&](const db::Result& res, int r) {
      auto node = find(res.Get(r, 1));
      if (!node) return;  // not in the graph: takes no place in the window
      auto hub = ParseUuid16(res.Get(r, 0));
      if (!hub) throw db::DbError(db::ErrorKind::kInternal, "snapshot: bad hub id");
      if (h.ids.empty() || h.ids.back() != *hub) {
        h.ids.push_back(*hub);
        h.member_begin.push_back(static_cast<uint32_t>(h.members.size()));
      }
      h.members.push_back({*node, static_cast<int32_t>(res.GetInt64(r, 2))});
      ++per_node[*node + 1];
    });
    h.member_begin.push_back(static_cast<uint32_t>(h.members.size()));
    for (uint32_t i = 0; i < n; ++i) per_node[i + 1] += per_node[i];
    h.membership_begin = per_node;
    h.memberships.resize(h.members.size());
    for (uint32_t hub = 0; hub + 1 < h.member_begin.size(); ++hub) {
      for (uint32_t p = h.member_begin[hub]; p < h.member_begin[hub + 1]; ++p) {
        h.memberships[per_node[h.members[p].node]++] = {hub, p};
      }
    }
  }
  tx.Commit();
  return g;
}

std::optional<uint32_t> MemoryGraph::Find(std::string_view uuid) const {
  auto u = ParseUuid16(uuid);
  if (!u) return std::nullopt;
  auto it = std::lower_bound(ids_.begin(), ids_.end(), *u);
  if (it == ids_.end() || *it != *u) return std::nullopt;
  return static_cast<uint32_t>(it - ids_.begin());
}

std::string MemoryGraph::Text(uint32_t node) const { return FormatUuid16(ids_[node]); }

std::string MemoryGraph::HubText(int kind, uint32_t hub) const {
  return FormatUuid16(hubs_[kind].ids[hub]);
}

size_t MemoryGraph::bytes() const {
  size_t b = ids_.capacity() * sizeof(Uuid16) + relation_begin_.capacity() * sizeof(uint32_t) +
             relations_.capacity() * sizeof(RelationEdge);
  for (const auto& h : hubs_) {
    b += h.ids.capacity() * sizeof(Uuid16) + h.member_begin.capacity() * sizeof(uint32_t) +
         h.members.capacity() * sizeof(Member) + h.membership_begin.capacity() * sizeof(uint32_t) +
         h.memberships.capacity() * sizeof(Membership);
  }
  return b;
}

namespace {

/// Neighbour expansions from the adjacency, for the shared traversal code (traversal.h).
class MemorySource {
 public:
  using Id = uint32_t;
  struct Via {
    int kind = -1;  ///< -1: a relation edge
    uint32_t hub = 0;
  };
  struct Row {
    uint32_t src, dst;
    EdgeType type;
    Via via;
  };

  explicit MemorySource(const MemoryGraph& g) : g_(g) {}

  std::vector<Row> Expand(const std::vector<uint32_t>& frontier, const EdgeFilter& filter,
                          int hub_window, const std::unordered_set<uint32_t>& exclude, int per_node,
                          bool reverse) {
    uint16_t relation_mask = 0;
    for (auto name : filter.relation_types) {
      if (auto t = EdgeTypeFromName(name)) relation_mask |= Bit(*t);
    }
    const bool hub_on[MemoryGraph::kHubKinds] = {filter.adapted_from, filter.co_appears,
                                                 filter.same_studio};
    std::vector<Row> rows;
    for (uint32_t f : frontier) {
      cand_.clear();
      auto keep = [&](uint32_t dst) { return dst != f && !exclude.contains(dst); };
      for (const auto& e : g_.Relations(f)) {
        const uint16_t types = (reverse ? e.in_types : e.out_types) & relation_mask;
        if (types == 0 || !keep(e.other)) continue;
        cand_.push_back({e.other, std::countr_zero(types), 0, {}});
      }
      for (int kind = 0; kind < MemoryGraph::kHubKinds; ++kind) {
        if (!hub_on[kind]) continue;
        const int rank = MemoryGraph::kFirstHubRank + kind;
        for (const auto& m : g_.Memberships(kind, f)) {
          const int64_t year = g_.MemberAt(kind, m.position).year;
          const int64_t first = g_.MemberBegin(kind, m.hub);
          const int64_t last = g_.MemberBegin(kind, m.hub + 1);  // one past the hub's last
          const int64_t lo = std::max<int64_t>(first, int64_t{m.position} - hub_window);
          const int64_t hi = std::min<int64_t>(last, int64_t{m.position} + hub_window + 1);
          for (int64_t p = lo; p < hi; ++p) {
            if (p == m.position) continue;
            const auto& other = g_.MemberAt(kind, static_cast<uint32_t>(p));
            if (!keep(other.node)) continue;
            cand_.push_back({other.node, rank, std::llabs(other.year - year), {kind, m.hub}});
          }
        }
      }
      // One per neighbour: lowest rank, nearest year, smallest hub; then neighbour order.
      std::sort(cand_.begin(), cand_.end(), [](const Cand& x, const Cand& y) {
        return std::tie(x.dst, x.rank, x.dist, x.via.hub) <
               std::tie(y.dst, y.rank, y.dist, y.via.hub);
      });
      cand_.erase(std::unique(cand_.begin(), cand_.end(),
                              [](const Cand& x, const Cand& y) { return x.dst == y.dst; }),
                  cand_.end());
      std::sort(cand_.begin(), cand_.end(), [](const Cand& x, const Cand& y) {
        return std::tie(x.rank, x.dist, x.dst) < std::tie(y.rank, y.dist, y.dst);
      });
      const size_t take = std::min<size_t>(cand_.size(), static_cast<size_t>(per_node));
      for (size_t i = 0; i < take; ++i) {
        rows.push_back({f, cand_[i].dst, TypeOfRank(cand_[i].rank), cand_[i].via});
      }
    }
    return rows;
  }

  std::vector<uint32_t> Existing(const std::vector<uint32_t>& ids) const { return ids; }
  std::string Text(uint32_t id) const { return g_.Text(id); }
  std::string ViaText(const Via& via) const {
    return via.kind < 0 ? std::string() : g_.HubText(via.kind, via.hub);
  }

 private:
  struct Cand {
    uint32_t dst;
    int rank;
    int64_t dist;
    Via via;
  };
  const MemoryGraph& g_;
  std::vector<Cand> cand_;
};

}  // namespace

std::unique_ptr<MemoryGraphEngine> MemoryGraphEngine::Load(
    db::Connection& conn, GraphEngine& compare, const MemoryGraph::InSnapshot& in_snapshot) {
  std::shared_ptr<const MemoryGraph> graph = MemoryGraph::Load(conn, in_snapshot);
  return std::make_unique<MemoryGraphEngine>(std::move(graph), GraphLabels::Load(conn), compare);
}

void MemoryGraphEngine::ReloadLabels(db::Connection& conn, const LabelKeys& keys) {
  std::lock_guard lock(reload_mu_);
  labels_.store(labels_.load()->Reloaded(conn, keys));
}

NeighborsResult MemoryGraphEngine::Neighbors(const CallBudget&, const std::string& id,
                                             const EdgeFilter& filter, int limit, int hub_window) {
  auto node = graph_->Find(id);
  if (!node) return {};
  MemorySource source(*graph_);
  auto out = RunNeighbors(source, *node, filter, limit, hub_window);
  ApplyLabels(out, id, *labels_.load());
  return out;
}

KHopResult MemoryGraphEngine::KHop(const CallBudget&, const std::string& id,
                                   const EdgeFilter& filter, const AppliedLimits& limits) {
  auto node = graph_->Find(id);
  if (!node) return {};
  MemorySource source(*graph_);
  auto out = RunKHop(source, *node, filter, limits);
  ApplyLabels(out, id, *labels_.load());
  return out;
}

PathResult MemoryGraphEngine::Path(const CallBudget&, const std::string& from,
                                   const std::string& to, const EdgeFilter& filter, int max_hops,
                                   int hub_window, int node_budget) {
  auto a = graph_->Find(from);
  auto b = graph_->Find(to);
  if (!a || !b) {
    PathResult out;
    out.from_found = a.has_value();
    out.to_found = b.has_value();
    return out;
  }
  MemorySource source(*graph_);
  auto out = RunPath(source, *a, *b, filter, max_hops, hub_window, node_budget);
  ApplyLabels(out, *labels_.load());
  return out;
}

CompareResult MemoryGraphEngine::Compare(const CallBudget& budget, const std::string& a,
                                         const std::string& b) {
  return compare_.Compare(budget, a, b);
}

}  // namespace psvc::graph
