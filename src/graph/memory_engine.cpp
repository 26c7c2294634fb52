#include "graph/memory_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>

#include "db/binary_copy.h"
#include "db/connection.h"
#include "db/error.h"
#include "graph/traversal.h"

namespace psvc::graph {

namespace sql {

// The snapshot, table by table, read with binary COPY (a uuid arrives as its 16 bytes). Hub
// members come in the hub's (anime_year, anime_id) order, read from the reverse indexes, so the
// in-memory windows are the SQL windows.
inline constexpr db::Statement kSnapshotAnime{"graph.snapshot_anime", R"sql(
SELECT id FROM anime WHERE merged_into IS NULL AND hidden_at IS NULL
)sql"};
inline constexpr db::Statement kSnapshotRelations{"graph.snapshot_relations", R"sql(
SELECT anime_id, related_anime_id, relation_type FROM anime_relation
)sql"};
inline constexpr db::Statement kSnapshotWorks{"graph.snapshot_works", R"sql(
SELECT original_work_id, anime_id, anime_year FROM anime_original_work_relation
 ORDER BY original_work_id, anime_year, anime_id
)sql"};
inline constexpr db::Statement kSnapshotCharacters{"graph.snapshot_characters", R"sql(
SELECT character_id, anime_id, anime_year FROM anime_character
 ORDER BY character_id, anime_year, anime_id
)sql"};
inline constexpr db::Statement kSnapshotStudios{"graph.snapshot_studios", R"sql(
SELECT company_id, anime_id, anime_year FROM anime_company WHERE role = 'studio'
 ORDER BY company_id, anime_year, anime_id
)sql"};
// Indexed by hub kind (rank - 11): ADAPTED_FROM, CO_APPEARS, SAME_STUDIO.
inline constexpr const db::Statement* kSnapshotHubs[] = {&kSnapshotWorks, &kSnapshotCharacters,
                                                         &kSnapshotStudios};
// The snapshot's transaction, and how a second connection joins it (SET TRANSACTION SNAPSHOT
// takes the id as a literal, so it is checked before it is spliced in).
inline constexpr db::Statement kExportSnapshot{"graph.export_snapshot", R"sql(
SELECT pg_export_snapshot()
)sql"};
inline constexpr std::string_view kRepeatableRead =
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
inline constexpr std::string_view kImportSnapshot = "SET TRANSACTION SNAPSHOT ";
inline constexpr const db::Statement* kSnapshotAll[] = {&kSnapshotAnime,   &kSnapshotRelations,
                                                        &kSnapshotWorks,   &kSnapshotCharacters,
                                                        &kSnapshotStudios, &kExportSnapshot};

}  // namespace sql

namespace {

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

Uuid16 ToUuid16(std::string_view bytes) {  // bytes: a uuid field of binary COPY (16 bytes)
  Uuid16 id;
  std::memcpy(id.data(), bytes.data(), id.size());
  return id;
}

/// The node of each loaded anime id: open addressing over the sorted ids. The snapshot looks up
/// both ends of every relation row and hub membership (~0.5 M at SF1); a binary search there
/// was most of the load's CPU.
class NodeIndex {
 public:
  explicit NodeIndex(const std::vector<Uuid16>& ids) : ids_(ids) {
    size_t size = 16;
    while (size < 2 * ids.size()) size *= 2;  // load factor at most 1/2
    slots_.assign(size, 0);
    mask_ = size - 1;
    for (size_t i = 0; i < ids.size(); ++i) {
      size_t s = HashUuid16(ids[i]) & mask_;
      while (slots_[s] != 0) s = (s + 1) & mask_;
      slots_[s] = static_cast<uint32_t>(i + 1);
    }
  }
  std::optional<uint32_t> Find(const Uuid16& id) const {
    for (size_t s = HashUuid16(id) & mask_; slots_[s] != 0; s = (s + 1) & mask_) {
      const uint32_t node = slots_[s] - 1;
      if (SameUuid16(ids_[node], id)) return node;
    }
    return std::nullopt;
  }

