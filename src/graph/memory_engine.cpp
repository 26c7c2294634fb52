#include "graph/memory_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <shared_mutex>
#include <string>

#include "db/array_literal.h"
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

// A patch: the same data as the snapshot, for some anime only (docs/graph.md, "Freshness").
//  $1 uuid[] -> id of those visible
inline constexpr db::Statement kPatchAnime{"graph.patch_anime", R"sql(
SELECT id::text FROM anime
 WHERE id = ANY($1::uuid[]) AND merged_into IS NULL AND hidden_at IS NULL
)sql"};
// Rows with either end among the anime, each once (UNION: a row between two of them matches
// both halves), through the primary key and the reverse index.
//  $1 uuid[] -> anime_id, related_anime_id, relation_type
inline constexpr db::Statement kPatchRelations{"graph.patch_relations", R"sql(
SELECT anime_id::text, related_anime_id::text, relation_type FROM anime_relation
 WHERE anime_id = ANY($1::uuid[])
UNION
SELECT anime_id::text, related_anime_id::text, relation_type FROM anime_relation
 WHERE related_anime_id = ANY($1::uuid[])
)sql"};
// Every hub membership of the anime, with the hub kind (MemoryGraph's numbering).
//  $1 uuid[] -> kind, hub id, anime_id, anime_year
inline constexpr db::Statement kPatchHubs{"graph.patch_hubs", R"sql(
SELECT 0, original_work_id::text, anime_id::text, anime_year FROM anime_original_work_relation
 WHERE anime_id = ANY($1::uuid[])
UNION ALL
SELECT 1, character_id::text, anime_id::text, anime_year FROM anime_character
 WHERE anime_id = ANY($1::uuid[])
UNION ALL
SELECT 2, company_id::text, anime_id::text, anime_year FROM anime_company
 WHERE anime_id = ANY($1::uuid[]) AND role = 'studio'
)sql"};
// The snapshot's transaction, and how a second connection joins it (SET TRANSACTION SNAPSHOT
// takes the id as a literal, so it is checked before it is spliced in).
inline constexpr db::Statement kExportSnapshot{"graph.export_snapshot", R"sql(
SELECT pg_export_snapshot()
)sql"};
inline constexpr std::string_view kRepeatableRead =
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
inline constexpr std::string_view kImportSnapshot = "SET TRANSACTION SNAPSHOT ";
inline constexpr const db::Statement* kSnapshotAll[] = {
    &kSnapshotAnime, &kSnapshotRelations, &kSnapshotWorks, &kSnapshotCharacters, &kSnapshotStudios,
    &kPatchAnime,    &kPatchRelations,    &kPatchHubs,     &kExportSnapshot};

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

/// The node of each loaded anime id: open addressing over the sorted ids. The snapshot looks up
/// both ends of every relation row and hub membership (~0.5 M at SF1); a binary search there
/// was most of the load's CPU.
class NodeIndex {
 public:
  explicit NodeIndex(const std::vector<Uuid16>& ids) : ids_(ids), slots_(IndexUuid16s(ids)) {}
  std::optional<uint32_t> Find(const Uuid16& id) const { return FindUuid16(slots_, ids_, id); }

