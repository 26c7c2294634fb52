#include "graph/labels.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "db/array_literal.h"
#include "db/binary_copy.h"
#include "db/connection.h"
#include "db/error.h"

namespace psvc::graph {

namespace sql {

// The snapshot of every label, table by table, read with binary COPY in no particular order
// (an ORDER BY id costs the server an index scan or a sort; the tables are sorted here).
inline constexpr db::Statement kLabelSnapshotAnime{"graph.label_snapshot_anime", R"sql(
SELECT id, title, type, coalesce(year, 0) FROM anime
 WHERE merged_into IS NULL AND hidden_at IS NULL
)sql"};
inline constexpr db::Statement kLabelSnapshotWorks{"graph.label_snapshot_works", R"sql(
SELECT id, title FROM original_work
)sql"};
inline constexpr db::Statement kLabelSnapshotCharacters{"graph.label_snapshot_characters", R"sql(
SELECT id, name FROM character
)sql"};
inline constexpr db::Statement kLabelSnapshotCompanies{"graph.label_snapshot_companies", R"sql(
SELECT id, name FROM company
)sql"};
// Indexed by HubKind.
inline constexpr const db::Statement* kLabelSnapshotHubs[] = {
    &kLabelSnapshotWorks, &kLabelSnapshotCharacters, &kLabelSnapshotCompanies};
inline constexpr const db::Statement* kLabelStatements[] = {
    &kLabels, &kLabelSnapshotAnime, &kLabelSnapshotWorks, &kLabelSnapshotCharacters,
    &kLabelSnapshotCompanies};

}  // namespace sql

namespace {

constexpr std::string_view kAnimeTypes[] = {"TV",      "MOVIE", "OVA",    "ONA",
                                            "SPECIAL", "MUSIC", "UNKNOWN"};
constexpr uint8_t kUnknownType = 6;
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // "…"

uint8_t TypeCode(std::string_view type) {
  for (uint8_t i = 0; i < std::size(kAnimeTypes); ++i) {
    if (kAnimeTypes[i] == type) return i;
  }
  return kUnknownType;
}

/// Value of each hex digit (either case), -1 for any other byte: every answer's ids are parsed
/// again to find their labels, so this runs ~100 times per k_hop.
constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int c = 0; c < 10; ++c) t['0' + c] = static_cast<int8_t>(c);
  for (int c = 0; c < 6; ++c) {
    t['a' + c] = static_cast<int8_t>(10 + c);
    t['A' + c] = static_cast<int8_t>(10 + c);
  }
  return t;
}();
/// Where each byte's two digits start in the 8-4-4-4-12 text.
constexpr uint8_t kDigitAt[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

std::optional<HubKind> HubKindFromName(std::string_view kind) {
  for (int k = 0; k < kHubKindCount; ++k) {
    if (HubKindName(static_cast<HubKind>(k)) == kind) return static_cast<HubKind>(k);
  }
  return std::nullopt;
}

Uuid16 RequireUuid(std::string_view text) {
  auto id = ParseUuid16(text);
  if (!id) throw db::DbError(db::ErrorKind::kInternal, "labels: bad id");
  return *id;
}

}  // namespace

std::optional<Uuid16> ParseUuid16(std::string_view text) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return std::nullopt;
  }
  Uuid16 out{};
  int bad = 0;
  for (size_t j = 0; j < 16; ++j) {
    const int hi = kHexValue[static_cast<uint8_t>(text[kDigitAt[j]])];
    const int lo = kHexValue[static_cast<uint8_t>(text[kDigitAt[j] + 1])];
    bad |= hi | lo;  // negative once any digit is not hex
    out[j] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (bad < 0) return std::nullopt;
  return out;
}

std::string FormatUuid16(const Uuid16& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t i = 0;
  for (size_t j = 0; j < 16; ++j) {
    if (i == 8 || i == 13 || i == 18 || i == 23) ++i;
    out[i++] = kDigits[id[j] >> 4];
    out[i++] = kDigits[id[j] & 15];
  }
  return out;
}

namespace {

/// Appends `text` as a label (see BoundLabel) to `out`.
void AppendBoundLabel(std::string& out, std::string_view text) {
  size_t keep = text.size();
  bool cut = false;
  if (keep > kMaxLabelBytes) {
    cut = true;
    keep = kMaxLabelBytes - kEllipsis.size();
    // Back off continuation bytes (10xxxxxx) so the cut falls between characters.
    while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) --keep;
  }
  const size_t from = out.size();
  out.append(text.substr(0, keep));
  for (size_t i = from; i < out.size(); ++i) {
    const auto u = static_cast<unsigned char>(out[i]);
    if (u < 0x20 || u == 0x7F) out[i] = ' ';  // one line: no newlines, tabs or other controls
  }
  if (cut) out += kEllipsis;
}

}  // namespace

