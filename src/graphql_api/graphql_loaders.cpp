#include "graphql_api/graphql_loaders.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <unordered_set>

#include "graphql_api/graphql_list_statements.h"
#include "graphql_api/graphql_statements.h"
#include "db/array_literal.h"
#include "db/connection.h"
#include "db/pool.h"
#include "graphql/json.h"
#include "ids/uuid.h"

namespace psvc::api {

using graphql::Value;
using graphql::ValueList;
using graphql::ValueMap;

struct RequestLoaders::Cache {
  // Per kind: id -> entity map (nullptr: known not to exist). unique_ptr keeps addresses
  // stable, because resolvers hand out references into the cache.
  std::array<std::unordered_map<std::string, std::unique_ptr<Value>>, 5> by_kind;
  auto& of(EntityKind k) { return by_kind[static_cast<size_t>(k)]; }
};

namespace {

Value Text(const db::Result& r, int row, int col) {
  if (r.IsNull(row, col)) return Value();
  return Value(std::string(r.Get(row, col)));
}
Value Int(const db::Result& r, int row, int col) {
  if (r.IsNull(row, col)) return Value();
  return Value(r.GetInt64(row, col));
}
Value Float(const db::Result& r, int row, int col) {
  if (r.IsNull(row, col)) return Value();
  return Value(r.GetDouble(row, col));
}

constexpr int kAnimeColumns = 15;
constexpr int kCharacterColumns = 5;
constexpr int kCompanyColumns = 2;
constexpr int kEpisodeColumns = 6;
constexpr int kWorkColumns = 4;

// Reads the PSVC_GQL_*_COLUMNS of graphql_statements.h starting at column `c`.
Value AnimeAt(const db::Result& r, int row, int c) {
  ValueMap m;
  m.reserve(kAnimeColumns + 1);
  m.emplace_back("__typename", Value("Anime"));
  m.emplace_back("id", Text(r, row, c));
  m.emplace_back("title", Text(r, row, c + 1));
  m.emplace_back("titleEnglish", Text(r, row, c + 2));
  m.emplace_back("titleJapanese", Text(r, row, c + 3));
  std::string why;
  auto synonyms = graphql::ParseJson(r.Get(row, c + 4), &why);
  m.emplace_back("synonyms",
                 synonyms && synonyms->IsList() ? std::move(*synonyms) : Value(ValueList{}));
  m.emplace_back("type", Text(r, row, c + 5));
  m.emplace_back("status", Text(r, row, c + 6));
  m.emplace_back("season", Text(r, row, c + 7));
  m.emplace_back("year", Int(r, row, c + 8));
  m.emplace_back("episodeCount", Int(r, row, c + 9));
  m.emplace_back("synopsis", Text(r, row, c + 10));
  m.emplace_back("score", Float(r, row, c + 11));
  m.emplace_back("viewCount", Int(r, row, c + 12));
  m.emplace_back("version", Int(r, row, c + 13));
  m.emplace_back("updatedAt", Text(r, row, c + 14));
  return Value(std::move(m));
}

Value CharacterAt(const db::Result& r, int row, int c) {
  ValueMap m;
  m.reserve(kCharacterColumns + 1);
  m.emplace_back("__typename", Value("Character"));
  m.emplace_back("id", Text(r, row, c));
  m.emplace_back("name", Text(r, row, c + 1));
  m.emplace_back("nameJapanese", Text(r, row, c + 2));
  m.emplace_back("description", Text(r, row, c + 3));
  m.emplace_back("favorites", Int(r, row, c + 4));
  return Value(std::move(m));
}

Value CompanyAt(const db::Result& r, int row, int c) {
  ValueMap m;
  m.emplace_back("__typename", Value("Company"));
  m.emplace_back("id", Text(r, row, c));
  m.emplace_back("name", Text(r, row, c + 1));
  return Value(std::move(m));
}

Value EpisodeAt(const db::Result& r, int row, int c) {
  ValueMap m;
  m.reserve(kEpisodeColumns + 1);
  m.emplace_back("__typename", Value("Episode"));
  m.emplace_back("id", Text(r, row, c));
  m.emplace_back("animeId", Text(r, row, c + 1));
  m.emplace_back("number", Int(r, row, c + 2));
  m.emplace_back("title", Text(r, row, c + 3));
  m.emplace_back("airedOn", Text(r, row, c + 4));
  m.emplace_back("durationSeconds", Int(r, row, c + 5));
  return Value(std::move(m));
}

Value WorkAt(const db::Result& r, int row, int c) {
  ValueMap m;
  m.reserve(kWorkColumns + 1);
  m.emplace_back("__typename", Value("OriginalWork"));
  m.emplace_back("id", Text(r, row, c));
  m.emplace_back("title", Text(r, row, c + 1));
  m.emplace_back("kind", Text(r, row, c + 2));
  m.emplace_back("author", Text(r, row, c + 3));
  return Value(std::move(m));
}

Value EntityAt(EntityKind kind, const db::Result& r, int row, int c) {
  switch (kind) {
    case EntityKind::kAnime:
      return AnimeAt(r, row, c);
    case EntityKind::kCharacter:
      return CharacterAt(r, row, c);
    case EntityKind::kCompany:
      return CompanyAt(r, row, c);
    case EntityKind::kEpisode:
      return EpisodeAt(r, row, c);
    case EntityKind::kOriginalWork:
      return WorkAt(r, row, c);
  }
  return Value();
}

const db::Statement& ByIdsStatement(EntityKind kind) {
  switch (kind) {
    case EntityKind::kAnime:
      return sql::kAnimeByIds;
    case EntityKind::kCharacter:
      return sql::kCharactersByIds;
    case EntityKind::kCompany:
      return sql::kCompaniesByIds;
    case EntityKind::kEpisode:
      return sql::kEpisodesByIds;
    case EntityKind::kOriginalWork:
      return sql::kOriginalWorksByIds;
  }
  return sql::kAnimeByIds;
}

// Distinct ids as a uuid[] literal: a parent that appears twice at one level is asked once.
std::string DistinctArray(const std::vector<std::string>& ids) {
  std::unordered_set<std::string_view> seen;
  std::vector<std::string> distinct;
  for (const auto& id : ids) {
    if (seen.insert(id).second) distinct.push_back(id);
  }
  return db::ArrayLiteral(distinct);
}

// Groups rows by their first column (the parent id) into one Value per parent, in order.
// `make` turns one row into one list element.
template <class F>
std::vector<Value> GroupByParent(const std::vector<std::string>& parents, const db::Result& r,
                                 F make) {
  std::unordered_map<std::string, ValueList> lists;
  for (int i = 0; i < r.rows(); ++i) lists[std::string(r.Get(i, 0))].push_back(make(i));
  std::vector<Value> out;
  out.reserve(parents.size());
  for (const auto& p : parents) {
    auto it = lists.find(p);
    out.emplace_back(it == lists.end() ? ValueList{} : it->second);
  }
  return out;
}

// A connection page {edges, nodes, pageInfo} from its nodes (already cut to the page) and
// their cursors.
Value ConnectionPage(ValueList nodes, std::vector<std::string> cursors, bool has_next,
                     bool has_previous) {
  ValueList edges;
  edges.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    ValueMap edge;
    edge.emplace_back("cursor", Value(cursors[i]));
    edge.emplace_back("node", nodes[i]);
    edges.emplace_back(std::move(edge));
  }
  ValueMap page_info;
  page_info.emplace_back("hasNextPage", Value(has_next));
  page_info.emplace_back("hasPreviousPage", Value(has_previous));
  page_info.emplace_back("startCursor", cursors.empty() ? Value() : Value(cursors.front()));
  page_info.emplace_back("endCursor", cursors.empty() ? Value() : Value(cursors.back()));
  ValueMap page;
  page.emplace_back("edges", Value(std::move(edges)));
  page.emplace_back("nodes", Value(std::move(nodes)));
  page.emplace_back("pageInfo", Value(std::move(page_info)));
  return Value(std::move(page));
}

// Turns per-parent lists of up to first+1 rows into pages. `key` gives a node's cursor.
// hasPreviousPage of a nested page says whether `after` was given (Relay lets forward
// pagination answer it so when checking costs more than it is worth).
template <class K>
std::vector<Value> ToPages(std::vector<Value> lists, const PageRequest& request, K key) {
  for (Value& v : lists) {
    ValueList nodes = std::move(v.AsList());
    bool more = static_cast<int>(nodes.size()) > request.first;
    if (more) nodes.resize(request.first);
    std::vector<std::string> cursors;
    cursors.reserve(nodes.size());
    for (const Value& node : nodes) cursors.push_back(EncodeCursor(key(node)));
    v = ConnectionPage(std::move(nodes), std::move(cursors), more, request.has_after);
  }
  return lists;
}

const Value* Field(const Value& map, std::string_view name) { return map.Deref().Find(name); }

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

}  // namespace

