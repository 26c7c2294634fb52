-- Search results no longer depend on the plan. Each branch of psvc_search (0015) kept its top
-- rows by popularity alone, so among terms of equal popularity at the cut-off (common: most
-- characters have few favourites) which ones survived depended on the order the scan met them;
-- a seq scan and an index scan could answer differently. Every cut-off now breaks ties by term,
-- kind and id, and the prefix indexes carry those columns, so the 2- and 3-character prefix
-- branches still read their top rows straight from the index and stop early. The fuzzy
-- branch's 300 candidates remain whichever the trigram index yields first (0005's cap).
DROP INDEX search_term_prefix2;
DROP INDEX search_term_prefix3;
CREATE INDEX search_term_prefix2 ON search_term (left(norm, 2), popularity DESC, norm, kind, entity_id);
CREATE INDEX search_term_prefix3 ON search_term (left(norm, 3), popularity DESC, norm, kind, entity_id);

CREATE OR REPLACE FUNCTION psvc_search(q text, kinds smallint[], lim int)
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
        ORDER BY t.popularity DESC, t.kind, t.entity_id LIMIT lim)
      UNION ALL
      (SELECT t.kind, t.entity_id, t.term, t.norm, t.popularity, 1, 1
         FROM search_term t
        WHERE left(t.norm, 3) = left(n, 3) AND starts_with(t.norm, n) AND t.kind = ANY (kinds)
        ORDER BY t.popularity DESC, t.norm, t.kind, t.entity_id LIMIT lim * 3)
    ), fuzzy AS (
      SELECT c.*, 2 AS class, word_similarity(n, c.norm) AS sim
        FROM (SELECT t.kind, t.entity_id, t.term, t.norm, t.popularity
                FROM search_term t
               WHERE (SELECT count(*) FROM hit) < lim AND n <% t.norm AND t.kind = ANY (kinds)
               LIMIT 300) c
       ORDER BY sim DESC, c.popularity DESC, c.norm, c.kind, c.entity_id LIMIT lim * 3
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
        ORDER BY t.popularity DESC, t.kind, t.entity_id LIMIT lim)
      UNION ALL
      (SELECT t.kind, t.entity_id, t.term, t.norm, t.popularity, 1
         FROM search_term t
        WHERE len = 3 AND left(t.norm, 3) = n AND t.kind = ANY (kinds)
        ORDER BY t.popularity DESC, t.norm, t.kind, t.entity_id LIMIT lim * 3)
      UNION ALL
      (SELECT t.kind, t.entity_id, t.term, t.norm, t.popularity, 1
         FROM search_term t
        WHERE len = 2 AND left(t.norm, 2) = n AND t.kind = ANY (kinds)
        ORDER BY t.popularity DESC, t.norm, t.kind, t.entity_id LIMIT lim * 3)
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
