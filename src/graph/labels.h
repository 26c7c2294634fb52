#pragma once
/// Labels of the graph's answers (docs/graph.md "Labels"): an anime's title, type and year, a
/// hub's kind and name, and the one-line explanation of a path step. Both engines build them
/// with the functions here, so their text is identical: the SQL engine from one statement per
/// answer, the memory engine from GraphLabels, a compact copy of every label.

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/statement.h"
#include "graph/edge_type.h"
#include "graph/results.h"

namespace psvc::db {
class Connection;
}

namespace psvc::graph {

/// A UUID as 16 bytes; byte order is UUID text order (and PostgreSQL's uuid order).
using Uuid16 = std::array<uint8_t, 16>;
/// Canonical 8-4-4-4-12 text (either case) to bytes; nullopt for anything else.
std::optional<Uuid16> ParseUuid16(std::string_view text);
/// Lower-case canonical text.
std::string FormatUuid16(const Uuid16& id);
/// A hash of all 16 bytes (ids may share either half), for open-addressing tables.
uint64_t HashUuid16(const Uuid16& id);
/// An open-addressing index over `ids` (load factor at most 1/2): each slot holds 1 + the
/// position of an id, 0 = empty; probe from HashUuid16(id) & (size - 1), one slot at a time.
std::vector<uint32_t> IndexUuid16s(const std::vector<Uuid16>& ids);
/// The 16 bytes of a binary uuid (a binary COPY field).
Uuid16 ToUuid16(std::string_view bytes);
/// a == b as two 8-byte loads (std::array's operator== calls memcmp, which look-ups paid for).
inline bool SameUuid16(const Uuid16& a, const Uuid16& b) {
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a.data(), 8);
  std::memcpy(&a1, a.data() + 8, 8);
  std::memcpy(&b0, b.data(), 8);
  std::memcpy(&b1, b.data() + 8, 8);
  return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}
/// The position of `id` in the `ids` that `slots` (IndexUuid16s) indexes, or nullopt.
inline std::optional<uint32_t> FindUuid16(const std::vector<uint32_t>& slots,
                                          const std::vector<Uuid16>& ids, const Uuid16& id) {
  if (slots.empty()) return std::nullopt;
  const size_t mask = slots.size() - 1;
  for (size_t s = HashUuid16(id) & mask; slots[s] != 0; s = (s + 1) & mask) {
    if (SameUuid16(ids[slots[s] - 1], id)) return slots[s] - 1;
  }
  return std::nullopt;
}

/// Longest label text in bytes (titles and hub names), "…" included.
inline constexpr size_t kMaxLabelBytes = 120;

/// `text` as a label: ASCII control characters become spaces; text longer than
/// kMaxLabelBytes is cut at a UTF-8 character boundary and ends with "…", kMaxLabelBytes
/// bytes at most in all.
std::string BoundLabel(std::string_view text);

/// The anime type as labels spell it: one of TV MOVIE OVA ONA SPECIAL MUSIC UNKNOWN (any other
/// text is UNKNOWN).
std::string_view AnimeTypeLabel(std::string_view type);

/// The hubs of derived edges, in the order of MemoryGraph's hub kinds.
enum class HubKind : uint8_t { kOriginalWork = 0, kCharacter = 1, kStudio = 2 };
inline constexpr int kHubKindCount = 3;
/// The hub kind of a derived edge type; nullopt for relation types.
std::optional<HubKind> HubKindOf(EdgeType type);
/// "original work", "character", "studio".
std::string_view HubKindName(HubKind kind);

/// "Title (TV, 2003)": the type left out when UNKNOWN, the year when 0, the parentheses when
/// both are; "[uuid]" (the id given) when the label has no title.
std::string DescribeAnime(const AnimeLabel& label, std::string_view id);

/// The explanation of a path step from `from` to `to` over an edge of `type` (as seen from
/// `from`): "A (TV, 2003) → SEQUEL → B (TV, 2009)" for relations, "A shares studio Bones with
/// B" for derived edges ("shares a studio" when the hub has no name).
std::string ExplainStep(const AnimeLabel& from, std::string_view from_id, EdgeType type,
                        const HubLabel& via, const AnimeLabel& to, std::string_view to_id);

/// Ids whose labels an answer needs, or that a reload re-reads. Canonical UUID text.
struct LabelKeys {
  std::vector<std::string> anime;
  std::array<std::vector<std::string>, kHubKindCount> hubs;  ///< indexed by HubKind
  bool empty() const;
};

/// One look-up of a batch (LabelLookup::Resolve): an anime's label (`hub` unset) or a hub's
/// name, written to `anime_out` or `name_out`.
struct LabelQuery {
  std::string_view id;
  std::optional<HubKind> hub;
  AnimeLabel* anime_out = nullptr;
  std::string* name_out = nullptr;
};

/// Where labels come from. A missing anime has an empty label, a missing hub an empty name.
class LabelLookup {
 public:
  virtual ~LabelLookup() = default;
  virtual AnimeLabel Anime(std::string_view id) const = 0;
  virtual std::string HubName(HubKind kind, std::string_view id) const = 0;
  /// Answers every query of an answer at once: by default one by one; a lookup whose look-ups
  /// miss the cache overlaps them.
  virtual void Resolve(std::vector<LabelQuery>& queries) const;
};