std::vector<uint32_t> IndexUuid16s(const std::vector<Uuid16>& ids) {
  size_t size = 16;
  while (size < 2 * ids.size()) size *= 2;
  std::vector<uint32_t> slots(size, 0);
  const size_t mask = size - 1;
  for (size_t i = 0; i < ids.size(); ++i) {
    size_t s = HashUuid16(ids[i]) & mask;
    while (slots[s] != 0) s = (s + 1) & mask;
    slots[s] = static_cast<uint32_t>(i + 1);
  }
  return slots;
}

Uuid16 ToUuid16(std::string_view bytes) {
  Uuid16 id;
  std::memcpy(id.data(), bytes.data(), id.size());
  return id;
}

uint64_t HashUuid16(const Uuid16& id) {
  uint64_t a, b;
  std::memcpy(&a, id.data(), 8);
  std::memcpy(&b, id.data() + 8, 8);
  uint64_t h = a ^ (b * 0x9E3779B97F4A7C15ull);  // every byte counts: ids may share halves
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

std::string BoundLabel(std::string_view text) {
  std::string out;
  AppendBoundLabel(out, text);
  return out;
}

std::string_view AnimeTypeLabel(std::string_view type) { return kAnimeTypes[TypeCode(type)]; }

std::optional<HubKind> HubKindOf(EdgeType type) {
  switch (type) {
    case EdgeType::kAdaptedFrom:
      return HubKind::kOriginalWork;
    case EdgeType::kCoAppears:
      return HubKind::kCharacter;
    case EdgeType::kSameStudio:
      return HubKind::kStudio;
    default:
      return std::nullopt;
  }
}

std::string_view HubKindName(HubKind kind) {
  switch (kind) {
    case HubKind::kOriginalWork:
      return "original work";
    case HubKind::kCharacter:
      return "character";
    case HubKind::kStudio:
      return "studio";
  }
  return "";
}

std::string DescribeAnime(const AnimeLabel& label, std::string_view id) {
  if (label.title.empty()) return "[" + std::string(id) + "]";
  std::string details;
  if (!label.type.empty() && label.type != "UNKNOWN") details = label.type;
  if (label.year != 0) {
    if (!details.empty()) details += ", ";
    details += std::to_string(label.year);
  }
  return details.empty() ? label.title : label.title + " (" + details + ")";
}

std::string ExplainStep(const AnimeLabel& from, std::string_view from_id, EdgeType type,
                        const HubLabel& via, const AnimeLabel& to, std::string_view to_id) {
  std::string out = DescribeAnime(from, from_id);
  if (auto kind = HubKindOf(type)) {
    out += " shares ";
    const std::string_view kind_name = HubKindName(*kind);
    if (via.name.empty()) {
      out += kind_name.front() == 'o' ? "an " : "a ";  // "an original work"
      out += kind_name;
    } else {
      out += kind_name;
      out += ' ';
      out += via.name;
    }
    out += " with ";
  } else {
    out += " \xE2\x86\x92 ";  // →
    out += EdgeTypeName(type);
    out += " \xE2\x86\x92 ";
  }
  out += DescribeAnime(to, to_id);
  return out;
}

bool LabelKeys::empty() const {
  return anime.empty() &&
         std::all_of(hubs.begin(), hubs.end(), [](const auto& h) { return h.empty(); });
}

namespace {

void AddHub(LabelKeys& keys, EdgeType type, const std::string& via) {
  if (via.empty()) return;
  if (auto kind = HubKindOf(type)) keys.hubs[static_cast<int>(*kind)].push_back(via);
}

/// Queues the look-up of a result's hub label (none for relations): its kind is set now, its
/// name when the batch is resolved.
void QueueHub(std::vector<LabelQuery>& queries, std::optional<EdgeType> type,
              const std::string& via, HubLabel& out) {
  out = {};
  if (!type || via.empty()) return;
  auto kind = HubKindOf(*type);
  if (!kind) return;
  out.kind = HubKindName(*kind);
  queries.push_back({via, kind, nullptr, &out.name});
}

void QueueAnime(std::vector<LabelQuery>& queries, std::string_view id, AnimeLabel& out) {
  queries.push_back({id, std::nullopt, &out, nullptr});
}

}  // namespace

void LabelLookup::Resolve(std::vector<LabelQuery>& queries) const {
  for (auto& q : queries) {
    if (q.hub) {
      *q.name_out = HubName(*q.hub, q.id);
    } else {
      *q.anime_out = Anime(q.id);
    }
  }
}

LabelKeys KeysOf(const NeighborsResult& r, std::string_view start) {
  LabelKeys keys;
  if (!r.start_found) return keys;
  keys.anime.emplace_back(start);
  for (const auto& e : r.edges) {
    keys.anime.push_back(e.node_id);
    AddHub(keys, e.type, e.via_id);
  }
  return keys;
}

LabelKeys KeysOf(const KHopResult& r, std::string_view start) {
  LabelKeys keys;
  if (!r.start_found) return keys;
  keys.anime.emplace_back(start);
  for (const auto& n : r.nodes) {
    keys.anime.push_back(n.node_id);  // a parent is the start or an earlier node
    AddHub(keys, n.type, n.via_id);
  }
  return keys;
}

LabelKeys KeysOf(const PathResult& r) {
  LabelKeys keys;
  for (const auto& s : r.steps) {
    keys.anime.push_back(s.node_id);
    if (s.type) AddHub(keys, *s.type, s.via_id);
  }
  return keys;
}

void ApplyLabels(NeighborsResult& r, std::string_view start, const LabelLookup& lookup) {
  if (!r.start_found) return;
  std::vector<LabelQuery> queries;
  queries.reserve(2 * r.edges.size() + 1);
  QueueAnime(queries, start, r.start);
  for (auto& e : r.edges) {
    QueueAnime(queries, e.node_id, e.node);
    QueueHub(queries, e.type, e.via_id, e.via);
  }
  lookup.Resolve(queries);
}

void ApplyLabels(KHopResult& r, std::string_view start, const LabelLookup& lookup) {
  if (!r.start_found) return;
  std::vector<LabelQuery> queries;
  queries.reserve(2 * r.nodes.size() + 1);
  QueueAnime(queries, start, r.start);
  for (auto& n : r.nodes) {
    QueueAnime(queries, n.node_id, n.node);
    QueueHub(queries, n.type, n.via_id, n.via);
  }
  lookup.Resolve(queries);
}

void ApplyLabels(PathResult& r, const LabelLookup& lookup) {
  std::vector<LabelQuery> queries;
  queries.reserve(2 * r.steps.size());
  for (auto& s : r.steps) {
    QueueAnime(queries, s.node_id, s.node);
    QueueHub(queries, s.type, s.via_id, s.via);
  }
  lookup.Resolve(queries);
  for (size_t i = 1; i < r.steps.size(); ++i) {
    auto& s = r.steps[i];
    if (!s.type) continue;
    const auto& prev = r.steps[i - 1];
    s.explanation = ExplainStep(prev.node, prev.node_id, *s.type, s.via, s.node, s.node_id);
  }
}

// --- FetchedLabels -------------------------------------------------------------------------

std::array<std::string, 4> FetchedLabels::Arrays(const LabelKeys& keys) {
  return {db::ArrayLiteral(keys.anime), db::ArrayLiteral(keys.hubs[0]),
          db::ArrayLiteral(keys.hubs[1]), db::ArrayLiteral(keys.hubs[2])};
}

void FetchedLabels::AddRow(std::string_view kind, std::string_view id, std::string_view name,
                           std::string_view type, int year) {
  if (kind == "anime") {
    anime_.push_back(
        {std::string(id), {BoundLabel(name), std::string(AnimeTypeLabel(type)), year}});
  } else if (auto k = HubKindFromName(kind)) {
    hubs_.push_back({*k, std::string(id), BoundLabel(name)});
  }
}

AnimeLabel FetchedLabels::Anime(std::string_view id) const {
  for (const auto& a : anime_) {
    if (a.id == id) return a.label;
  }
  return {};
}

std::string FetchedLabels::HubName(HubKind kind, std::string_view id) const {
  for (const auto& h : hubs_) {
    if (h.kind == kind && h.id == id) return h.name;
  }
  return {};
}

// --- GraphLabels ---------------------------------------------------------------------------

db::StatementList GraphLabels::Statements() { return sql::kLabelStatements; }

namespace {

/// Appends a bounded label to `arena` and returns its entry.
GraphLabels::Entry Store(std::string& arena, std::string_view text, uint8_t type, int year) {
  GraphLabels::Entry e;
  e.text = static_cast<uint32_t>(arena.size());
  AppendBoundLabel(arena, text);
  e.length = static_cast<uint8_t>(arena.size() - e.text);
  e.type = type;
  e.year = static_cast<int16_t>(year);
  return e;
}

/// Puts a table read in no particular order into id order.
void SortById(GraphLabels::Table& t) {
  if (std::is_sorted(t.ids.begin(), t.ids.end())) return;
  std::vector<uint32_t> order(t.ids.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return t.ids[a] < t.ids[b]; });
  std::vector<Uuid16> ids(order.size());
  std::vector<GraphLabels::Entry> entries(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    ids[i] = t.ids[order[i]];
    entries[i] = t.entries[order[i]];
  }
  t.ids = std::move(ids);
  t.entries = std::move(entries);
}

/// Final shape of a table: no vector slack, and its hash index (load factor at most 1/2).
void Finish(GraphLabels::Table& t) {
  t.ids.shrink_to_fit();
  t.entries.shrink_to_fit();
  t.slots = IndexUuid16s(t.ids);
}

}  // namespace