 private:
  const std::vector<Uuid16>& ids_;
  std::vector<uint32_t> slots_;  // 1 + node, 0 = empty
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

size_t MemoryGraph::UuidHash::operator()(const Uuid16& u) const noexcept {
  // Generated and hand-written ids share long prefixes: mix both halves.
  uint64_t hi = 0, lo = 0;
  std::memcpy(&hi, u.data(), 8);
  std::memcpy(&lo, u.data() + 8, 8);
  return static_cast<size_t>((hi * 0x9E3779B97F4A7C15ull) ^ lo ^ (lo >> 29));
}

std::optional<uint32_t> MemoryGraph::FindAny(const Uuid16& id) const {
  auto it = numbers_.find(id);
  if (it == numbers_.end()) return std::nullopt;
  return it->second;
}

uint32_t MemoryGraph::AddNode(const Uuid16& id) {
  if (auto n = FindAny(id)) {
    if (!visible_[*n]) {
      visible_[*n] = 1;
      ++visible_count_;
    }
    return *n;
  }
  const auto n = static_cast<uint32_t>(ids_.size());
  ids_.push_back(id);
  visible_.push_back(1);
  ++visible_count_;
  numbers_.emplace(id, n);
  relations_.emplace_back();
  for (auto& h : hubs_) h.memberships.emplace_back();
  return n;
}

void MemoryGraph::AddRelationHalf(uint32_t node, uint32_t other, uint16_t out, uint16_t in) {
  auto& edges = relations_[node];
  for (auto& e : edges) {
    if (e.other == other) {
      e.out_types |= out;
      e.in_types |= in;
      return;
    }
  }
  edges.push_back({other, out, in});
}

std::unique_ptr<MemoryGraph> MemoryGraph::Read(db::Connection& conn) {
  auto g = std::make_unique<MemoryGraph>();
  PhaseTimer timer;
  db::CopyRows(conn, sql::kSnapshotAnime.sql,
               [&](const db::BinaryRow& row) { g->ids_.push_back(ToUuid16(row.Uuid(0))); });
  // The snapshot's nodes are numbered in id order (sorted here: the server's sort costs more).
  std::sort(g->ids_.begin(), g->ids_.end());
  const auto n = static_cast<uint32_t>(g->ids_.size());
  g->visible_.assign(n, 1);
  g->visible_count_ = n;
  g->numbers_.reserve(n);
  for (uint32_t i = 0; i < n; ++i) g->numbers_.emplace(g->ids_[i], i);
  g->relations_.resize(n);
  for (auto& h : g->hubs_) h.memberships.resize(n);
  // The build's look-ups go through an open-addressing index over the sorted ids (cheaper than
  // numbers_, which patches need because they add nodes).
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
  for (size_t i = 0; i < halves.size();) {
    size_t j = i;
    while (j < halves.size() && halves[j].node == halves[i].node) ++j;
    auto& edges = g->relations_[halves[i].node];
    edges.reserve(j - i);
    for (; i < j; ++i) {
      const Half& h = halves[i];
      if (!edges.empty() && edges.back().other == h.other) {
        edges.back().out_types |= h.out;
        edges.back().in_types |= h.in;
      } else {
        edges.push_back({h.other, h.out, h.in});
      }
    }
  }
  timer.Done("relations", halves.size() / 2);
  halves = {};

  static constexpr std::string_view kHubPhase[] = {"original work hubs", "character hubs",
                                                   "studio hubs"};
  for (int kind = 0; kind < kHubKinds; ++kind) {
    HubIndex& h = g->hubs_[kind];
    size_t rows = 0;
    db::CopyRows(conn, sql::kSnapshotHubs[kind]->sql, [&](const db::BinaryRow& row) {
      auto node = find(row.Uuid(1));
      if (!node) return;  // not in the graph: takes no place in the window
      const Uuid16 hub = ToUuid16(row.Uuid(0));
      if (h.ids.empty() || !SameUuid16(h.ids.back(), hub)) {
        h.numbers.emplace(hub, static_cast<uint32_t>(h.ids.size()));
        h.ids.push_back(hub);
        h.members.emplace_back();
      }
      const auto hub_number = static_cast<uint32_t>(h.ids.size() - 1);
      auto& members = h.members.back();
      h.memberships[*node].push_back({hub_number, static_cast<uint32_t>(members.size())});
      members.push_back({*node, row.Int32(2)});
      ++rows;
    });
    for (auto& m : h.members) m.shrink_to_fit();
    for (auto& m : h.memberships) m.shrink_to_fit();
    timer.Done(kHubPhase[kind], rows);
  }
  return g;
}

MemoryGraph::Patch MemoryGraph::ReadPatch(db::Connection& conn,
                                          const std::vector<std::string>& anime) {
  Patch p;
  std::vector<std::string> ids;
  for (const auto& text : anime) {
    if (auto u = ParseUuid16(text)) {
      p.anime.push_back(*u);
      ids.push_back(FormatUuid16(*u));
    }
  }
  if (ids.empty()) return p;
  const std::string array = db::ArrayLiteral(ids);
  auto require = [](std::string_view text) {
    auto u = ParseUuid16(text);
    if (!u) throw db::DbError(db::ErrorKind::kInternal, "patch: bad id");
    return *u;
  };
  auto res = conn.Execute(sql::kPatchAnime, {array});
  for (int r = 0; r < res.rows(); ++r) p.visible.push_back(require(res.Get(r, 0)));
  res = conn.Execute(sql::kPatchRelations, {array});
  for (int r = 0; r < res.rows(); ++r) {
    auto t = EdgeTypeFromName(res.Get(r, 2));
    if (!t || !IsRelation(*t)) continue;
    p.relations.push_back({require(res.Get(r, 0)), require(res.Get(r, 1)), *t});
  }
  res = conn.Execute(sql::kPatchHubs, {array});
  for (int r = 0; r < res.rows(); ++r) {
    p.hub_rows.push_back({static_cast<int>(res.GetInt64(r, 0)), require(res.Get(r, 1)),
                          require(res.Get(r, 2)), static_cast<int32_t>(res.GetInt64(r, 3))});
  }
  return p;
}

void MemoryGraph::Renumber(int kind, uint32_t hub, size_t from) {
  HubIndex& h = hubs_[kind];
  const auto& members = h.members[hub];
  for (size_t p = from; p < members.size(); ++p) {
    // An anime is in a hub at most once (the hub tables' primary keys).
    for (auto& m : h.memberships[members[p].node]) {
      if (m.hub == hub) {
        m.position = static_cast<uint32_t>(p);
        break;
      }
    }
  }
}

void MemoryGraph::Detach(uint32_t node) {
  for (const auto& e : relations_[node]) {
    if (e.other == node) continue;
    auto& back = relations_[e.other];
    back.erase(std::remove_if(back.begin(), back.end(),
                              [&](const RelationEdge& x) { return x.other == node; }),
               back.end());
  }
  relations_[node].clear();
  for (int kind = 0; kind < kHubKinds; ++kind) {
    HubIndex& h = hubs_[kind];
    // Copied: Renumber rewrites memberships, and this node's own list is cleared below.
    const auto mine = h.memberships[node];
    h.memberships[node].clear();
    for (const auto& m : mine) {
      auto& members = h.members[m.hub];
      auto it = std::find_if(members.begin(), members.end(),
                             [&](const Member& x) { return x.node == node; });
      if (it == members.end()) continue;
      const auto at = static_cast<size_t>(it - members.begin());
      members.erase(it);
      Renumber(kind, m.hub, at);
    }
  }
}

void MemoryGraph::InsertMember(int kind, const Uuid16& hub, uint32_t node, int32_t year) {
  HubIndex& h = hubs_[kind];
  auto [it, added] = h.numbers.try_emplace(hub, static_cast<uint32_t>(h.ids.size()));
  if (added) {
    h.ids.push_back(hub);
    h.members.emplace_back();
  }
  const uint32_t hub_number = it->second;
  auto& members = h.members[hub_number];
  // The hub's (anime_year, anime_id) order, as the snapshot reads it.
  auto at = std::lower_bound(members.begin(), members.end(), std::make_pair(year, node),
                             [&](const Member& m, const std::pair<int32_t, uint32_t>& key) {
                               if (m.year != key.first) return m.year < key.first;
                               return ids_[m.node] < ids_[key.second];
                             });
  const auto position = static_cast<size_t>(at - members.begin());
  members.insert(at, {node, year});
  h.memberships[node].push_back({hub_number, static_cast<uint32_t>(position)});
  Renumber(kind, hub_number, position + 1);
}

void MemoryGraph::Apply(const Patch& patch) {
  // 1. Everything the graph holds about the patch's anime goes...
  for (const auto& id : patch.anime) {
    auto n = FindAny(id);
    if (!n || !visible_[*n]) continue;
    Detach(*n);
    visible_[*n] = 0;
    --visible_count_;
  }
  // 2. ...and comes back as the database holds it: the visible ones (new anime get the next
  // numbers, restored ones their old number), their relation rows with both ends in the graph,
  // their hub places.
  for (const auto& id : patch.visible) AddNode(id);
  auto visible_node = [&](const Uuid16& id) -> std::optional<uint32_t> {
    auto n = FindAny(id);
    if (!n || !visible_[*n]) return std::nullopt;
    return n;
  };
  for (const auto& r : patch.relations) {
    auto a = visible_node(r.a);
    auto b = visible_node(r.b);
    if (!a || !b) continue;
    const uint16_t fwd = Bit(r.type), inv = Bit(Inverse(r.type));
    AddRelationHalf(*a, *b, fwd, inv);
    AddRelationHalf(*b, *a, inv, fwd);
  }
  for (const auto& row : patch.hub_rows) {
    if (row.kind < 0 || row.kind >= kHubKinds) continue;
    auto n = visible_node(row.anime);
    if (!n) continue;
    InsertMember(row.kind, row.hub, *n, row.year);
  }
}

std::optional<uint32_t> MemoryGraph::Find(std::string_view uuid) const {
  auto u = ParseUuid16(uuid);
  if (!u) return std::nullopt;
  auto n = FindAny(*u);
  if (!n || !visible_[*n]) return std::nullopt;
  return n;
}

std::string MemoryGraph::Text(uint32_t node) const { return FormatUuid16(ids_[node]); }

std::string MemoryGraph::HubText(int kind, uint32_t hub) const {
  return FormatUuid16(hubs_[kind].ids[hub]);
}

size_t MemoryGraph::bytes() const {
  // Vector headers and heap blocks, and about 32 bytes per hash-index entry (node, bucket).
  constexpr size_t kIndexEntry = 32;
  size_t b = ids_.capacity() * sizeof(Uuid16) + visible_.capacity() +
             numbers_.size() * kIndexEntry + relations_.capacity() * sizeof(relations_[0]);
  for (const auto& e : relations_) b += e.capacity() * sizeof(RelationEdge);
  for (const auto& h : hubs_) {
    b += h.ids.capacity() * sizeof(Uuid16) + h.numbers.size() * kIndexEntry +
         h.members.capacity() * sizeof(h.members[0]) +
         h.memberships.capacity() * sizeof(h.memberships[0]);
    for (const auto& m : h.members) b += m.capacity() * sizeof(Member);
    for (const auto& m : h.memberships) b += m.capacity() * sizeof(Membership);
  }
  return b;
}

std::string MemoryGraph::CanonicalText() const {
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < ids_.size(); ++i) {
    if (visible_[i]) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return ids_[a] < ids_[b]; });
  std::string out;
  for (uint32_t node : order) {
    out += "anime " + Text(node) + "\n";
    auto edges = relations_[node];
    std::sort(edges.begin(), edges.end(), [&](const RelationEdge& a, const RelationEdge& b) {
      return ids_[a.other] < ids_[b.other];
    });
    for (const auto& e : edges) {
      out += "  " + Text(e.other) + " " + std::to_string(e.out_types) + " " +
             std::to_string(e.in_types) + "\n";
    }
  }
  for (int kind = 0; kind < kHubKinds; ++kind) {
    const HubIndex& h = hubs_[kind];
    std::vector<uint32_t> hubs;
    for (uint32_t i = 0; i < h.ids.size(); ++i) {
      if (!h.members[i].empty()) hubs.push_back(i);
    }
    std::sort(hubs.begin(), hubs.end(),
              [&](uint32_t a, uint32_t b) { return h.ids[a] < h.ids[b]; });
    for (uint32_t hub : hubs) {
      out += "hub " + std::to_string(kind) + " " + HubText(kind, hub) + "\n";
      for (size_t p = 0; p < h.members[hub].size(); ++p) {
        const Member& m = h.members[hub][p];
        // A member's recorded place must be where it is.
        bool placed = false;
        for (const auto& ms : h.memberships[m.node])
          placed = placed || (ms.hub == hub && ms.position == p);
        out += "  " + Text(m.node) + " " + std::to_string(m.year) + (placed ? "" : " MISPLACED") +
               "\n";
      }
    }
    for (uint32_t node : order) {
      if (h.memberships[node].size() > 0) {
        out += "places " + std::to_string(kind) + " " + Text(node) + " " +
               std::to_string(h.memberships[node].size()) + "\n";
      }
    }
  }
  return out;
}

