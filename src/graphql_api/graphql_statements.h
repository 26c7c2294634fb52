#pragma once
/// SQL of the GraphQL API: entity loads by id, one statement per relationship field and
/// nesting level (parents passed as one uuid[]), and the typeahead search.
/// Included by the GraphQL loaders and the statement check test only.

#include "db/statement.h"

namespace psvc::api::sql {

// Entity columns, in the order graphql_loaders.cpp reads them. A relationship statement
// returns its parent id and edge columns first, then the full target row, so the target is
// cached for the rest of the request without another round trip.
#define PSVC_GQL_ANIME_COLUMNS(a)                                                           \
  a ".id, " a ".title, " a ".title_english, " a ".title_japanese, array_to_json(" a          \
  ".synonyms)::text, " a ".type, " a ".status, " a ".season, " a ".year, " a                \
  ".episode_count, " a ".synopsis, " a ".score, " a ".view_count, " a ".version, to_json(" a \
  ".updated_at) #>> '{}'"
#define PSVC_GQL_CHARACTER_COLUMNS(c) \
  c ".id, " c ".name, " c ".name_japanese, " c ".description, " c ".favorites"
#define PSVC_GQL_COMPANY_COLUMNS(c) c ".id, " c ".name"
#define PSVC_GQL_EPISODE_COLUMNS(e) \
  e ".id, " e ".anime_id, " e ".number, " e ".title, " e ".aired_on::text, " e ".duration_seconds"
#define PSVC_GQL_WORK_COLUMNS(w) w ".id, " w ".title, " w ".kind, " w ".author"

// $1 uuid[] ids. Order is irrelevant: callers map rows back by id.
// First column: the id asked for. A merged duplicate resolves to its survivor (sagas keep a
// redirect); a hidden or removed anime resolves to nothing. The rule is that of
// psvc_resolve_anime_id (0006), written out here: a SQL function with sub-selects is not
// inlined, and calling it per id re-planned it on every execution (0.54 ms for 20 ids
// against 0.12 ms written out, on SF1).
inline constexpr db::Statement kAnimeByIds{
    "gql.anime_by_ids",
    "SELECT r.req, " PSVC_GQL_ANIME_COLUMNS("a") R"sql(
  FROM unnest($1::uuid[]) AS r(req)
 CROSS JOIN LATERAL (
   SELECT coalesce(
     (SELECT CASE WHEN d.merged_into IS NOT NULL THEN
                    (SELECT s.id FROM anime s
                      WHERE s.id = d.merged_into AND s.merged_into IS NULL AND s.hidden_at IS NULL)
                  WHEN d.hidden_at IS NULL THEN d.id END
        FROM anime d WHERE d.id = r.req),
     (SELECT s.id FROM anime_redirect x JOIN anime s ON s.id = x.to_id
       WHERE x.from_id = r.req AND s.merged_into IS NULL AND s.hidden_at IS NULL)) AS id) t
  JOIN anime a ON a.id = t.id)sql"};
inline constexpr db::Statement kCharactersByIds{
    "gql.characters_by_ids",
    "SELECT " PSVC_GQL_CHARACTER_COLUMNS("c") " FROM character c WHERE c.id = ANY($1::uuid[])"};
inline constexpr db::Statement kCompaniesByIds{
    "gql.companies_by_ids",
    "SELECT " PSVC_GQL_COMPANY_COLUMNS("c") " FROM company c WHERE c.id = ANY($1::uuid[])"};
inline constexpr db::Statement kEpisodesByIds{
    "gql.episodes_by_ids",
    "SELECT " PSVC_GQL_EPISODE_COLUMNS("e") " FROM episode e WHERE e.id = ANY($1::uuid[])"};
inline constexpr db::Statement kOriginalWorksByIds{
    "gql.original_works_by_ids",
    "SELECT " PSVC_GQL_WORK_COLUMNS("w") " FROM original_work w WHERE w.id = ANY($1::uuid[])"};

// Anime.characters: the first $3 credits of every parent, main roles first, then the most
// favourited. $1 uuid[] parents, $2 text role or NULL, $3 int limit.
// Output: parent id, role, character columns.
inline constexpr db::Statement kAnimeCharacters{
    "gql.anime_characters",
    "SELECT p.id, x.role, " PSVC_GQL_CHARACTER_COLUMNS("x") R"sql(
  FROM unnest($1::uuid[]) AS p(id)
 CROSS JOIN LATERAL (
   SELECT ac.role, c.* FROM anime_character ac JOIN character c ON c.id = ac.character_id
    WHERE ac.anime_id = p.id AND ($2::text IS NULL OR ac.role = $2::text)
    ORDER BY CASE ac.role WHEN 'MAIN' THEN 0 WHEN 'SUPPORTING' THEN 1 ELSE 2 END,
             c.favorites DESC, c.id
    LIMIT $3::int) x)sql"};

// Anime.studios / Anime.companies. $1 uuid[] parents, $2 text role or NULL.
// Output: parent id, role, company columns; studios first, then by name.
inline constexpr db::Statement kAnimeCompanies{
    "gql.anime_companies",
    "SELECT ac.anime_id, ac.role, " PSVC_GQL_COMPANY_COLUMNS("c") R"sql(
  FROM anime_company ac JOIN company c ON c.id = ac.company_id
 WHERE ac.anime_id = ANY($1::uuid[]) AND ($2::text IS NULL OR ac.role = $2::text)
 ORDER BY ac.anime_id, CASE ac.role WHEN 'studio' THEN 0 WHEN 'producer' THEN 1 ELSE 2 END,
          c.name, c.id)sql"};

// Anime.relations: stored rows plus the inverse of rows stored from the other end, one per
// (parent, target) with the stored row preferred (as the graph primitives read them).
// $1 uuid[] parents, $2 text[] relation types or NULL (all).
// Output: parent id, relation type, target anime columns; ordered by type, then year.
inline constexpr db::Statement kAnimeRelations{
    "gql.anime_relations",
    R"sql(
WITH r AS (
  SELECT anime_id AS src, related_anime_id AS dst, relation_type AS type, 0 AS inferred
    FROM anime_relation WHERE anime_id = ANY($1::uuid[])
  UNION ALL
  SELECT related_anime_id, anime_id, psvc_inverse_relation(relation_type), 1
    FROM anime_relation WHERE related_anime_id = ANY($1::uuid[])
),
d AS (
  SELECT DISTINCT ON (src, dst) src, dst, type FROM r
   ORDER BY src, dst, inferred,
            array_position('{SEQUEL,PREQUEL,SIDE_STORY,ALTERNATIVE,SUMMARY,FULL_STORY,CHARACTER,SPIN_OFF,ADAPTATION,OTHER}'::text[], type)
)
SELECT d.src, d.type, )sql" PSVC_GQL_ANIME_COLUMNS("a") R"sql(
  FROM d JOIN anime a ON a.id = d.dst AND a.merged_into IS NULL AND a.hidden_at IS NULL
 WHERE $2::text[] IS NULL OR d.type = ANY($2::text[])
 ORDER BY d.src,
          array_position('{SEQUEL,PREQUEL,SIDE_STORY,ALTERNATIVE,SUMMARY,FULL_STORY,CHARACTER,SPIN_OFF,ADAPTATION,OTHER}'::text[], d.type),
          a.year NULLS LAST, a.id)sql"};

// Anime.originalWorks. $1 uuid[] parents. Output: parent id, work columns.
inline constexpr db::Statement kAnimeOriginalWorks{
    "gql.anime_original_works",
    "SELECT r.anime_id, " PSVC_GQL_WORK_COLUMNS("w") R"sql(
  FROM anime_original_work_relation r JOIN original_work w ON w.id = r.original_work_id
 WHERE r.anime_id = ANY($1::uuid[])
 ORDER BY r.anime_id, w.title, w.id)sql"};

// Anime.episodes page: keyset on episode number. $1 uuid[] parents, $2 int: after this number
// (-1 = from the start), $3 int: page size + 1 (the extra row says whether there is more).
inline constexpr db::Statement kAnimeEpisodes{
    "gql.anime_episodes",
    "SELECT p.id, " PSVC_GQL_EPISODE_COLUMNS("x") R"sql(
  FROM unnest($1::uuid[]) AS p(id)
 CROSS JOIN LATERAL (
   SELECT e.* FROM episode e WHERE e.anime_id = p.id AND e.number > $2::int
    ORDER BY e.number LIMIT $3::int) x)sql"};

// Character.anime page: keyset on (anime_year, anime_id), the reverse index's order.
// $1 uuid[] parents, $2 int year and $3 uuid id of the cursor ((-1, nil) = from the start),
// $4 int page size + 1. Output: parent id, role, anime_year, anime columns.
inline constexpr db::Statement kCharacterAnime{
    "gql.character_anime",
    "SELECT p.id, x.role, x.anime_year, " PSVC_GQL_ANIME_COLUMNS("x") R"sql(
  FROM unnest($1::uuid[]) AS p(id)
 CROSS JOIN LATERAL (
   SELECT ac.role, ac.anime_year, a.* FROM anime_character ac JOIN anime a ON a.id = ac.anime_id
    WHERE ac.character_id = p.id AND (ac.anime_year, ac.anime_id) > ($2::int, $3::uuid)
      AND a.merged_into IS NULL AND a.hidden_at IS NULL
    ORDER BY ac.anime_year, ac.anime_id LIMIT $4::int) x)sql"};

// Company.anime page, one role: keyset on (anime_year, anime_id) as in anime_company_reverse.
// $1 uuid[] parents, $2 text role, $3 int year, $4 uuid id, $5 int page size + 1.
// Output: parent id, anime_year, anime columns.
inline constexpr db::Statement kCompanyAnime{
    "gql.company_anime",
    "SELECT p.id, x.anime_year, " PSVC_GQL_ANIME_COLUMNS("x") R"sql(
  FROM unnest($1::uuid[]) AS p(id)
 CROSS JOIN LATERAL (
   SELECT ac.anime_year, a.* FROM anime_company ac JOIN anime a ON a.id = ac.anime_id
    WHERE ac.company_id = p.id AND ac.role = $2::text
      AND (ac.anime_year, ac.anime_id) > ($3::int, $4::uuid)
      AND a.merged_into IS NULL AND a.hidden_at IS NULL
    ORDER BY ac.anime_year, ac.anime_id LIMIT $5::int) x)sql"};

// OriginalWork.anime: the first $2 adaptations by year. $1 uuid[] parents.
inline constexpr db::Statement kOriginalWorkAnime{
    "gql.original_work_anime",
    "SELECT p.id, " PSVC_GQL_ANIME_COLUMNS("x") R"sql(
  FROM unnest($1::uuid[]) AS p(id)
 CROSS JOIN LATERAL (
   SELECT a.* FROM anime_original_work_relation r JOIN anime a ON a.id = r.anime_id
    WHERE r.original_work_id = p.id AND a.merged_into IS NULL AND a.hidden_at IS NULL
    ORDER BY r.anime_year, r.anime_id LIMIT $2::int) x)sql"};

// Typeahead: psvc_search (migrations/0017_search_cards.sql has the ranking rules; 0005 the
// table) gives the hits in order, and each hit's entity columns come along (NULL for the other
// kinds) so the loaders hold every hit's `node` without another statement.
// $1 text query as typed, $2 smallint[] kinds (1 anime, 2 character, 3 company), $3 int limit.
// Output: kind, entity id, matched term, class (0 exact, 1 prefix, 2 fuzzy), label, then the
// anime, character and company columns.
inline constexpr db::Statement kSearch{"gql.search", R"sql(
SELECT top.kind, top.entity_id, top.term, top.class, top.label,
       )sql" PSVC_GQL_ANIME_COLUMNS("a") ", " PSVC_GQL_CHARACTER_COLUMNS("c") ", " PSVC_GQL_COMPANY_COLUMNS("co") R"sql(
  FROM psvc_search($1::text, $2::smallint[], $3::int)
       WITH ORDINALITY AS top(kind, entity_id, term, class, label, rank)
  -- OFFSET 0 keeps each look-up a subquery, so `top.kind = n` gates it (one index probe per
  -- hit, not three).
  LEFT JOIN LATERAL (SELECT * FROM anime a
                      WHERE top.kind = 1 AND a.id = top.entity_id
                        AND a.merged_into IS NULL AND a.hidden_at IS NULL OFFSET 0) a ON true
  LEFT JOIN LATERAL (SELECT * FROM character c
                      WHERE top.kind = 2 AND c.id = top.entity_id OFFSET 0) c ON true
  LEFT JOIN LATERAL (SELECT * FROM company co
                      WHERE top.kind = 3 AND co.id = top.entity_id OFFSET 0) co ON true
 ORDER BY top.rank)sql"};

// The same hits without the entity columns, for selections that need no more of `node` than
// the label (kind, entity id, matched term, class, label; NULL when too long to keep, 0018). Looking up the entities cost as
// much as the search itself.
inline constexpr db::Statement kSearchCards{"gql.search_cards", R"sql(
SELECT kind, entity_id, term, class, label
  FROM psvc_search($1::text, $2::smallint[], $3::int) WITH ORDINALITY
 ORDER BY ordinality)sql"};

// Queries of 2 or 3 characters, the crowded prefixes of the first keystrokes, without
// psvc_search's plpgsql: the window of 0017's rules read straight from search_term_prefix2 /
// _prefix3, which are in ranking order. The caller keeps each entity's first row and stops at
// the limit. Only for printable-ASCII queries, on which psvc_normalize is lower() (unaccent
// leaves ASCII alone; SchemaTest checks it), so the length is known and the plpgsql call is
// saved (~8% of the statement). $3 is the limit (the window is 3x). One statement per length:
// the planner uses the expression indexes on left(norm, 2) / left(norm, 3) only for a literal.
inline constexpr db::Statement kSearchPrefix2{"gql.search_prefix2", R"sql(
SELECT t.kind, t.entity_id, t.term, (length(t.norm) > 2)::int, t.label
  FROM search_term t
 WHERE left(t.norm, 2) = lower($1::text) AND t.kind = ANY ($2::smallint[])
 ORDER BY (length(t.norm) > 2), t.popularity DESC, length(t.norm), t.norm, t.kind, t.entity_id
 LIMIT $3::int * 3)sql"};
inline constexpr db::Statement kSearchPrefix3{"gql.search_prefix3", R"sql(
SELECT t.kind, t.entity_id, t.term, (length(t.norm) > 3)::int, t.label
  FROM search_term t
 WHERE left(t.norm, 3) = lower($1::text) AND t.kind = ANY ($2::smallint[])
 ORDER BY (length(t.norm) > 3), t.popularity DESC, length(t.norm), t.norm, t.kind, t.entity_id
 LIMIT $3::int * 3)sql"};

// Printable-ASCII queries of 4+ characters, same idea: psvc_search's exact and prefix
// branches (0015-0017) without its plpgsql, rows in ranking order. Class 0 rows are the exact
// branch (at most $3), class 1 the prefix window ($3 * 3 terms; exact terms appear there too).
// With fewer than $3 rows in all, psvc_search would add fuzzy matches: the caller then runs
// gql.search_cards instead. Output: kind, entity id, term, class, label.
inline constexpr db::Statement kSearchPrefixLong{"gql.search_prefix_long", R"sql(
SELECT kind, entity_id, term, class, label FROM (
  (SELECT t.kind, t.entity_id, t.term, 0 AS class, t.label, t.popularity, t.norm
     FROM search_term t
    WHERE t.norm = lower($1::text) AND t.kind = ANY ($2::smallint[])
    ORDER BY t.popularity DESC, t.kind, t.entity_id LIMIT $3::int)
  UNION ALL
  (SELECT t.kind, t.entity_id, t.term, 1, t.label, t.popularity, t.norm
     FROM search_term t
    WHERE left(t.norm, 3) = left(lower($1::text), 3) AND length(t.norm) > 3
      AND starts_with(t.norm, lower($1::text)) AND t.kind = ANY ($2::smallint[])
    ORDER BY t.popularity DESC, length(t.norm), t.norm, t.kind, t.entity_id
    LIMIT $3::int * 3)) hit
 ORDER BY class, popularity DESC, length(norm), norm, kind, entity_id)sql"};

// Search lane upkeep (primary only): company popularity, see migrations/0009. Returns the
// number of search_term rows changed.
inline constexpr db::Statement kRefreshCompanyPopularity{
    "gql.refresh_company_popularity", "SELECT psvc_refresh_company_popularity()"};

#undef PSVC_GQL_ANIME_COLUMNS
#undef PSVC_GQL_CHARACTER_COLUMNS
#undef PSVC_GQL_COMPANY_COLUMNS
#undef PSVC_GQL_EPISODE_COLUMNS
#undef PSVC_GQL_WORK_COLUMNS

}  // namespace psvc::api::sql
