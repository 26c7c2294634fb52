#pragma once
/// SQL of Query.animeList (and of Company.anime and Character.anime, which page the same
/// way: below): one statement per ordering and page position (the first page, or after a cursor),
/// each walking that ordering's index of migrations/0019 (keyset pagination: no OFFSET, so page
/// 1,000 costs what page 1 costs). The filters are optional parameters (NULL: no filter), checked
/// row by row along the index walk. Included by the GraphQL loaders and the statement check test
/// only.

#include "db/statement.h"

namespace psvc::api::sql {

// Anime columns in the order graphql_loaders.cpp reads them (as PSVC_GQL_ANIME_COLUMNS).
#define PSVC_GQL_LIST_COLUMNS                                                                   \
  "x.id, x.title, x.title_english, x.title_japanese, array_to_json(x.synonyms)::text, x.type, " \
  "x.status, x.season, x.year, x.episode_count, x.synopsis, x.score, x.view_count, x.version, " \
  "to_json(x.updated_at) #>> '{}'"

// The filter, on the rows `t` (`x`: the rows of the ordered walk). $1 int year at least, $2 int
// year at most, $3 text season, $4 text[] types, $5 text[] statuses, $6 uuid studio (company
// credited with role 'studio'), $7 float8 score at least, $8 float8 score at most, $9 text title
// prefix (compared lower-case); NULL: no filter.
#define PSVC_GQL_LIST_FILTER_ON(t)                                                   \
  " CASE WHEN ($1::int IS NULL OR " t ".year >= $1::int) AND ($2::int IS NULL OR " t \
  ".year <= $2::int)"                                                                \
  " AND ($3::text IS NULL OR " t                                                     \
  ".season = $3::text)"                                                              \
  " AND ($4::text[] IS NULL OR " t                                                   \
  ".type = ANY ($4::text[]))"                                                        \
  " AND ($5::text[] IS NULL OR " t                                                   \
  ".status = ANY ($5::text[]))"                                                      \
  " AND ($6::uuid IS NULL OR " t                                                     \
  ".id IN (SELECT ac.anime_id FROM anime_company ac"                                 \
  " WHERE ac.company_id = $6::uuid AND ac.role = 'studio'))"                         \
  " AND ($7::float8 IS NULL OR " t                                                   \
  ".score >= $7::float8)"                                                            \
  " AND ($8::float8 IS NULL OR " t                                                   \
  ".score <= $8::float8)"                                                            \
  " AND ($9::text IS NULL OR starts_with(lower(" t                                   \
  ".title), lower($9::text)))"                                                       \
  " THEN true ELSE false END"
#define PSVC_GQL_LIST_FILTER PSVC_GQL_LIST_FILTER_ON("x")

#define PSVC_GQL_LIST_VISIBLE " a.merged_into IS NULL AND a.hidden_at IS NULL"

// The two statements of one ordering. `key` is the sort key expression of its index (0019),
// `type` its SQL type, `dir` ASC or DESC (both columns: a backward walk of the same index),
// `back` the other direction, `next` the row comparison that selects rows after the cursor,
// `prior` the rows up to it.
// Shape: the ordered walk of the index is a subquery fenced by OFFSET 0 and the filter is
// applied outside it. The API's pool plans generically (GraphqlSessionSetup): with the filter
// inside, its optional clauses made the planner expect one matching row and prefer a
// sequential scan and a sort of the whole table; fenced, it sees the walk for what it is and
// stops after the page (graphql_list_pgtest checks every plan).
// Output: whether a matching row sorts at or before the cursor (found by walking back from
// the cursor; always false on the first page), the row's sort key as text (the cursor's key),
// the anime columns. $10 int limit (page size + 1: the extra row says whether there is more),
// $11 key and $12 uuid id of the cursor.
#define PSVC_GQL_LIST_STATEMENTS(ident, name, key, type, dir, back, next, prior)                  \
  inline constexpr db::Statement kAnimeList##ident##First{                                        \
      "gql.anime_list_" name "_first",                                                            \
      "SELECT false, x.sort_key::text, " PSVC_GQL_LIST_COLUMNS " FROM (SELECT " key               \
      " AS sort_key, a.* FROM anime a WHERE" PSVC_GQL_LIST_VISIBLE " ORDER BY " key " " dir       \
      ", a.id " dir " OFFSET 0) x WHERE" PSVC_GQL_LIST_FILTER " LIMIT $10::int"};                 \
  inline constexpr db::Statement kAnimeList##ident##After{                                        \
      "gql.anime_list_" name "_after",                                                            \
      "SELECT (SELECT EXISTS (SELECT 1 FROM (SELECT a.* FROM anime a WHERE" PSVC_GQL_LIST_VISIBLE \
      " AND (" key ", a.id) " prior " ($11::" type ", $12::uuid) ORDER BY " key " " back          \
      ", a.id " back " OFFSET 0) x WHERE" PSVC_GQL_LIST_FILTER                                    \
      ")), x.sort_key::text, " PSVC_GQL_LIST_COLUMNS " FROM (SELECT " key                         \
      " AS sort_key, a.* FROM anime a WHERE" PSVC_GQL_LIST_VISIBLE " AND (" key ", a.id) " next   \
      " ($11::" type ", $12::uuid) ORDER BY " key " " dir ", a.id " dir                           \
      " OFFSET 0) x WHERE" PSVC_GQL_LIST_FILTER " LIMIT $10::int"};