WriterPreferringLock::WriterPreferringLock() {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&lock_, &attr);
  pthread_rwlockattr_destroy(&attr);
}
WriterPreferringLock::~WriterPreferringLock() { pthread_rwlock_destroy(&lock_); }
void WriterPreferringLock::lock() { pthread_rwlock_wrlock(&lock_); }
void WriterPreferringLock::unlock() { pthread_rwlock_unlock(&lock_); }
void WriterPreferringLock::lock_shared() { pthread_rwlock_rdlock(&lock_); }
void WriterPreferringLock::unlock_shared() { pthread_rwlock_unlock(&lock_); }

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

  /// A source for one call, whose every expansion uses `filter`.
  MemorySource(const MemoryGraph& g, const EdgeFilter& filter)
      : g_(g),
        relation_mask_(RelationMask(filter)),
        hub_on_{filter.adapted_from, filter.co_appears, filter.same_studio} {}

  /// The rows, in a buffer of this source reused by the next Expand (one allocation per call
  /// rather than one per expanded node).
  const std::vector<Row>& Expand(const std::vector<uint32_t>& frontier, const EdgeFilter&,
                                 int hub_window, const std::unordered_set<uint32_t>& exclude,
                                 int per_node, bool reverse) {
    std::vector<Row>& rows = rows_;
    rows.clear();
    for (uint32_t f : frontier) {
      cand_.clear();
      PrefetchHubWindows(f);
      ForEachNeighbour(f, hub_window, exclude, reverse, [&](const Cand& c) {
        cand_.push_back(c);
        return false;
      });
      KeepBestPerNeighbour();
      // Only the first `per_node` of the neighbour order are kept: order just those. Ties go
      // by id, not node number (anime added after the snapshot are numbered after it).
      const size_t take = std::min<size_t>(cand_.size(), static_cast<size_t>(per_node));
      std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(take),
                        cand_.end(), [&](const Cand& x, const Cand& y) {
                          if (x.rank != y.rank) return x.rank < y.rank;
                          if (x.dist != y.dist) return x.dist < y.dist;
                          return Less(x.dst, y.dst);
                        });
      for (size_t i = 0; i < take; ++i) {
        rows.push_back({f, cand_[i].dst, TypeOfRank(cand_[i].rank), cand_[i].via});
      }
    }
    return rows;
  }

  /// A node's hub windows are two dependent cache misses each (the hub's member list, then the
  /// members around the node's place): both levels are requested for every membership before
  /// the windows are read, so the misses overlap instead of following one another.
  void PrefetchHubWindows(uint32_t node) const {
    for (int kind = 0; kind < MemoryGraph::kHubKinds; ++kind) {
      if (!hub_on_[kind]) continue;
      for (const auto& m : g_.Memberships(kind, node)) __builtin_prefetch(&g_.Members(kind, m.hub));
    }
    for (int kind = 0; kind < MemoryGraph::kHubKinds; ++kind) {
      if (!hub_on_[kind]) continue;
      for (const auto& m : g_.Memberships(kind, node)) {
        __builtin_prefetch(g_.Members(kind, m.hub).data() + m.position);
      }
    }
  }

  bool AnyNew(const std::vector<uint32_t>& frontier, const EdgeFilter&, int hub_window,
              const std::unordered_set<uint32_t>& exclude) {
    for (uint32_t f : frontier) {
      if (ForEachNeighbour(f, hub_window, exclude, false, [](const Cand&) { return true; })) {
        return true;
      }
    }
    return false;
  }

  std::vector<uint32_t> Existing(const std::vector<uint32_t>& ids) const { return ids; }
  bool Less(uint32_t a, uint32_t b) const { return a != b && g_.Id(a) < g_.Id(b); }
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
  /// Calls `fn` with every neighbour of `f` the filter admits that is neither `f` nor in
  /// `exclude` (relations, then the hub windows: one candidate per edge, duplicates included)
  /// until it returns true; whether it did. Expand and AnyNew share it, so k_hop's truncation
  /// check sees exactly the neighbours an expansion would.
  template <typename Fn>
  bool ForEachNeighbour(uint32_t f, int hub_window, const std::unordered_set<uint32_t>& exclude,
                        bool reverse, Fn&& fn) const {
    auto keep = [&](uint32_t dst) { return dst != f && !exclude.contains(dst); };
    for (const auto& e : g_.Relations(f)) {
      const uint16_t types = (reverse ? e.in_types : e.out_types) & relation_mask_;
      if (types == 0 || !keep(e.other)) continue;
      if (fn(Cand{e.other, std::countr_zero(types), 0, {}})) return true;
    }
    for (int kind = 0; kind < MemoryGraph::kHubKinds; ++kind) {
      if (!hub_on_[kind]) continue;
      const int rank = MemoryGraph::kFirstHubRank + kind;
      for (const auto& m : g_.Memberships(kind, f)) {
        const auto& members = g_.Members(kind, m.hub);
        const int64_t year = members[m.position].year;
        const int64_t lo = std::max<int64_t>(0, int64_t{m.position} - hub_window);
        const int64_t hi = std::min<int64_t>(static_cast<int64_t>(members.size()),
                                             int64_t{m.position} + hub_window + 1);
        for (int64_t p = lo; p < hi; ++p) {
          if (p == m.position) continue;
          const auto& other = members[static_cast<size_t>(p)];
          if (!keep(other.node)) continue;
          if (fn(Cand{other.node, rank, std::llabs(other.year - year), {kind, m.hub}})) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /// Whether `c` beats `have` for the same neighbour: lower rank, then nearer year, then the
  /// smaller hub id (ids, not hub numbers: hubs that appeared after the snapshot are numbered
  /// after it). The same rank means the same hub kind.
  bool Better(const Cand& c, const Cand& have) const {
    if (c.rank != have.rank) return c.rank < have.rank;
    if (c.dist != have.dist) return c.dist < have.dist;
    if (c.via.kind < 0 || c.via.hub == have.via.hub) return false;
    return g_.HubId(c.via.kind, c.via.hub) < g_.HubId(have.via.kind, have.via.hub);
  }
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
        if (Better(c, have)) have = c;
        break;
      }
    }
    cand_.resize(kept);
  }

  const MemoryGraph& g_;
  std::vector<Row> rows_;  // Expand's answer
  std::vector<Cand> cand_;
  std::vector<uint32_t> slots_;                // KeepBestPerNeighbour's table: 1 + index into cand_
  const uint16_t relation_mask_;               // the filter's relation types as bits
  const bool hub_on_[MemoryGraph::kHubKinds];  // the filter's hub kinds
};

}  // namespace

