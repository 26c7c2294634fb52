-- Search terms of new rows are written once per statement, not once per row.
--
-- Why: the row-level insert triggers of 0005 called a LANGUAGE sql function, whose statements
-- PostgreSQL plans again on every call. Inserting 800 characters in one statement took 227 ms
-- (0.28 ms a row, 20x the row's own cost with its trigram index); an ingestion event brings
-- ~8 new characters, so this was most of the write path's time. A statement-level trigger
-- with a transition table writes the same terms for the same 800 rows in ~30 ms.
--
-- The trigram indexes on the catalogue's own name columns (0001) go: every name query reads
-- search_term (0005), and each index cost ~25 us per inserted row.
--
-- Renames (row UPDATE triggers, rare) and deletes keep their row-level triggers: UPDATE
-- triggers with transition tables may not name columns, so they would fire on every update
-- (view counts, version bumps). psvc_search_replace becomes plpgsql so that those row
-- triggers reuse cached plans instead of planning per row.

CREATE OR REPLACE FUNCTION psvc_search_replace(k smallint, id uuid, names text[], pop bigint)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term WHERE kind = k AND entity_id = id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity)
  SELECT DISTINCT ON (psvc_normalize(n)) k, id, psvc_normalize(n), n, pop
    FROM unnest(names) WITH ORDINALITY AS u(n, ord)
   WHERE n IS NOT NULL AND btrim(n) <> ''
   ORDER BY psvc_normalize(n), ord;
END $$;

-- The new rows' terms, replacing any of theirs (none, normally: the ids are new). The first
-- spelling of a normalised name wins, as in psvc_search_replace.
CREATE FUNCTION psvc_search_insert_anime_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term s USING new_rows r WHERE s.kind = 1 AND s.entity_id = r.id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity)
  SELECT DISTINCT ON (r.id, psvc_normalize(u.n)) 1::smallint, r.id, psvc_normalize(u.n), u.n,
         r.view_count
    FROM new_rows r,
         unnest(ARRAY[r.title, r.title_english, r.title_japanese] || r.synonyms)
           WITH ORDINALITY AS u(n, ord)
   WHERE u.n IS NOT NULL AND btrim(u.n) <> ''
   ORDER BY r.id, psvc_normalize(u.n), u.ord;
  RETURN NULL;
END $$;

CREATE FUNCTION psvc_search_insert_character_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term s USING new_rows r WHERE s.kind = 2 AND s.entity_id = r.id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity)
  SELECT DISTINCT ON (r.id, psvc_normalize(u.n)) 2::smallint, r.id, psvc_normalize(u.n), u.n,
         r.favorites::bigint
    FROM new_rows r,
         unnest(ARRAY[r.name, r.name_japanese]) WITH ORDINALITY AS u(n, ord)
   WHERE u.n IS NOT NULL AND btrim(u.n) <> ''
   ORDER BY r.id, psvc_normalize(u.n), u.ord;
  RETURN NULL;
END $$;

CREATE FUNCTION psvc_search_insert_company_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term s USING new_rows r WHERE s.kind = 3 AND s.entity_id = r.id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity)
  SELECT 3::smallint, r.id, psvc_normalize(r.name), r.name, 0
    FROM new_rows r
   WHERE btrim(r.name) <> '';
  RETURN NULL;
END $$;

DROP TRIGGER search_terms_insert ON anime;
DROP TRIGGER search_terms_insert ON character;
DROP TRIGGER search_terms_insert ON company;

CREATE TRIGGER search_terms_insert AFTER INSERT ON anime
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION psvc_search_insert_anime_rows();
CREATE TRIGGER search_terms_delete AFTER DELETE ON anime
  FOR EACH ROW EXECUTE FUNCTION psvc_search_anime();

CREATE TRIGGER search_terms_insert AFTER INSERT ON character
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION psvc_search_insert_character_rows();
CREATE TRIGGER search_terms_delete AFTER DELETE ON character
  FOR EACH ROW EXECUTE FUNCTION psvc_search_character();

CREATE TRIGGER search_terms_insert AFTER INSERT ON company
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION psvc_search_insert_company_rows();
CREATE TRIGGER search_terms_delete AFTER DELETE ON company
  FOR EACH ROW EXECUTE FUNCTION psvc_search_company();

DROP INDEX anime_title_trgm;
DROP INDEX character_name_trgm;
DROP INDEX company_name_trgm;
