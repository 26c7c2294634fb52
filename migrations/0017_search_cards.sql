-- Typeahead without joins. A suggestion list shows each hit's name; reading the hit's entity
-- row (three lateral look-ups in gql.search) cost PostgreSQL as much as the search itself
-- (pgbench, SF1, 32 clients: 4.6k searches/s with the look-ups, 9.9k without). So:
--
-- 1. Every term carries its entity's display name (`label`: anime title, character or company
--    name), written by the same triggers that write the terms, so the API can answer
--    `node { id title }` from the hit alone and reads the entity only for other fields.
-- 2. The 2- and 3-character prefix indexes are in ranking order: exact match first (the term is
--    exactly the prefix, i.e. no longer than it), then popularity, shorter term, term, kind,
--    id, and include term and label. A short query is then one index-only walk that stops
--    after lim * 3 entries, with nothing to sort; the API runs that walk itself for
--    printable-ASCII queries (see gql.search_prefix3).
--
-- Ranking rules for 2- and 3-character queries (n = psvc_normalize(q), len = length(n)): the
-- window is the first lim * 3 terms with left(norm, len) = n in the order above; each entity
-- keeps its first term in the window; the first lim entities in window order are the answer.
-- Before, exact and prefix matches were two windows cut by popularity alone and sorted after;
-- the answers differ only in which ties survive a cut-off. Longer queries keep 0015's rules,
-- with the prefix window now cut in the same order (shorter term before term on equal
-- popularity), read from the same index.
ALTER TABLE search_term ADD COLUMN label text;
DROP INDEX search_term_prefix2;
DROP INDEX search_term_prefix3;
UPDATE search_term t SET label = a.title FROM anime a WHERE t.kind = 1 AND a.id = t.entity_id;
UPDATE search_term t SET label = c.name FROM character c WHERE t.kind = 2 AND c.id = t.entity_id;
UPDATE search_term t SET label = c.name FROM company c WHERE t.kind = 3 AND c.id = t.entity_id;
-- Terms of an entity that no longer exists cannot be shown; the triggers never leave any.
DELETE FROM search_term WHERE label IS NULL;
ALTER TABLE search_term ALTER COLUMN label SET NOT NULL;
CREATE INDEX search_term_prefix2 ON search_term
  (left(norm, 2), (length(norm) > 2), popularity DESC, length(norm), norm, kind, entity_id)
  INCLUDE (term, label);
CREATE INDEX search_term_prefix3 ON search_term
  (left(norm, 3), (length(norm) > 3), popularity DESC, length(norm), norm, kind, entity_id)
  INCLUDE (term, label);
-- The short-query walk is index-only (pgbench, SF1: +19% over reading the heap) while the
-- visibility map is current; views move popularity, and the default 20% threshold would leave
-- the map stale for long.
ALTER TABLE search_term SET (autovacuum_vacuum_scale_factor = 0.01,
                             autovacuum_vacuum_insert_scale_factor = 0.01);

-- Writers: names[1] is the display name in every caller (title; name).
CREATE OR REPLACE FUNCTION psvc_search_replace(k smallint, id uuid, names text[], pop bigint)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term WHERE kind = k AND entity_id = id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity, label)
  SELECT DISTINCT ON (psvc_normalize(n)) k, id, psvc_normalize(n), n, pop, names[1]
    FROM unnest(names) WITH ORDINALITY AS u(n, ord)
   WHERE n IS NOT NULL AND btrim(n) <> ''
   ORDER BY psvc_normalize(n), ord;
END $$;

CREATE OR REPLACE FUNCTION psvc_search_insert_anime_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term s USING new_rows r WHERE s.kind = 1 AND s.entity_id = r.id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity, label)
  SELECT DISTINCT ON (r.id, psvc_normalize(u.n)) 1::smallint, r.id, psvc_normalize(u.n), u.n,
         r.view_count, r.title
    FROM new_rows r,
         unnest(ARRAY[r.title, r.title_english, r.title_japanese] || r.synonyms)
           WITH ORDINALITY AS u(n, ord)
   WHERE u.n IS NOT NULL AND btrim(u.n) <> ''
     AND r.merged_into IS NULL AND r.hidden_at IS NULL
   ORDER BY r.id, psvc_normalize(u.n), u.ord;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION psvc_search_insert_character_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term s USING new_rows r WHERE s.kind = 2 AND s.entity_id = r.id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity, label)
  SELECT DISTINCT ON (r.id, psvc_normalize(u.n)) 2::smallint, r.id, psvc_normalize(u.n), u.n,
         r.favorites::bigint, r.name
    FROM new_rows r,
         unnest(ARRAY[r.name, r.name_japanese]) WITH ORDINALITY AS u(n, ord)
   WHERE u.n IS NOT NULL AND btrim(u.n) <> ''
   ORDER BY r.id, psvc_normalize(u.n), u.ord;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION psvc_search_insert_company_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term s USING new_rows r WHERE s.kind = 3 AND s.entity_id = r.id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity, label)
  SELECT 3::smallint, r.id, psvc_normalize(r.name), r.name, 0, r.name
    FROM new_rows r
   WHERE btrim(r.name) <> '';
  RETURN NULL;