PSVC_GQL_LIST_STATEMENTS(ScoreDesc, "score_desc", "coalesce(a.score, -1::float8)", "float8", "DESC",
                         "ASC", "<", ">=")
PSVC_GQL_LIST_STATEMENTS(ScoreAsc, "score_asc", "coalesce(a.score, -1::float8)", "float8", "ASC",
                         "DESC", ">", "<=")
PSVC_GQL_LIST_STATEMENTS(YearDesc, "year_desc", "coalesce(a.year, 0)", "int", "DESC", "ASC", "<",
                         ">=")
PSVC_GQL_LIST_STATEMENTS(YearAsc, "year_asc", "coalesce(a.year, 0)", "int", "ASC", "DESC", ">",
                         "<=")
PSVC_GQL_LIST_STATEMENTS(PopularityDesc, "popularity_desc", "a.view_count", "bigint", "DESC", "ASC",
                         "<", ">=")
PSVC_GQL_LIST_STATEMENTS(PopularityAsc, "popularity_asc", "a.view_count", "bigint", "ASC", "DESC",
                         ">", "<=")
PSVC_GQL_LIST_STATEMENTS(TitleAsc, "title_asc", "a.title", "text", "ASC", "DESC", ">", "<=")
PSVC_GQL_LIST_STATEMENTS(TitleDesc, "title_desc", "a.title", "text", "DESC", "ASC", "<", ">=")

#undef PSVC_GQL_LIST_STATEMENTS

// Company.anime and Character.anime with the same filter and orderings, for every parent of a
// nesting level at once (one statement per level). Each parent's credits are read through the
// edge table's reverse index (anime_company_reverse: company, role, anime_year, anime_id;
// anime_character_reverse: character, anime_year, anime_id), then each anime by primary key,
// so a page costs at most the parent's number of credits whatever its depth: YEAR orderings
// walk that index in its order (anime_year is the anime's coalesce(year, 0), kept by
// triggers, 0001), seek it to the cursor and stop after the page; the other orderings top-N
// sort the parent's matching credits (their keys do not live on the edges).
// Shape: each credit's anime is a LATERAL subquery fenced by OFFSET 0, so the plan must go
// from the parent's credits to the anime. Unfenced, the generic plan of a sorted ordering
// walked the whole catalogue's ordering index (0019) and joined each row to the parent's
// credits (a small company paid for every anime). The check of rows before the cursor is a
// LATERAL ... LIMIT 1, not EXISTS: the planner turned that EXISTS into a hashed subplan over
// every credit of every parent (graphql_list_pgtest checks every plan).
// Parameters: $1..$9 the filter as above, $10 uuid[] parents; Company.anime $11 text role; then
// for both the limit (page size + 1) and, after a cursor, the cursor's key and uuid id.
// Output: parent id, whether a matching row sorts at or before the cursor (false on a first
// page), the sort key as text, the edge's role, the anime columns. After a cursor every parent
// has a row (a parent with an empty page has NULL anime columns) to carry that flag.
#define PSVC_GQL_NESTED_EDGES(edge, parent, role, seek)                                          \
  " FROM " edge                                                                                  \
  " e CROSS JOIN LATERAL (SELECT a.* FROM anime a WHERE a.id = e.anime_id "                      \
  "AND" PSVC_GQL_LIST_VISIBLE " AND" PSVC_GQL_LIST_FILTER_ON("a") " OFFSET 0) a WHERE e." parent \
                                                                  " = p.id" role seek