std::shared_ptr<const GraphLabels> GraphLabels::Load(db::Connection& conn) {
  db::Transaction tx(conn, db::Transaction::Mode::kReadOnly);
  conn.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
  auto labels = Read(conn);
  tx.Commit();
  return labels;
}

std::shared_ptr<const GraphLabels> GraphLabels::Read(db::Connection& conn) {
  auto labels = std::make_shared<GraphLabels>();
  db::CopyRows(conn, sql::kLabelSnapshotAnime.sql, [&](const db::BinaryRow& row) {
    labels->anime_.ids.push_back(ToUuid16(row.Uuid(0)));
    labels->anime_.entries.push_back(
        Store(labels->arena_, row.Text(1), TypeCode(row.Text(2)), row.Int32(3)));
  });
  SortById(labels->anime_);
  Finish(labels->anime_);
  for (int kind = 0; kind < kHubKindCount; ++kind) {
    Table& t = labels->hubs_[kind];
    db::CopyRows(conn, sql::kLabelSnapshotHubs[kind]->sql, [&](const db::BinaryRow& row) {
      t.ids.push_back(ToUuid16(row.Uuid(0)));
      t.entries.push_back(Store(labels->arena_, row.Text(1), 0, 0));
    });
    SortById(t);
    Finish(t);
  }
  labels->arena_.shrink_to_fit();
  return labels;
}