std::unique_ptr<MemoryGraphEngine> MemoryGraphEngine::Load(
    db::Connection& conn, GraphEngine& compare, const MemoryGraph::InSnapshot& in_snapshot) {
  db::Transaction tx(conn, db::Transaction::Mode::kReadOnly);
  conn.Exec(sql::kRepeatableRead);
  if (in_snapshot) in_snapshot(conn);
  auto graph = MemoryGraph::Read(conn);
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
  auto graph = MemoryGraph::Read(conn);
  auto read_labels = labels.get();
  tx.Commit();
  return std::make_unique<MemoryGraphEngine>(std::move(graph), std::move(read_labels), compare);
}

namespace {

/// Whether `labels` already hold, for every key, what `fresh` (read from the database) says:
/// then a patch needs no new copy of them (most graph writes change no title or name).
bool LabelsHold(const GraphLabels& labels, const FetchedLabels& fresh, const LabelKeys& keys) {
  for (const auto& id : keys.anime) {
    if (!(labels.Anime(id) == fresh.Anime(id))) return false;
  }
  for (int kind = 0; kind < kHubKindCount; ++kind) {
    for (const auto& id : keys.hubs[static_cast<size_t>(kind)]) {
      const auto k = static_cast<HubKind>(kind);
      if (labels.HubName(k, id) != fresh.HubName(k, id)) return false;
    }
  }
  return true;
}

}  // namespace

