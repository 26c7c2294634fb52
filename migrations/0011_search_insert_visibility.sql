-- 0008's statement-level insert trigger wrote terms for every inserted anime; 0009 keeps merged
-- and hidden anime out of the search lane on UPDATE. An anime inserted already merged or hidden
-- (a restore, a hand-written INSERT) must stay out too.
CREATE OR REPLACE FUNCTION psvc_search_insert_anime_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term s USING new_rows r WHERE s.kind = 1 AND s.entity_id = r.id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity)
  SELECT DISTINCT ON (r.id, psvc_normalize(u.n)) 1::smallint, r.id, psvc_normalize(u.n), u.n,
         r.view_count
    FROM new_rows r,
         unnest(ARRAY[r.title, r.title_english, r.title_japanese] || r.synonyms)
           WITH ORDINALITY AS u(n, ord)
   WHERE u.n IS NOT NULL AND btrim(u.n) <> ''
     AND r.merged_into IS NULL AND r.hidden_at IS NULL
   ORDER BY r.id, psvc_normalize(u.n), u.ord;
  RETURN NULL;
END $$;