std::shared_ptr<const GraphLabels> GraphLabels::Reloaded(db::Connection& conn,
                                                         const LabelKeys& keys) const {
  // What the database holds now for the keys, per table, sorted by id.
  struct Row {
    Uuid16 id;
    std::string text;
    uint8_t type;
    int year;
  };
  std::array<std::vector<Row>, kHubKindCount + 1> fresh;  // [0] anime, [1 + kind] hubs
  if (!keys.empty()) {
    auto arrays = FetchedLabels::Arrays(keys);
    auto res = conn.Execute(sql::kLabels, {arrays[0], arrays[1], arrays[2], arrays[3]});
    for (int r = 0; r < res.rows(); ++r) {
      const auto kind = res.Get(r, 0);
      size_t table = 0;
      if (kind != "anime") {
        auto k = HubKindFromName(kind);
        if (!k) continue;
        table = 1 + static_cast<size_t>(*k);
      }
      fresh[table].push_back({RequireUuid(res.Get(r, 1)), std::string(res.Get(r, 2)),
                              table == 0 ? TypeCode(res.Get(r, 3)) : uint8_t{0},
                              static_cast<int>(res.GetInt64(r, 4))});
    }
  }
  auto out = std::make_shared<GraphLabels>();
  out->arena_.reserve(arena_.size());
  // Each table: the old entries minus the reloaded keys, merged with the fresh rows; the arena
  // is rebuilt on the way, so replaced text leaves no garbage behind.
  auto rebuild = [&](const Table& old, const std::vector<std::string>& ids, std::vector<Row>& rows,
                     Table& into) {
    std::vector<Uuid16> reloaded;
    for (const auto& id : ids) {
      if (auto u = ParseUuid16(id)) reloaded.push_back(*u);
    }
    std::sort(reloaded.begin(), reloaded.end());
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
    rows.erase(std::unique(rows.begin(), rows.end(),
                           [](const Row& a, const Row& b) { return a.id == b.id; }),
               rows.end());
    into.ids.reserve(old.ids.size() + rows.size());
    into.entries.reserve(old.ids.size() + rows.size());
    size_t j = 0;
    auto add_fresh = [&](const Row& row) {
      into.ids.push_back(row.id);
      into.entries.push_back(Store(out->arena_, row.text, row.type, row.year));
    };
    for (size_t i = 0; i < old.ids.size(); ++i) {
      while (j < rows.size() && rows[j].id < old.ids[i]) add_fresh(rows[j++]);
      if (std::binary_search(reloaded.begin(), reloaded.end(), old.ids[i])) continue;
      const Entry& e = old.entries[i];
      Entry copy = e;
      copy.text = static_cast<uint32_t>(out->arena_.size());
      out->arena_ += TextOf(e);
      into.ids.push_back(old.ids[i]);
      into.entries.push_back(copy);
    }
    while (j < rows.size()) add_fresh(rows[j++]);
    Finish(into);
  };
  rebuild(anime_, keys.anime, fresh[0], out->anime_);
  for (int kind = 0; kind < kHubKindCount; ++kind) {
    rebuild(hubs_[kind], keys.hubs[kind], fresh[1 + kind], out->hubs_[kind]);
  }
  out->arena_.shrink_to_fit();
  return out;
}