RequestLoaders::RequestLoaders(db::Pool& pool, LoaderOptions options)
    : pool_(pool), options_(options), cache_(std::make_unique<Cache>()) {}

RequestLoaders::~RequestLoaders() = default;

db::Connection& RequestLoaders::Conn() {
  if (!conn_) {
    conn_ = std::make_unique<db::PooledConnection>(pool_.Acquire(options_.acquire_timeout));
    (*conn_)->SetStatementTimeout(options_.statement_timeout);
    statements_at_acquire_ = (*conn_)->statements_sent();
  }
  return **conn_;
}

uint64_t RequestLoaders::statements_sent() const {
  return conn_ ? (*conn_)->statements_sent() - statements_at_acquire_ : 0;
}

const Value* RequestLoaders::Intern(EntityKind kind, Value entity) {
  std::string id(entity.Find("id")->AsString());
  auto& slot = cache_->of(kind)[id];
  if (!slot) slot = std::make_unique<Value>(std::move(entity));
  return slot.get();
}

void RequestLoaders::Evict(EntityKind kind, const std::string& id) { cache_->of(kind).erase(id); }

std::vector<const Value*> RequestLoaders::Load(EntityKind kind,
                                               const std::vector<std::string>& ids) {
  auto& cache = cache_->of(kind);
  std::vector<std::string> missing;
  for (const auto& id : ids) {
    if (!cache.contains(id)) missing.push_back(id);
  }
  if (!missing.empty()) {
    auto r = Conn().Execute(ByIdsStatement(kind), {DistinctArray(missing)});
    if (kind == EntityKind::kAnime) {
      // Rows carry the id asked for first: a merged id answers with its survivor.
      for (int i = 0; i < r.rows(); ++i) {
        const Value* entity = Intern(kind, EntityAt(kind, r, i, 1));
        std::string asked(r.Get(i, 0));
        if (!cache.contains(asked)) cache[asked] = std::make_unique<Value>(*entity);
      }
    } else {
      for (int i = 0; i < r.rows(); ++i) Intern(kind, EntityAt(kind, r, i, 0));
    }
    for (const auto& id : missing) cache.try_emplace(id);  // remembered as absent
  }
  std::vector<const Value*> out;
  out.reserve(ids.size());
  for (const auto& id : ids) out.push_back(cache[id].get());
  return out;
}