/// The ids an answer names (start node, results, parents are results or the start, hubs).
LabelKeys KeysOf(const NeighborsResult& r, std::string_view start);
LabelKeys KeysOf(const KHopResult& r, std::string_view start);
LabelKeys KeysOf(const PathResult& r);

/// Fills the labels of an answer (and each path step's explanation) from `lookup`.
void ApplyLabels(NeighborsResult& r, std::string_view start, const LabelLookup& lookup);
void ApplyLabels(KHopResult& r, std::string_view start, const LabelLookup& lookup);
void ApplyLabels(PathResult& r, const LabelLookup& lookup);

/// Labels read by one statement (sql::kLabels) for the keys of one answer: what the SQL engine
/// uses. Answers name at most ~100 ids, so look-ups scan.
class FetchedLabels final : public LabelLookup {
 public:
  /// kLabels' four array parameters for `keys` (PostgreSQL array literals).
  static std::array<std::string, 4> Arrays(const LabelKeys& keys);
  /// Adds one row of kLabels' output: kind, id, name, type (empty for hubs), year.
  void AddRow(std::string_view kind, std::string_view id, std::string_view name,
              std::string_view type, int year);

  AnimeLabel Anime(std::string_view id) const override;
  std::string HubName(HubKind kind, std::string_view id) const override;

 private:
  struct AnimeRow {
    std::string id;
    AnimeLabel label;
  };
  struct HubRow {
    HubKind kind;
    std::string id, name;
  };
  std::vector<AnimeRow> anime_;
  std::vector<HubRow> hubs_;
};

/// Every label the memory engine can need, compactly: sorted 16-byte ids beside 8-byte
/// entries pointing into one string arena, and a hash index (~32-40 bytes per anime or hub
/// plus its text).
/// Immutable: a reload makes a new one, so readers never wait (copy on write).
class GraphLabels final : public LabelLookup {
 public:
  /// Reads every visible anime's label and every company, character and original work name in
  /// one REPEATABLE READ READ ONLY transaction. `conn` must be idle.
  static std::shared_ptr<const GraphLabels> Load(db::Connection& conn);
  /// As Load, in the caller's transaction (its snapshot), each table streamed by binary COPY.
  static std::shared_ptr<const GraphLabels> Read(db::Connection& conn);
  /// A copy of these labels with those of `keys` read again from the database through `conn`
  /// (one statement; `conn` idle or inside the caller's transaction): changed ones replaced,
  /// new ones added, ids no longer there (or anime merged away / hidden) dropped.
  std::shared_ptr<const GraphLabels> Reloaded(db::Connection& conn, const LabelKeys& keys) const;
  /// The statements Load and Reloaded run (for the prepare-everything test).
  static db::StatementList Statements();

  AnimeLabel Anime(std::string_view id) const override;
  std::string HubName(HubKind kind, std::string_view id) const override;
  /// The look-ups interleaved: each probe's table reads are prefetched a step ahead, so an
  /// answer's ~100 labels (each a few cache misses in tables of megabytes) wait for memory
  /// about once per step rather than once per look-up.
  void Resolve(std::vector<LabelQuery>& queries) const override;

  size_t anime() const { return anime_.ids.size(); }
  size_t hubs(HubKind kind) const { return hubs_[static_cast<int>(kind)].ids.size(); }
  /// Bytes held (ids, entries, hash index, text).
  size_t bytes() const;

  /// One label's place: text in the arena, and for anime the type code and year.
  struct Entry {
    uint32_t text = 0;   ///< offset into the arena
    uint8_t length = 0;  ///< bytes (≤ kMaxLabelBytes)
    uint8_t type = 0;    ///< index into the anime type names (anime only)
    int16_t year = 0;    ///< 0 when unknown (anime only)
  };
  /// Sorted ids and their entries, with an open-addressing hash index over the ids (a binary
  /// search over 150,000 ids costs a cache miss per step; a look-up here costs one or two).
  struct Table {
    std::vector<Uuid16> ids;
    std::vector<Entry> entries;
    std::vector<uint32_t> slots;  ///< 1 + index into ids, 0 = empty; size a power of two
  };

 private:
  const Entry* Find(const Table& table, std::string_view id) const;
  std::string_view TextOf(const Entry& e) const { return {arena_.data() + e.text, e.length}; }

  Table anime_;
  std::array<Table, kHubKindCount> hubs_;
  std::string arena_;
};

namespace sql {

// Labels of given anime and hubs (an answer's, or those a reload re-reads).
//  $1 uuid[] anime (merged-away and hidden ones are left out)
//  $2 uuid[] original works  $3 uuid[] characters  $4 uuid[] companies
// Output: kind ('anime', 'original work', 'character', 'studio'), id, name/title, anime type
// (NULL for hubs), anime year (0 when unknown).
inline constexpr db::Statement kLabels{"graph.labels", R"sql(
SELECT 'anime', id::text, title, type, coalesce(year, 0) FROM anime
 WHERE id = ANY($1::uuid[]) AND merged_into IS NULL AND hidden_at IS NULL
UNION ALL
SELECT 'original work', id::text, title, NULL, 0 FROM original_work WHERE id = ANY($2::uuid[])
UNION ALL
SELECT 'character', id::text, name, NULL, 0 FROM character WHERE id = ANY($3::uuid[])
UNION ALL
SELECT 'studio', id::text, name, NULL, 0 FROM company WHERE id = ANY($4::uuid[])
)sql"};

}  // namespace sql

}  // namespace psvc::graph
