#pragma once
/// Per-request batched loading for the GraphQL API (a DataLoader): each call takes every
/// parent of one nesting level and costs one SQL statement; entities are cached for the
/// request so the same row is read once.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "db/statement.h"
#include "graphql/value.h"

namespace psvc::db {
class Connection;
class Pool;
class PooledConnection;
}  // namespace psvc::db

namespace psvc::api {

/// Entity tables the API hydrates by id.
enum class EntityKind { kAnime, kCharacter, kCompany, kEpisode, kOriginalWork };

/// Keyset position in a page: what the last row of the previous page sorted by.
struct PageCursor {
  int64_t key = -1;  ///< episode number or anime_year; -1 = from the start
  std::string id = "00000000-0000-0000-0000-000000000000";
};

/// How a connection field pages: cursor (already decoded) and page size.
struct PageRequest {
  PageCursor after;
  int first = 20;
  bool has_after = false;  ///< `after` was given (pageInfo.hasPreviousPage of nested pages)
};

/// Query.animeList filter; absent members do not filter.
struct AnimeListFilter {
  std::optional<int64_t> year_min, year_max;
  std::optional<std::string> season;
  std::optional<std::vector<std::string>> types, statuses;
  std::optional<std::string> studio_id;  ///< canonical company id
  std::optional<double> score_min, score_max;
  std::optional<std::string> title_prefix;
};

/// Keyset position in Query.animeList: the ordering it was issued for, the last row's sort
/// key (as PostgreSQL prints it) and id.
struct ListCursor {
  std::string order;
  std::string key;
  std::string id;
};

/// Database access limits of one request.
struct LoaderOptions {
  std::chrono::milliseconds acquire_timeout{1000};
  std::chrono::milliseconds statement_timeout{2000};
};

/// Loads entities and relationships for one GraphQL request. Results are graphql::Value maps
/// keyed by GraphQL field names; entity maps are owned by this object (resolvers return
/// references to them), so it must outlive the execution. Not thread-safe: one per request.
class RequestLoaders {
 public:
  RequestLoaders(db::Pool& pool, LoaderOptions options);
  ~RequestLoaders();
  RequestLoaders(const RequestLoaders&) = delete;
  RequestLoaders& operator=(const RequestLoaders&) = delete;

  /// Entities by canonical id, in the order asked (nullptr: no such row). One statement for
  /// the ids not cached yet, none when all are.
  std::vector<const graphql::Value*> Load(EntityKind kind, const std::vector<std::string>& ids);
  /// Forgets a cached entity (after a mutation changed it).
  void Evict(EntityKind kind, const std::string& id);

  // Relationship loaders: one result per parent id, in order. Lists hold edge maps or entity
  // references; pages are {"nodes": [...], "pageInfo": {...}} maps.

  /// Anime.characters: [{role, character}], at most `limit` per anime.
  std::vector<graphql::Value> AnimeCharacters(const std::vector<std::string>& anime_ids,
                                              std::optional<std::string> role, int limit);
  /// Anime.companies (role filter optional): [{role, company}]; `companies_only` gives
  /// [Company] instead (Anime.studios).
  std::vector<graphql::Value> AnimeCompanies(const std::vector<std::string>& anime_ids,
                                             std::optional<std::string> role, bool companies_only);
  /// Anime.relations: [{type, target}].
  std::vector<graphql::Value> AnimeRelations(const std::vector<std::string>& anime_ids,
                                             const std::optional<std::vector<std::string>>& types);
  /// Anime.originalWorks: [OriginalWork].
  std::vector<graphql::Value> AnimeOriginalWorks(const std::vector<std::string>& anime_ids);
  /// Anime.episodes page (cursor key = episode number).
  std::vector<graphql::Value> AnimeEpisodes(const std::vector<std::string>& anime_ids,
                                            const PageRequest& page);
  /// Character.anime page of {role, anime} (cursor = anime_year, anime id).
  std::vector<graphql::Value> CharacterAnime(const std::vector<std::string>& character_ids,
                                             const PageRequest& page);
  /// Company.anime page for one role (cursor = anime_year, anime id).
  std::vector<graphql::Value> CompanyAnime(const std::vector<std::string>& company_ids,
                                           const std::string& role, const PageRequest& page);
  /// Query.animeList: one page in `order` (an AnimeOrder value of sql::kAnimeListOrderings)
  /// as {edges, nodes, pageInfo}; one statement.
  graphql::Value AnimeList(const AnimeListFilter& filter, const std::string& order, int first,
                           const std::optional<ListCursor>& after);
  /// OriginalWork.anime: the first `limit` adaptations.
  std::vector<graphql::Value> OriginalWorkAnime(const std::vector<std::string>& work_ids,
                                                int limit);

  /// One typeahead hit before hydration.
  struct SearchRow {
    EntityKind kind;
    std::string id;
    std::string matched;
    int match_class;  ///< 0 exact, 1 prefix, 2 fuzzy
    /// The entity's display name (anime title; character, company name); absent when it is
    /// too long to be kept with the search terms (migrations/0018).
    std::optional<std::string> label;
  };
  /// Runs the search; `kinds` are 1 anime, 2 character, 3 company. With `with_entities`, every
  /// hit's entity comes back in the same statement and is cached, so Load() on the hits is
  /// free; without, only the hits (cheaper: for selections that need no more than the label).
  std::vector<SearchRow> Search(const std::string& query, const std::vector<int>& kinds, int limit,
                                bool with_entities);

  /// Statements sent on this request's connection so far (tests count round trips).
  uint64_t statements_sent() const;
  /// Name of the statement the last Search ran (empty before any): tests check the path taken.
  std::string_view search_statement() const { return search_statement_; }

  /// Every statement the loaders run (for the prepare-all test).
  static db::StatementList Statements();
  /// The statements of Query.animeList (two per ordering), for the prepare-all and EXPLAIN tests.
  static db::StatementList ListStatements();

 private:
  struct Cache;
  db::Connection& Conn();
  const graphql::Value* Intern(EntityKind kind, graphql::Value entity);

  db::Pool& pool_;
  LoaderOptions options_;
  std::unique_ptr<db::PooledConnection> conn_;
  uint64_t statements_at_acquire_ = 0;
  std::string_view search_statement_;
  std::unique_ptr<Cache> cache_;
};

/// Encodes / decodes the opaque cursor strings of connection fields ("<key>:<uuid>", base64).
std::string EncodeCursor(const PageCursor& cursor);
std::optional<PageCursor> DecodeCursor(std::string_view text);
/// Same for Query.animeList cursors ("<order>:<uuid>:<key>", base64). Decoding checks the
/// shape, the ordering, the id and that the key parses as that ordering's key type.
std::string EncodeListCursor(const ListCursor& cursor);
std::optional<ListCursor> DecodeListCursor(std::string_view text);

}  // namespace psvc::api