std::vector<Value> RequestLoaders::AnimeCharacters(const std::vector<std::string>& anime_ids,
                                                   std::optional<std::string> role, int limit) {
  std::string n = std::to_string(limit);
  auto r = Conn().Execute(sql::kAnimeCharacters,
                          {DistinctArray(anime_ids), db::Param(role), db::Param(n)});
  return GroupByParent(anime_ids, r, [&](int i) {
    ValueMap edge;
    edge.emplace_back("role", Text(r, i, 1));
    edge.emplace_back("character",
                      Value::Ref(*Intern(EntityKind::kCharacter, CharacterAt(r, i, 2))));
    return Value(std::move(edge));
  });
}

std::vector<Value> RequestLoaders::AnimeCompanies(const std::vector<std::string>& anime_ids,
                                                  std::optional<std::string> role,
                                                  bool companies_only) {
  auto r = Conn().Execute(sql::kAnimeCompanies, {DistinctArray(anime_ids), db::Param(role)});
  return GroupByParent(anime_ids, r, [&](int i) {
    Value company = Value::Ref(*Intern(EntityKind::kCompany, CompanyAt(r, i, 2)));
    if (companies_only) return company;
    ValueMap edge;
    edge.emplace_back("role", Value(Upper(r.Get(i, 1))));
    edge.emplace_back("company", std::move(company));
    return Value(std::move(edge));
  });
}

