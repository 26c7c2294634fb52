-- Browsing the catalogue (GraphQL animeList, docs/graphql.md): every offered ordering walks an
-- index in its order, forwards or backwards, so a page costs the same wherever its cursor
-- points (keyset pagination, no OFFSET). One index per sort key, each ending in the id (the
-- unique tiebreaker), over the anime the read surfaces show. A missing score sorts as -1 and a
-- missing year as 0, so the keys are never NULL and a row comparison can seek to a cursor.
-- The key expressions are repeated verbatim in src/api/graphql_list_statements.h.
CREATE INDEX anime_list_score ON anime ((coalesce(score, -1::float8)), id)
  WHERE merged_into IS NULL AND hidden_at IS NULL;
CREATE INDEX anime_list_year ON anime ((coalesce(year, 0)), id)
  WHERE merged_into IS NULL AND hidden_at IS NULL;
CREATE INDEX anime_list_views ON anime (view_count, id)
  WHERE merged_into IS NULL AND hidden_at IS NULL;
CREATE INDEX anime_list_title ON anime (title, id)
  WHERE merged_into IS NULL AND hidden_at IS NULL;