 private:
  const std::vector<Uuid16>& ids_;
  std::vector<uint32_t> slots_;  // 1 + node, 0 = empty
  size_t mask_ = 0;
};

/// Logs how long each part of a load took (at debug level), so a slow start can be explained.
class PhaseTimer {
 public:
  void Done(std::string_view phase, size_t rows) {
    const auto now = std::chrono::steady_clock::now();
    spdlog::debug("graph: {} took {:.1f} ms ({} rows)", phase,
                  std::chrono::duration<double, std::milli>(now - last_).count(), rows);
    last_ = now;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace

db::StatementList MemoryGraph::Statements() { return sql::kSnapshotAll; }

std::unique_ptr<const MemoryGraph> MemoryGraph::Load(db::Connection& conn,
                                                     const InSnapshot& in_snapshot) {
  db::Transaction tx(conn, db::Transaction::Mode::kReadOnly);
  // One snapshot for every table: a relation and its anime are read as of the same moment.
  conn.Exec(sql::kRepeatableRead);
  if (in_snapshot) in_snapshot(conn);
  auto g = Read(conn);
  tx.Commit();
  return g;
}

std::unique_ptr<const MemoryGraph> MemoryGraph::Read(db::Connection& conn) {
  auto g = std::make_unique<MemoryGraph>();
  PhaseTimer timer;
  db::CopyRows(conn, sql::kSnapshotAnime.sql,
               [&](const db::BinaryRow& row) { g->ids_.push_back(ToUuid16(row.Uuid(0))); });
  std::sort(g->ids_.begin(), g->ids_.end());  // sorted here: the server's sort costs more
  g->ids_.shrink_to_fit();
  const auto n = static_cast<uint32_t>(g->ids_.size());
  const NodeIndex nodes(g->ids_);
  auto find = [&](std::string_view bytes) { return nodes.Find(ToUuid16(bytes)); };
  timer.Done("anime", n);

  // Relations: each row is an edge from both ends (docs/graph.md); rows touching anime not in
  // the graph are dropped.
  struct Half {
    uint32_t node, other;
    uint16_t out, in;
  };
  std::vector<Half> halves;
  db::CopyRows(conn, sql::kSnapshotRelations.sql, [&](const db::BinaryRow& row) {
    auto a = find(row.Uuid(0));
    auto b = find(row.Uuid(1));
    auto t = EdgeTypeFromName(row.Text(2));
    if (!a || !b || !t || !IsRelation(*t)) return;
    const uint16_t fwd = Bit(*t), inv = Bit(Inverse(*t));
    halves.push_back({*a, *b, fwd, inv});
    halves.push_back({*b, *a, inv, fwd});
  });
  std::sort(halves.begin(), halves.end(), [](const Half& x, const Half& y) {
    return std::tie(x.node, x.other) < std::tie(y.node, y.other);
  });
  g->relation_begin_.assign(n + 1, 0);
  g->relations_.reserve(halves.size());
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
  g->relations_.shrink_to_fit();
  timer.Done("relations", halves.size() / 2);
  halves = {};

  static constexpr std::string_view kHubPhase[] = {"original work hubs", "character hubs",
                                                   "studio hubs"};
  for (int kind = 0; kind < kHubKinds; ++kind) {
    HubIndex& h = g->hubs_[kind];
    std::vector<uint32_t> per_node(n + 1, 0);
    db::CopyRows(conn, sql::kSnapshotHubs[kind]->sql, [&](const db::BinaryRow& row) {
      auto node = find(row.Uuid(1));
      if (!node) return;  // not in the graph: takes no place in the window
      const Uuid16 hub = ToUuid16(row.Uuid(0));
      if (h.ids.empty() || !SameUuid16(h.ids.back(), hub)) {
        h.ids.push_back(hub);
        h.member_begin.push_back(static_cast<uint32_t>(h.members.size()));
      }
      h.members.push_back({*node, row.Int32(2)});
      ++per_node[*node + 1];
    });
    h.member_begin.push_back(static_cast<uint32_t>(h.members.size()));
    h.ids.shrink_to_fit();
    h.member_begin.shrink_to_fit();
    h.members.shrink_to_fit();
    for (uint32_t i = 0; i < n; ++i) per_node[i + 1] += per_node[i];
    h.membership_begin = per_node;
    h.memberships.resize(h.members.size());
    for (uint32_t hub = 0; hub + 1 < h.member_begin.size(); ++hub) {
      for (uint32_t p = h.member_begin[hub]; p < h.member_begin[hub + 1]; ++p) {
        h.memberships[per_node[h.members[p].node]++] = {hub, p};
      }
    }
    timer.Done(kHubPhase[kind], h.members.size());
  }
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

/// The relation types a filter lets through, as bits over EdgeType values.
uint16_t RelationMask(const EdgeFilter& filter) {
  uint16_t mask = 0;
  for (auto name : filter.relation_types) {
    if (auto t = EdgeTypeFromName(name)) mask |= Bit(*t);
  }
  return mask;
}

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
    const uint16_t relation_mask = MaskOf(filter);
    const bool hub_on[MemoryGraph::kHubKinds] = {filter.adapted_from, filter.co_appears,
                                                 filter.same_studio};
    std::vector<Row> rows;
    rows.reserve(frontier.size() * static_cast<size_t>(std::min(per_node, 64)));
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
      KeepBestPerNeighbour();
      // Only the first `per_node` of the neighbour order are kept: order just those.
      const size_t take = std::min<size_t>(cand_.size(), static_cast<size_t>(per_node));
      std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(take),
                        cand_.end(), [](const Cand& x, const Cand& y) {
                          return std::tie(x.rank, x.dist, x.dst) < std::tie(y.rank, y.dist, y.dst);
                        });
      for (size_t i = 0; i < take; ++i) {
        rows.push_back({f, cand_[i].dst, TypeOfRank(cand_[i].rank), cand_[i].via});
      }
    }
    return rows;
  }