std::vector<Value> RequestLoaders::AnimeRelations(
    const std::vector<std::string>& anime_ids,
    const std::optional<std::vector<std::string>>& types) {
  std::optional<std::string> types_literal;
  if (types) types_literal = db::ArrayLiteral(*types);
  auto r =
      Conn().Execute(sql::kAnimeRelations, {DistinctArray(anime_ids), db::Param(types_literal)});
  return GroupByParent(anime_ids, r, [&](int i) {
    ValueMap edge;
    edge.emplace_back("type", Text(r, i, 1));
    edge.emplace_back("target", Value::Ref(*Intern(EntityKind::kAnime, AnimeAt(r, i, 2))));
    return Value(std::move(edge));
  });
}

std::vector<Value> RequestLoaders::AnimeOriginalWorks(const std::vector<std::string>& anime_ids) {
  auto r = Conn().Execute(sql::kAnimeOriginalWorks, {DistinctArray(anime_ids)});
  return GroupByParent(anime_ids, r, [&](int i) {
    return Value::Ref(*Intern(EntityKind::kOriginalWork, WorkAt(r, i, 1)));
  });
}

std::vector<Value> RequestLoaders::AnimeEpisodes(const std::vector<std::string>& anime_ids,
                                                 const PageRequest& page) {
  std::string after = std::to_string(page.after.key), n = std::to_string(page.first + 1);
  auto r = Conn().Execute(sql::kAnimeEpisodes, {DistinctArray(anime_ids), after, n});
  auto lists = GroupByParent(anime_ids, r, [&](int i) {
    return Value::Ref(*Intern(EntityKind::kEpisode, EpisodeAt(r, i, 1)));
  });
  return ToPages(std::move(lists), page, [](const Value& node) {
    return PageCursor{Field(node, "number")->AsInt(), std::string(Field(node, "id")->AsString())};
  });
}

std::vector<Value> RequestLoaders::CharacterAnime(const std::vector<std::string>& character_ids,
                                                  const PageRequest& page) {
  std::string year = std::to_string(page.after.key), n = std::to_string(page.first + 1);
  auto r =
      Conn().Execute(sql::kCharacterAnime, {DistinctArray(character_ids), year, page.after.id, n});
  auto lists = GroupByParent(character_ids, r, [&](int i) {
    ValueMap edge;
    edge.emplace_back("role", Text(r, i, 1));
    edge.emplace_back("anime", Value::Ref(*Intern(EntityKind::kAnime, AnimeAt(r, i, 3))));
    // The sort key travels with the node for the cursor; it is not a schema field.
    edge.emplace_back("_year", Value(r.GetInt64(i, 2)));
    return Value(std::move(edge));
  });
  return ToPages(std::move(lists), page, [](const Value& node) {
    return PageCursor{Field(node, "_year")->AsInt(),
                      std::string(Field(*Field(node, "anime"), "id")->AsString())};
  });
}

