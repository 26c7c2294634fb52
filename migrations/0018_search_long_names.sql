-- Names of any allowed length can be written again. Since 0017 each prefix-index entry holds
-- the normalised name, the name and the label, and a btree entry may not exceed 2,704 bytes:
-- an anime with a 500-character kanji title_japanese (1,500 bytes, allowed by the table)
-- failed its insert, and with it the whole ingestion batch. Synonyms have no length limit, so
-- a long one failed even before 0017.
--
-- So search_term keeps names by their first 150 characters (term and norm; the API's queries
-- are at most 100 characters, so prefix and exact matching are unchanged, and typeahead shows
-- no longer a name than that), and the label only when it fits in 600 bytes (else NULL: the
-- API then reads the entity's row for its name). An index entry is then at most about
-- 600 (norm) + 600 (term) + 600 (label) + 60 bytes.
ALTER TABLE search_term ALTER COLUMN label DROP NOT NULL;

CREATE FUNCTION psvc_search_label(name text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  RETURN CASE WHEN octet_length(name) <= 600 THEN name END;

CREATE OR REPLACE FUNCTION psvc_search_replace(k smallint, id uuid, names text[], pop bigint)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term WHERE kind = k AND entity_id = id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity, label)
  SELECT DISTINCT ON (left(psvc_normalize(left(n, 150)), 150))
         k, id, left(psvc_normalize(left(n, 150)), 150), left(n, 150), pop,
         psvc_search_label(names[1])
    FROM unnest(names) WITH ORDINALITY AS u(n, ord)
   WHERE n IS NOT NULL AND btrim(n) <> ''
   ORDER BY left(psvc_normalize(left(n, 150)), 150), ord;
END $$;

CREATE OR REPLACE FUNCTION psvc_search_insert_anime_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term s USING new_rows r WHERE s.kind = 1 AND s.entity_id = r.id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity, label)
  SELECT DISTINCT ON (r.id, left(psvc_normalize(left(u.n, 150)), 150))
         1::smallint, r.id, left(psvc_normalize(left(u.n, 150)), 150), left(u.n, 150),
         r.view_count, psvc_search_label(r.title)
    FROM new_rows r,
         unnest(ARRAY[r.title, r.title_english, r.title_japanese] || r.synonyms)
           WITH ORDINALITY AS u(n, ord)
   WHERE u.n IS NOT NULL AND btrim(u.n) <> ''
     AND r.merged_into IS NULL AND r.hidden_at IS NULL
   ORDER BY r.id, left(psvc_normalize(left(u.n, 150)), 150), u.ord;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION psvc_search_insert_character_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term s USING new_rows r WHERE s.kind = 2 AND s.entity_id = r.id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity, label)
  SELECT DISTINCT ON (r.id, left(psvc_normalize(left(u.n, 150)), 150))
         2::smallint, r.id, left(psvc_normalize(left(u.n, 150)), 150), left(u.n, 150),
         r.favorites::bigint, psvc_search_label(r.name)
    FROM new_rows r,
         unnest(ARRAY[r.name, r.name_japanese]) WITH ORDINALITY AS u(n, ord)
   WHERE u.n IS NOT NULL AND btrim(u.n) <> ''
   ORDER BY r.id, left(psvc_normalize(left(u.n, 150)), 150), u.ord;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION psvc_search_insert_company_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term s USING new_rows r WHERE s.kind = 3 AND s.entity_id = r.id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity, label)
  SELECT 3::smallint, r.id, left(psvc_normalize(left(r.name, 150)), 150), left(r.name, 150), 0,
         psvc_search_label(r.name)
    FROM new_rows r
   WHERE btrim(r.name) <> '';
  RETURN NULL;
END $$;

-- Rows written before: rewrite the terms of every entity that has a name over 150 characters
-- or a label over 600 bytes (none can have failed to be written more than 0017 allowed).
SELECT psvc_search_replace(1::smallint, a.id,
         ARRAY[a.title, a.title_english, a.title_japanese] || a.synonyms, a.view_count)
  FROM anime a
 WHERE a.id IN (SELECT entity_id FROM search_term
                 WHERE kind = 1 AND (length(term) > 150 OR octet_length(label) > 600));
SELECT psvc_search_replace(2::smallint, c.id, ARRAY[c.name, c.name_japanese], c.favorites::bigint)
  FROM character c
 WHERE c.id IN (SELECT entity_id FROM search_term
                 WHERE kind = 2 AND (length(term) > 150 OR octet_length(label) > 600));
SELECT psvc_search_replace(3::smallint, c.id, ARRAY[c.name],
         (SELECT max(popularity) FROM search_term WHERE kind = 3 AND entity_id = c.id))
  FROM company c
 WHERE c.id IN (SELECT entity_id FROM search_term
                 WHERE kind = 3 AND (length(term) > 150 OR octet_length(label) > 600));