void MemoryGraphEngine::ApplyChanges(db::Connection& conn, const std::vector<std::string>& anime) {
  std::lock_guard one_at_a_time(reload_mu_);
  MemoryGraph::Patch patch;
  std::shared_ptr<const GraphLabels> labels;  // null: the current ones hold
  {
    // Graph data and labels from one snapshot; no lock held while the database answers.
    db::Transaction tx(conn, db::Transaction::Mode::kReadOnly);
    conn.Exec(sql::kRepeatableRead);
    patch = MemoryGraph::ReadPatch(conn, anime);
    LabelKeys keys;
    for (const auto& id : patch.anime) keys.anime.push_back(FormatUuid16(id));
    for (const auto& row : patch.hub_rows) {
      keys.hubs[static_cast<size_t>(row.kind)].push_back(FormatUuid16(row.hub));
    }
    if (!keys.empty()) {
      // Copying every label costs milliseconds at SF1: only when one of them changed.
      FetchedLabels fresh;
      auto arrays = FetchedLabels::Arrays(keys);
      auto res = conn.Execute(sql::kLabels, {arrays[0], arrays[1], arrays[2], arrays[3]});
      for (int r = 0; r < res.rows(); ++r) {
        fresh.AddRow(res.Get(r, 0), res.Get(r, 1), res.Get(r, 2),
                     res.IsNull(r, 3) ? std::string_view() : res.Get(r, 3),
                     static_cast<int>(res.GetInt64(r, 4)));
      }
      if (!LabelsHold(*labels_.load(), fresh, keys)) labels = labels_.load()->Reloaded(conn, keys);
    }
    tx.Commit();
  }
  std::unique_lock write(graph_lock_);
  graph_->Apply(patch);
  if (labels) labels_.store(std::move(labels));
}