std::vector<Value> RequestLoaders::CompanyAnime(const std::vector<std::string>& company_ids,
                                                const std::string& role, const PageRequest& page) {
  std::string year = std::to_string(page.after.key), n = std::to_string(page.first + 1);
  auto r = Conn().Execute(sql::kCompanyAnime,
                          {DistinctArray(company_ids), role, year, page.after.id, n});
  auto years = std::make_shared<std::unordered_map<const Value*, int64_t>>();
  auto lists = GroupByParent(company_ids, r, [&](int i) {
    const Value* anime = Intern(EntityKind::kAnime, AnimeAt(r, i, 2));
    (*years)[anime] = r.GetInt64(i, 1);
    return Value::Ref(*anime);
  });
  return ToPages(std::move(lists), page, [&](const Value& node) {
    const Value* anime = &node.Deref();
    return PageCursor{(*years)[anime], std::string(anime->Find("id")->AsString())};
  });
}

namespace {

const sql::AnimeListOrdering* FindOrdering(std::string_view name) {
  for (const auto& o : sql::kAnimeListOrderings) {
    if (name == o.name) return &o;
  }
  return nullptr;
}

std::optional<std::string> IntParam(const std::optional<int64_t>& v) {
  return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
}

std::optional<std::string> DoubleParam(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", *v);
  return std::string(buf);
}

std::optional<std::string> ArrayParam(const std::optional<std::vector<std::string>>& v) {
  return v ? std::optional<std::string>(db::ArrayLiteral(*v)) : std::nullopt;
}

}  // namespace

Value RequestLoaders::AnimeList(const AnimeListFilter& filter, const std::string& order, int first,
                                const std::optional<ListCursor>& after) {
  const sql::AnimeListOrdering* ordering = FindOrdering(order);
  if (!ordering) throw std::invalid_argument("unknown AnimeOrder " + order);
  std::vector<std::optional<std::string>> params = {
      IntParam(filter.year_min),     IntParam(filter.year_max),     filter.season,
      ArrayParam(filter.types),      ArrayParam(filter.statuses),   filter.studio_id,
      DoubleParam(filter.score_min), DoubleParam(filter.score_max), filter.title_prefix,
      std::to_string(first + 1)};
  if (after) {
    params.emplace_back(after->key);
    params.emplace_back(after->id);
  }
  std::vector<db::Param> bound(params.begin(), params.end());
  auto r = Conn().Execute(after ? *ordering->after : *ordering->first, bound);
  constexpr int kKeyAt = 1, kAnimeAt = 2;
  // An empty page after a cursor has no row to carry the check: the cursor's row came before.
  bool has_previous = r.rows() > 0 ? r.Get(0, 0) == std::string_view("t") : after.has_value();
  ValueList nodes;
  std::vector<std::string> cursors;
  for (int i = 0; i < r.rows() && static_cast<int>(nodes.size()) <= first; ++i) {
    if (static_cast<int>(nodes.size()) == first) {
      nodes.emplace_back();  // the extra row: there is a next page
      break;
    }
    const Value* anime = Intern(EntityKind::kAnime, AnimeAt(r, i, kAnimeAt));
    nodes.push_back(Value::Ref(*anime));
    cursors.push_back(EncodeListCursor(ListCursor{order, std::string(r.Get(i, kKeyAt)),
                                                  std::string(anime->Find("id")->AsString())}));
  }
  bool has_next = static_cast<int>(nodes.size()) > first;
  if (has_next) nodes.resize(first);
  return ConnectionPage(std::move(nodes), std::move(cursors), has_next, has_previous);
}

std::vector<Value> RequestLoaders::OriginalWorkAnime(const std::vector<std::string>& work_ids,
                                                     int limit) {
  std::string n = std::to_string(limit);
  auto r = Conn().Execute(sql::kOriginalWorkAnime, {DistinctArray(work_ids), n});
  return GroupByParent(work_ids, r, [&](int i) {
    return Value::Ref(*Intern(EntityKind::kAnime, AnimeAt(r, i, 1)));
  });
}