#define PSVC_GQL_NESTED_STATEMENTS(ident, name, key, type, dir, next, prior, edge, parent, role,  \
                                   limit, ckey, cid, seek_next, seek_prior)                       \
  inline constexpr db::Statement k##ident##First{                                                 \
      "gql." name "_first",                                                                       \
      "SELECT p.id, false, x.sort_key::text, x.edge_role, " PSVC_GQL_LIST_COLUMNS                 \
      " FROM unnest($10::uuid[]) AS p(id) CROSS JOIN LATERAL (SELECT " key                        \
      " AS sort_key, e.role AS edge_role, a.*" PSVC_GQL_NESTED_EDGES(                             \
          edge, parent, role, "") " ORDER BY " key " " dir ", e.anime_id " dir " LIMIT " limit    \
                                  "::int) x"};                                                    \
  inline constexpr db::Statement k##ident##After{                                                 \
      "gql." name "_after",                                                                       \
      "SELECT p.id, b.before IS NOT NULL, x.sort_key::text, x.edge_role, " PSVC_GQL_LIST_COLUMNS  \
      " FROM unnest($10::uuid[]) AS p(id) LEFT JOIN LATERAL (SELECT true AS "                     \
      "before" PSVC_GQL_NESTED_EDGES(                                                             \
          edge, parent, role,                                                                     \
          seek_prior) " AND (" key ", e.anime_id) " prior " (" ckey "::" type ", " cid            \
                      "::uuid) LIMIT 1) b ON true LEFT JOIN LATERAL (SELECT " key                 \
                      " AS sort_key, e.role AS edge_role, a.*" PSVC_GQL_NESTED_EDGES(             \
                          edge, parent, role,                                                     \
                          seek_next) " AND (" key ", e.anime_id) " next " (" ckey "::" type       \
                                     ", " cid "::uuid) ORDER BY " key " " dir ", e.anime_id " dir \
                                     " LIMIT " limit "::int) x ON true"};

// A YEAR ordering after a cursor seeks the edge index to the cursor (the year is on the edge).
#define PSVC_GQL_COMPANY_SEEK(op) " AND (e.anime_year, e.anime_id) " op " ($13::int, $14::uuid)"
#define PSVC_GQL_CHARACTER_SEEK(op) " AND (e.anime_year, e.anime_id) " op " ($12::int, $13::uuid)"

#define PSVC_GQL_NESTED_ORDERING(ident, name, key, type, dir, next, prior, company_next,           \
                                 company_prior, character_next, character_prior)                   \
  PSVC_GQL_NESTED_STATEMENTS(CompanyAnime##ident, "company_anime_" name, key, type, dir, next,     \
                             prior, "anime_company", "company_id", " AND e.role = $11::text",      \
                             "$12", "$13", "$14", company_next, company_prior)                     \
  PSVC_GQL_NESTED_STATEMENTS(CharacterAnime##ident, "character_anime_" name, key, type, dir, next, \
                             prior, "anime_character", "character_id", "", "$11", "$12", "$13",    \
                             character_next, character_prior)
#define PSVC_GQL_NESTED_SORTED(ident, name, key, type, dir, next, prior) \
  PSVC_GQL_NESTED_ORDERING(ident, name, key, type, dir, next, prior, "", "", "", "")