END $$;

-- The search, now also returning each hit's label (a new result type: drop and create).
DROP FUNCTION psvc_search(text, smallint[], int);
CREATE FUNCTION psvc_search(q text, kinds smallint[], lim int)
  RETURNS TABLE (kind smallint, entity_id uuid, term text, class int, label text)
  LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
#variable_conflict use_column
DECLARE
  n text := psvc_normalize(q);
  len int := length(n);
BEGIN
  IF len >= 4 THEN
    RETURN QUERY
    WITH hit AS MATERIALIZED (
      (SELECT t.kind, t.entity_id, t.term, t.label, t.norm, t.popularity, 0 AS class, 1::real AS sim
         FROM search_term t
        WHERE t.norm = n AND t.kind = ANY (kinds)
        ORDER BY t.popularity DESC, t.kind, t.entity_id LIMIT lim)
      UNION ALL
      (SELECT t.kind, t.entity_id, t.term, t.label, t.norm, t.popularity, 1, 1
         FROM search_term t
        WHERE left(t.norm, 3) = left(n, 3) AND length(t.norm) > 3 AND starts_with(t.norm, n)
          AND t.kind = ANY (kinds)
        ORDER BY t.popularity DESC, length(t.norm), t.norm, t.kind, t.entity_id LIMIT lim * 3)
    ), fuzzy AS (
      SELECT c.*, 2 AS class, word_similarity(n, c.norm) AS sim
        FROM (SELECT t.kind, t.entity_id, t.term, t.label, t.norm, t.popularity
                FROM search_term t
               WHERE (SELECT count(*) FROM hit) < lim AND n <% t.norm AND t.kind = ANY (kinds)
               LIMIT 300) c
       ORDER BY sim DESC, c.popularity DESC, c.norm, c.kind, c.entity_id LIMIT lim * 3
    ), best AS (
      SELECT DISTINCT ON (a.kind, a.entity_id) *
        FROM (SELECT * FROM hit UNION ALL SELECT * FROM fuzzy) a
       ORDER BY a.kind, a.entity_id, a.class, a.sim DESC, length(a.norm), a.norm
    )
    SELECT b.kind, b.entity_id, b.term, b.class, b.label
      FROM best b
     ORDER BY b.class, b.sim DESC, b.popularity DESC, length(b.norm), b.norm, b.kind, b.entity_id
     LIMIT lim;
  ELSIF len >= 2 THEN
    -- The window in ranking order (one walk of search_term_prefix2 or _prefix3), then each
    -- entity's first term in it.
    RETURN QUERY
    WITH w AS (
      SELECT x.kind, x.entity_id, x.term, x.label, x.class,
             row_number() OVER (ORDER BY x.class, x.popularity DESC, length(x.norm), x.norm,
                                         x.kind, x.entity_id) AS pos
        FROM ((SELECT t.kind, t.entity_id, t.term, t.label, t.norm, t.popularity,
                      (length(t.norm) > 3)::int AS class
                 FROM search_term t
                WHERE len = 3 AND left(t.norm, 3) = n AND t.kind = ANY (kinds)
                ORDER BY (length(t.norm) > 3), t.popularity DESC, length(t.norm), t.norm,
                         t.kind, t.entity_id
                LIMIT lim * 3)
              UNION ALL
              (SELECT t.kind, t.entity_id, t.term, t.label, t.norm, t.popularity,
                      (length(t.norm) > 2)::int
                 FROM search_term t
                WHERE len = 2 AND left(t.norm, 2) = n AND t.kind = ANY (kinds)
                ORDER BY (length(t.norm) > 2), t.popularity DESC, length(t.norm), t.norm,
                         t.kind, t.entity_id
                LIMIT lim * 3)) x
    ), first AS (
      SELECT DISTINCT ON (w.kind, w.entity_id) * FROM w ORDER BY w.kind, w.entity_id, w.pos
    )
    SELECT f.kind, f.entity_id, f.term, f.class, f.label FROM first f ORDER BY f.pos LIMIT lim;
  ELSE
    -- 0 or 1 character: exact matches only (the API asks for 2 or more).
    RETURN QUERY
    SELECT t.kind, t.entity_id, t.term, 0, t.label
      FROM search_term t
     WHERE t.norm = n AND t.kind = ANY (kinds)
     ORDER BY t.popularity DESC, length(t.norm), t.norm, t.kind, t.entity_id
     LIMIT lim;
  END IF;
END $$;