  bool AnyNew(const std::vector<uint32_t>& frontier, const EdgeFilter& filter, int hub_window,
              const std::unordered_set<uint32_t>& exclude) {
    const uint16_t relation_mask = MaskOf(filter);
    const bool hub_on[MemoryGraph::kHubKinds] = {filter.adapted_from, filter.co_appears,
                                                 filter.same_studio};
    for (uint32_t f : frontier) {
      auto fresh = [&](uint32_t dst) { return dst != f && !exclude.contains(dst); };
      for (const auto& e : g_.Relations(f)) {
        if ((e.out_types & relation_mask) != 0 && fresh(e.other)) return true;
      }
      for (int kind = 0; kind < MemoryGraph::kHubKinds; ++kind) {
        if (!hub_on[kind]) continue;
        for (const auto& m : g_.Memberships(kind, f)) {
          const int64_t first = g_.MemberBegin(kind, m.hub);
          const int64_t last = g_.MemberBegin(kind, m.hub + 1);
          const int64_t lo = std::max<int64_t>(first, int64_t{m.position} - hub_window);
          const int64_t hi = std::min<int64_t>(last, int64_t{m.position} + hub_window + 1);
          for (int64_t p = lo; p < hi; ++p) {
            if (p != m.position && fresh(g_.MemberAt(kind, static_cast<uint32_t>(p)).node)) {
              return true;
            }
          }
        }
      }
    }
    return false;
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
  /// One candidate per neighbour: the lowest rank, then nearest year, then smallest hub (the
  /// rule of docs/graph.md), found with a small hash table over the neighbours rather than by
  /// sorting every candidate; the kept ones stay in cand_ in no particular order.
  void KeepBestPerNeighbour() {
    int bits = 4;
    while ((size_t{1} << bits) < 2 * cand_.size()) ++bits;
    slots_.assign(size_t{1} << bits, 0);
    const size_t mask = slots_.size() - 1;
    size_t kept = 0;
    for (size_t i = 0; i < cand_.size(); ++i) {
      const Cand c = cand_[i];
      for (size_t s = (uint64_t{c.dst} * 0x9E3779B97F4A7C15ull) >> (64 - bits);;
           s = (s + 1) & mask) {
        if (slots_[s] == 0) {
          cand_[kept] = c;  // kept <= i: that place was read already
          slots_[s] = static_cast<uint32_t>(++kept);
          break;
        }
        Cand& have = cand_[slots_[s] - 1];
        if (have.dst != c.dst) continue;
        if (std::tie(c.rank, c.dist, c.via.hub) < std::tie(have.rank, have.dist, have.via.hub)) {
          have = c;
        }
        break;
      }
    }
    cand_.resize(kept);
  }

  /// The filter's relation types as bits, computed once per call (the traversal passes the
  /// same filter to every expansion).
  uint16_t MaskOf(const EdgeFilter& filter) {
    if (mask_of_ != &filter) {
      mask_ = RelationMask(filter);
      mask_of_ = &filter;
    }
    return mask_;
  }

  const MemoryGraph& g_;
  std::vector<Cand> cand_;
  std::vector<uint32_t> slots_;  // KeepBestPerNeighbour's table: 1 + index into cand_
  const EdgeFilter* mask_of_ = nullptr;
  uint16_t mask_ = 0;
};

}  // namespace

std::unique_ptr<MemoryGraphEngine> MemoryGraphEngine::Load(
    db::Connection& conn, GraphEngine& compare, const MemoryGraph::InSnapshot& in_snapshot) {
  db::Transaction tx(conn, db::Transaction::Mode::kReadOnly);
  conn.Exec(sql::kRepeatableRead);
  if (in_snapshot) in_snapshot(conn);
  std::shared_ptr<const MemoryGraph> graph = MemoryGraph::Read(conn);
  auto labels = GraphLabels::Read(conn);
  tx.Commit();
  return std::make_unique<MemoryGraphEngine>(std::move(graph), std::move(labels), compare);
}

std::unique_ptr<MemoryGraphEngine> MemoryGraphEngine::Load(
    const std::string& url, GraphEngine& compare, const MemoryGraph::InSnapshot& in_snapshot) {
  auto conn = db::Connection::Open(url);
  db::Transaction tx(conn, db::Transaction::Mode::kReadOnly);
  conn.Exec(sql::kRepeatableRead);
  if (in_snapshot) in_snapshot(conn);
  auto exported = conn.Execute(sql::kExportSnapshot);
  const std::string snapshot(exported.Get(0, 0));
  if (snapshot.empty() ||
      snapshot.find_first_not_of("0123456789ABCDEFabcdef-") != std::string::npos) {
    throw db::DbError(db::ErrorKind::kInternal, "snapshot: unexpected snapshot id");
  }
  // The labels on a second connection that imports this transaction's snapshot, while this one
  // reads the graph: both see the same moment, and the two halves load in parallel. Declared
  // after `tx`, so even when the graph fails this transaction (which the import needs) outlives
  // the other thread.
  auto labels = std::async(std::launch::async, [&url, &snapshot] {
    auto helper = db::Connection::Open(url);
    db::Transaction helper_tx(helper, db::Transaction::Mode::kReadOnly);
    helper.Exec(sql::kRepeatableRead);
    helper.Exec(std::string(sql::kImportSnapshot) + "'" + snapshot + "'");
    auto read = GraphLabels::Read(helper);
    helper_tx.Commit();
    return read;
  });
  std::shared_ptr<const MemoryGraph> graph = MemoryGraph::Read(conn);
  auto read_labels = labels.get();
  tx.Commit();
  return std::make_unique<MemoryGraphEngine>(std::move(graph), std::move(read_labels), compare);
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
