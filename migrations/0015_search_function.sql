-- The typeahead search as a plpgsql function (gql.search calls it and adds each hit's entity).
-- The single statement it replaces held every branch (exact; prefix of 2, 3, 4+ characters;
-- fuzzy) in one ~60-node plan with eight InitPlans normalising the query, and PostgreSQL spent
-- a fifth of each call starting that plan up. Here the query is normalised once and only the
-- branches its length can use are planned and run: 0.385 -> 0.301 ms per search in psql on
-- SF1 (300 random 3-letter prefixes, generic plans). The rules are unchanged (0005, 0009):
--   class 0 exact, 1 prefix, 2 fuzzy (word similarity, only for 4+ characters and only when
--   exact and prefix matches leave room, over at most 300 trigram candidates); per entity its
--   best-matching term; best class first, then similarity, popularity, shorter term, term,
--   kind, id. New: an entity's ties between two terms are broken by the term itself (the
--   statement left that to the sort), so the matched term is the same on every call.
-- Prefix branches read the (left(norm, n), popularity DESC) indexes in order and stop early.
CREATE FUNCTION psvc_search(q text, kinds smallint[], lim int)
  RETURNS TABLE (kind smallint, entity_id uuid, term text, class int)
  LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
#variable_conflict use_column
DECLARE
  n text := psvc_normalize(q);
  len int := length(n);
BEGIN
  IF len >= 4 THEN
    RETURN QUERY
    WITH hit AS MATERIALIZED (
      (SELECT t.kind, t.entity_id, t.term, t.norm, t.popularity, 0 AS class, 1::real AS sim
         FROM search_term t
        WHERE t.norm = n AND t.kind = ANY (kinds)
        ORDER BY t.popularity DESC LIMIT lim)
      UNION ALL
      (SELECT t.kind, t.entity_id, t.term, t.norm, t.popularity, 1, 1
         FROM search_term t
        WHERE left(t.norm, 3) = left(n, 3) AND starts_with(t.norm, n) AND t.kind = ANY (kinds)
        ORDER BY t.popularity DESC LIMIT lim * 3)
    ), fuzzy AS (
      SELECT c.*, 2 AS class, word_similarity(n, c.norm) AS sim
        FROM (SELECT t.kind, t.entity_id, t.term, t.norm, t.popularity
                FROM search_term t
               WHERE (SELECT count(*) FROM hit) < lim AND n <% t.norm AND t.kind = ANY (kinds)
               LIMIT 300) c
       ORDER BY sim DESC, c.popularity DESC LIMIT lim * 3
    ), best AS (
      SELECT DISTINCT ON (a.kind, a.entity_id) *
        FROM (SELECT * FROM hit UNION ALL SELECT * FROM fuzzy) a
       ORDER BY a.kind, a.entity_id, a.class, a.sim DESC, length(a.norm), a.norm
    )
    SELECT b.kind, b.entity_id, b.term, b.class
      FROM best b
     ORDER BY b.class, b.sim DESC, b.popularity DESC, length(b.norm), b.norm, b.kind, b.entity_id
     LIMIT lim;
  ELSE
    -- 0 to 3 characters: exact matches, and prefix matches for 2 or 3; never fuzzy.
    RETURN QUERY
    WITH hit AS (
      (SELECT t.kind, t.entity_id, t.term, t.norm, t.popularity, 0 AS class
         FROM search_term t
        WHERE t.norm = n AND t.kind = ANY (kinds)
        ORDER BY t.popularity DESC LIMIT lim)
      UNION ALL
      (SELECT t.kind, t.entity_id, t.term, t.norm, t.popularity, 1
         FROM search_term t
        WHERE len = 3 AND left(t.norm, 3) = n AND t.kind = ANY (kinds)
        ORDER BY t.popularity DESC LIMIT lim * 3)
      UNION ALL
      (SELECT t.kind, t.entity_id, t.term, t.norm, t.popularity, 1
         FROM search_term t
        WHERE len = 2 AND left(t.norm, 2) = n AND t.kind = ANY (kinds)
        ORDER BY t.popularity DESC LIMIT lim * 3)
    ), best AS (
      SELECT DISTINCT ON (h.kind, h.entity_id) *
        FROM hit h
       ORDER BY h.kind, h.entity_id, h.class, length(h.norm), h.norm
    )
    SELECT b.kind, b.entity_id, b.term, b.class
      FROM best b
     ORDER BY b.class, b.popularity DESC, length(b.norm), b.norm, b.kind, b.entity_id
     LIMIT lim;
  END IF;
END $$;