void MemoryGraphEngine::ReloadLabels(db::Connection& conn, const LabelKeys& keys) {
  std::lock_guard lock(reload_mu_);
  labels_.store(labels_.load()->Reloaded(conn, keys));
}

size_t MemoryGraphEngine::nodes() const {
  std::shared_lock read(graph_lock_);
  return graph_->nodes();
}

size_t MemoryGraphEngine::bytes() const {
  std::shared_lock read(graph_lock_);
  return graph_->bytes();
}

std::string MemoryGraphEngine::CanonicalText() const {
  std::shared_lock read(graph_lock_);
  return graph_->CanonicalText();
}

NeighborsResult MemoryGraphEngine::Neighbors(const CallBudget&, const std::string& id,
                                             const EdgeFilter& filter, int limit, int hub_window) {
  NeighborsResult out;
  std::shared_ptr<const GraphLabels> labels;
  {
    std::shared_lock read(graph_lock_);  // the traversal sees one version of the graph
    auto node = graph_->Find(id);
    if (!node) return {};
    MemorySource source(*graph_, filter);
    out = RunNeighbors(source, *node, filter, limit, hub_window);
    labels = labels_.load();
  }
  ApplyLabels(out, id, *labels);
  return out;
}

KHopResult MemoryGraphEngine::KHop(const CallBudget&, const std::string& id,
                                   const EdgeFilter& filter, const AppliedLimits& limits) {
  KHopResult out;
  std::shared_ptr<const GraphLabels> labels;
  {
    std::shared_lock read(graph_lock_);
    auto node = graph_->Find(id);
    if (!node) return {};
    MemorySource source(*graph_, filter);
    out = RunKHop(source, *node, filter, limits);
    labels = labels_.load();
  }
  ApplyLabels(out, id, *labels);
  return out;
}

PathResult MemoryGraphEngine::Path(const CallBudget&, const std::string& from,
                                   const std::string& to, const EdgeFilter& filter, int max_hops,
                                   int hub_window, int node_budget) {
  PathResult out;
  std::shared_ptr<const GraphLabels> labels;
  {
    std::shared_lock read(graph_lock_);
    auto a = graph_->Find(from);
    auto b = graph_->Find(to);
    if (!a || !b) {
      out.from_found = a.has_value();
      out.to_found = b.has_value();
      return out;
    }
    MemorySource source(*graph_, filter);
    out = RunPath(source, *a, *b, filter, max_hops, hub_window, node_budget);
    labels = labels_.load();
  }
  ApplyLabels(out, *labels);
  return out;
}

CompareResult MemoryGraphEngine::Compare(const CallBudget& budget, const std::string& a,
                                         const std::string& b) {
  return compare_.Compare(budget, a, b);
}

}  // namespace psvc::graph