namespace {

// Printable ASCII: psvc_normalize maps each such character to exactly one character, so the
// query's normalised length is its length in bytes (SchemaTest checks this on the schema).
bool PrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

EntityKind SearchKind(int64_t kind) {
  return kind == 1 ? EntityKind::kAnime : kind == 2 ? EntityKind::kCharacter : EntityKind::kCompany;
}

}  // namespace

std::vector<RequestLoaders::SearchRow> RequestLoaders::Search(const std::string& query,
                                                              const std::vector<int>& kinds,
                                                              int limit, bool with_entities) {
  std::vector<std::string> kind_text;
  for (int k : kinds) kind_text.push_back(std::to_string(k));
  std::string n = std::to_string(limit);
  std::vector<SearchRow> out;
  auto row_at = [](const db::Result& r, int i) {
    return SearchRow{SearchKind(r.GetInt64(i, 0)), std::string(r.Get(i, 1)),
                     std::string(r.Get(i, 2)), static_cast<int>(r.GetInt64(i, 3)),
                     r.IsNull(i, 4) ? std::nullopt : std::optional<std::string>(r.Get(i, 4))};
  };
  auto run = [&](const db::Statement& statement) {
    search_statement_ = statement.name;
    return Conn().Execute(statement, {query, db::ArrayLiteral(kind_text), n});
  };
  // Rows in ranking order: each entity's first row is its hit.
  auto first_per_entity = [&](const db::Result& r) {
    std::vector<std::pair<int64_t, std::string_view>> seen;
    for (int i = 0; i < r.rows() && static_cast<int>(out.size()) < limit; ++i) {
      std::pair<int64_t, std::string_view> key{r.GetInt64(i, 0), r.Get(i, 1)};
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
      seen.push_back(key);
      out.push_back(row_at(r, i));
    }
  };
  if (!with_entities && query.size() >= 2 && PrintableAscii(query)) {
    if (query.size() <= 3) {  // the window of 0017's rules
      first_per_entity(run(query.size() == 2 ? sql::kSearchPrefix2 : sql::kSearchPrefix3));
      return out;
    }
    auto r = run(sql::kSearchPrefixLong);
    // psvc_search adds fuzzy matches when its two branches hold fewer than `limit` rows.
    if (r.rows() >= limit) {
      first_per_entity(r);
      return out;
    }
  }
  if (!with_entities) {
    auto r = run(sql::kSearchCards);
    for (int i = 0; i < r.rows(); ++i) out.push_back(row_at(r, i));
    return out;
  }
  auto r = run(sql::kSearch);
  out.reserve(r.rows());
  constexpr int kAnimeAt = 5, kCharacterAt = kAnimeAt + kAnimeColumns,
                kCompanyAt = kCharacterAt + kCharacterColumns;
  for (int i = 0; i < r.rows(); ++i) {
    SearchRow row = row_at(r, i);
    // The hit's row primes the cache, so hydrating `node` costs no statement. A hit without
    // its row (a hidden or merged anime whose terms were not removed) is left to Load.
    int at = row.kind == EntityKind::kAnime       ? kAnimeAt
             : row.kind == EntityKind::kCharacter ? kCharacterAt
                                                  : kCompanyAt;
    if (!r.IsNull(i, at)) Intern(row.kind, EntityAt(row.kind, r, i, at));
    out.push_back(std::move(row));
  }
  return out;
}

db::StatementList RequestLoaders::Statements() {
  static constexpr const db::Statement* kAll[] = {
      &sql::kAnimeByIds,         &sql::kCharactersByIds,
      &sql::kCompaniesByIds,     &sql::kEpisodesByIds,
      &sql::kOriginalWorksByIds, &sql::kAnimeCharacters,
      &sql::kAnimeCompanies,     &sql::kAnimeRelations,
      &sql::kAnimeOriginalWorks, &sql::kAnimeEpisodes,
      &sql::kCharacterAnime,     &sql::kCompanyAnime,
      &sql::kOriginalWorkAnime,  &sql::kSearch,
      &sql::kSearchCards,        &sql::kSearchPrefix2,
      &sql::kSearchPrefix3,      &sql::kSearchPrefixLong};
  return kAll;
}