#define PSVC_GQL_NESTED_BY_YEAR(ident, name, dir, next, prior)                        \
  PSVC_GQL_NESTED_ORDERING(ident, name, "e.anime_year", "int", dir, next, prior,      \
                           PSVC_GQL_COMPANY_SEEK(next), PSVC_GQL_COMPANY_SEEK(prior), \
                           PSVC_GQL_CHARACTER_SEEK(next), PSVC_GQL_CHARACTER_SEEK(prior))

PSVC_GQL_NESTED_SORTED(ScoreDesc, "score_desc", "coalesce(a.score, -1::float8)", "float8", "DESC",
                       "<", ">=")
PSVC_GQL_NESTED_SORTED(ScoreAsc, "score_asc", "coalesce(a.score, -1::float8)", "float8", "ASC", ">",
                       "<=")
PSVC_GQL_NESTED_BY_YEAR(YearDesc, "year_desc", "DESC", "<", ">=")
PSVC_GQL_NESTED_BY_YEAR(YearAsc, "year_asc", "ASC", ">", "<=")
PSVC_GQL_NESTED_SORTED(PopularityDesc, "popularity_desc", "a.view_count", "bigint", "DESC", "<",
                       ">=")
PSVC_GQL_NESTED_SORTED(PopularityAsc, "popularity_asc", "a.view_count", "bigint", "ASC", ">", "<=")
PSVC_GQL_NESTED_SORTED(TitleAsc, "title_asc", "a.title", "text", "ASC", ">", "<=")
PSVC_GQL_NESTED_SORTED(TitleDesc, "title_desc", "a.title", "text", "DESC", "<", ">=")

#undef PSVC_GQL_NESTED_BY_YEAR
#undef PSVC_GQL_NESTED_SORTED
#undef PSVC_GQL_CHARACTER_SEEK
#undef PSVC_GQL_COMPANY_SEEK
#undef PSVC_GQL_NESTED_ORDERING
#undef PSVC_GQL_NESTED_STATEMENTS
#undef PSVC_GQL_NESTED_EDGES
#undef PSVC_GQL_LIST_COLUMNS
#undef PSVC_GQL_LIST_FILTER
#undef PSVC_GQL_LIST_FILTER_ON
#undef PSVC_GQL_LIST_VISIBLE
#undef PSVC_GQL_LIST_COLUMNS

/// One offered ordering: its GraphQL enum value and its statements (animeList, Company.anime,
/// Character.anime; each the first page and after a cursor).
struct AnimeListOrdering {
  const char* name;      ///< AnimeOrder value
  const char* key_type;  ///< "float8", "int", "bigint" or "text": how a cursor's key parses
  const db::Statement* first;
  const db::Statement* after;
  const db::Statement* company_first;
  const db::Statement* company_after;
  const db::Statement* character_first;
  const db::Statement* character_after;
};

#define PSVC_GQL_ORDERING(value, type, ident)                          \
  {                                                                    \
    value, type, &kAnimeList##ident##First, &kAnimeList##ident##After, \
        &kCompanyAnime##ident##First, &kCompanyAnime##ident##After,    \
        &kCharacterAnime##ident##First, &kCharacterAnime##ident##After \
  }

inline constexpr AnimeListOrdering kAnimeListOrderings[] = {
    PSVC_GQL_ORDERING("POPULARITY_DESC", "bigint", PopularityDesc),
    PSVC_GQL_ORDERING("POPULARITY_ASC", "bigint", PopularityAsc),
    PSVC_GQL_ORDERING("SCORE_DESC", "float8", ScoreDesc),
    PSVC_GQL_ORDERING("SCORE_ASC", "float8", ScoreAsc),
    PSVC_GQL_ORDERING("YEAR_DESC", "int", YearDesc),
    PSVC_GQL_ORDERING("YEAR_ASC", "int", YearAsc),
    PSVC_GQL_ORDERING("TITLE_ASC", "text", TitleAsc),
    PSVC_GQL_ORDERING("TITLE_DESC", "text", TitleDesc),
};
#undef PSVC_GQL_ORDERING

}  // namespace psvc::api::sql
