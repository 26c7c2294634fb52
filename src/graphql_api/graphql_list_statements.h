#pragma once
/// SQL of Query.animeList: one statement per ordering and page position (the first page, or
/// after a cursor), each walking that ordering's index of migrations/0019 (keyset pagination:
/// no OFFSET, so page 1,000 costs what page 1 costs). The filters are optional parameters
/// (NULL: no filter), checked row by row along the index walk.
/// Included by the GraphQL loaders and the statement check test only.

#include "db/statement.h"

namespace psvc::api::sql {

// Anime columns in the order graphql_loaders.cpp reads them (as PSVC_GQL_ANIME_COLUMNS).
#define PSVC_GQL_LIST_COLUMNS                                                                   \
  "x.id, x.title, x.title_english, x.title_japanese, array_to_json(x.synonyms)::text, x.type, " \
  "x.status, x.season, x.year, x.episode_count, x.synopsis, x.score, x.view_count, x.version, " \
  "to_json(x.updated_at) #>> '{}'"

// The filter, on the rows `x` of the ordered walk. $1 int year at least, $2 int year at most,
// $3 text season, $4 text[] types, $5 text[] statuses, $6 uuid studio (company credited with
// role 'studio'), $7 float8 score at least, $8 float8 score at most, $9 text title prefix
// (compared lower-case); NULL: no filter.
#define PSVC_GQL_LIST_FILTER                                                                     \
  " CASE WHEN ($1::int IS NULL OR x.year >= $1::int) AND ($2::int IS NULL OR x.year <= $2::int)" \
  " AND ($3::text IS NULL OR x.season = $3::text)"                                               \
  " AND ($4::text[] IS NULL OR x.type = ANY ($4::text[]))"                                       \
  " AND ($5::text[] IS NULL OR x.status = ANY ($5::text[]))"                                     \
  " AND ($6::uuid IS NULL OR x.id IN (SELECT ac.anime_id FROM anime_company ac"                  \
  " WHERE ac.company_id = $6::uuid AND ac.role = 'studio'))"                                     \
  " AND ($7::float8 IS NULL OR x.score >= $7::float8)"                                           \
  " AND ($8::float8 IS NULL OR x.score <= $8::float8)"                                           \
  " AND ($9::text IS NULL OR starts_with(lower(x.title), lower($9::text)))"                      \
  " THEN true ELSE false END"

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
#undef PSVC_GQL_LIST_FILTER
#undef PSVC_GQL_LIST_VISIBLE
#undef PSVC_GQL_LIST_COLUMNS

/// One offered ordering: its GraphQL enum value and its two statements.
struct AnimeListOrdering {
  const char* name;      ///< AnimeOrder value
  const char* key_type;  ///< "float8", "int", "bigint" or "text": how a cursor's key parses
  const db::Statement* first;
  const db::Statement* after;
};

inline constexpr AnimeListOrdering kAnimeListOrderings[] = {
    {"POPULARITY_DESC", "bigint", &kAnimeListPopularityDescFirst, &kAnimeListPopularityDescAfter},
    {"POPULARITY_ASC", "bigint", &kAnimeListPopularityAscFirst, &kAnimeListPopularityAscAfter},
    {"SCORE_DESC", "float8", &kAnimeListScoreDescFirst, &kAnimeListScoreDescAfter},
    {"SCORE_ASC", "float8", &kAnimeListScoreAscFirst, &kAnimeListScoreAscAfter},
    {"YEAR_DESC", "int", &kAnimeListYearDescFirst, &kAnimeListYearDescAfter},
    {"YEAR_ASC", "int", &kAnimeListYearAscFirst, &kAnimeListYearAscAfter},
    {"TITLE_ASC", "text", &kAnimeListTitleAscFirst, &kAnimeListTitleAscAfter},
    {"TITLE_DESC", "text", &kAnimeListTitleDescFirst, &kAnimeListTitleDescAfter},
};

}  // namespace psvc::api::sql