db::StatementList RequestLoaders::ListStatements() {
  static constexpr auto kAll = [] {
    std::array<const db::Statement*, 2 * std::size(sql::kAnimeListOrderings)> all{};
    size_t i = 0;
    for (const auto& o : sql::kAnimeListOrderings) {
      all[i++] = o.first;
      all[i++] = o.after;
    }
    return all;
  }();
  return kAll;
}

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(std::string_view raw) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char ch : raw) {
    buf = (buf << 8) | ch;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kB64[(buf >> bits) & 63];
    }
  }
  if (bits > 0) out += kB64[(buf << (6 - bits)) & 63];
  return out;
}

std::optional<std::string> FromBase64Url(std::string_view text) {
  std::string raw;
  uint32_t buf = 0;
  int bits = 0;
  for (char ch : text) {
    const char* p = std::char_traits<char>::find(kB64, 64, ch);
    if (!p) return std::nullopt;
    buf = (buf << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return raw;
}

}  // namespace

std::string EncodeCursor(const PageCursor& cursor) {
  return Base64Url(std::to_string(cursor.key) + ":" + cursor.id);
}

std::optional<PageCursor> DecodeCursor(std::string_view text) {
  if (text.size() > 128) return std::nullopt;
  auto decoded = FromBase64Url(text);
  if (!decoded) return std::nullopt;
  const std::string& raw = *decoded;
  auto colon = raw.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 11) return std::nullopt;
  PageCursor c;
  try {
    size_t used = 0;
    c.key = std::stoll(raw.substr(0, colon), &used);
    if (used != colon) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  auto id = ids::CanonicalUuid(std::string_view(raw).substr(colon + 1));
  if (!id || c.key < -1) return std::nullopt;
  c.id = *id;
  return c;
}

namespace {

// Whether `key` is what PostgreSQL prints for a value of `type` (and parses back exactly).
bool KeyParses(const std::string& key, std::string_view type) {
  if (type == "text") return !key.empty();
  if (key.empty() || key.size() > 40) return false;
  const char* begin = key.c_str();
  char* end = nullptr;
  errno = 0;
  if (type == "float8") {
    std::strtod(begin, &end);
  } else {
    long long n = std::strtoll(begin, &end, 10);
    if (type == "int" && (n < INT32_MIN || n > INT32_MAX)) return false;
  }
  return errno == 0 && end == begin + key.size() &&
         !std::isspace(static_cast<unsigned char>(*begin));
}

}  // namespace

std::string EncodeListCursor(const ListCursor& cursor) {
  return Base64Url(cursor.order + ":" + cursor.id + ":" + cursor.key);
}

std::optional<ListCursor> DecodeListCursor(std::string_view text) {
  // A title is at most 500 characters (2,000 bytes of UTF-8).
  if (text.empty() || text.size() > 4096) return std::nullopt;
  auto raw = FromBase64Url(text);
  if (!raw) return std::nullopt;
  size_t first = raw->find(':');
  if (first == std::string::npos) return std::nullopt;
  size_t second = raw->find(':', first + 1);
  if (second == std::string::npos) return std::nullopt;
  ListCursor c;
  c.order = raw->substr(0, first);
  auto id = ids::CanonicalUuid(std::string_view(*raw).substr(first + 1, second - first - 1));
  if (!id) return std::nullopt;
  c.id = *id;
  c.key = raw->substr(second + 1);
  // libpq sends parameters as C strings: a NUL would cut the key.
  const sql::AnimeListOrdering* ordering = FindOrdering(c.order);
  if (!ordering || c.key.find('\0') != std::string::npos || !KeyParses(c.key, ordering->key_type)) {
    return std::nullopt;
  }
  return c;
}

}  // namespace psvc::api