const GraphLabels::Entry* GraphLabels::Find(const Table& table, std::string_view id) const {
  auto u = ParseUuid16(id);
  if (!u) return nullptr;
  auto i = FindUuid16(table.slots, table.ids, *u);
  return i ? &table.entries[*i] : nullptr;
}

AnimeLabel GraphLabels::Anime(std::string_view id) const {
  const Entry* e = Find(anime_, id);
  if (!e) return {};
  return {std::string(TextOf(*e)), std::string(kAnimeTypes[e->type]), e->year};
}

std::string GraphLabels::HubName(HubKind kind, std::string_view id) const {
  const Entry* e = Find(hubs_[static_cast<int>(kind)], id);
  return e ? std::string(TextOf(*e)) : std::string();
}

void GraphLabels::Resolve(std::vector<LabelQuery>& queries) const {
  // Three passes over the batch, each touching what the previous one prefetched: the hash slot,
  // then the id and entry it points at, then the text.
  struct Probe {
    const Table* table = nullptr;  // null: not a UUID, or an empty table
    Uuid16 id{};
    size_t slot = 0;
    const Entry* entry = nullptr;
  };
  std::vector<Probe> probes(queries.size());
  for (size_t q = 0; q < queries.size(); ++q) {
    const Table& t = queries[q].hub ? hubs_[static_cast<int>(*queries[q].hub)] : anime_;
    auto u = ParseUuid16(queries[q].id);
    if (!u || t.slots.empty()) continue;
    probes[q] = {&t, *u, HashUuid16(*u) & (t.slots.size() - 1), nullptr};
    __builtin_prefetch(&t.slots[probes[q].slot]);
  }
  for (const auto& p : probes) {
    if (!p.table) continue;
    if (const uint32_t first = p.table->slots[p.slot]; first != 0) {
      __builtin_prefetch(&p.table->ids[first - 1]);
      __builtin_prefetch(&p.table->entries[first - 1]);
    }
  }
  for (auto& p : probes) {
    if (!p.table) continue;
    const Table& t = *p.table;
    const size_t mask = t.slots.size() - 1;
    for (size_t s = p.slot; t.slots[s] != 0; s = (s + 1) & mask) {
      const size_t i = t.slots[s] - 1;
      if (SameUuid16(t.ids[i], p.id)) {
        p.entry = &t.entries[i];
        __builtin_prefetch(arena_.data() + p.entry->text);
        break;
      }
    }
  }
  for (size_t q = 0; q < queries.size(); ++q) {
    const Entry* e = probes[q].entry;
    if (queries[q].hub) {
      *queries[q].name_out = e ? std::string(TextOf(*e)) : std::string();
    } else if (e) {
      *queries[q].anime_out = {std::string(TextOf(*e)), std::string(kAnimeTypes[e->type]), e->year};
    } else {
      *queries[q].anime_out = {};
    }
  }
}

size_t GraphLabels::bytes() const {
  size_t b = arena_.capacity();
  for (const Table* t : {&anime_, &hubs_[0], &hubs_[1], &hubs_[2]}) {
    b += t->ids.capacity() * sizeof(Uuid16) + t->entries.capacity() * sizeof(Entry) +
         t->slots.capacity() * sizeof(uint32_t);
  }
  return b;
}

}  // namespace psvc::graph
