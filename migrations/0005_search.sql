-- The typeahead lane of the GraphQL API (`search`): every searchable name in one table.
--
-- One row per distinct normalised name of an entity: anime title, English and Japanese titles
-- and synonyms; character name and Japanese name; company name. Triggers keep it in step with
-- the entity tables (insert, rename, delete, TRUNCATE), so no writer has to know about it.
--
-- Ranking is exact match, then prefix, then fuzzy (pg_trgm), popularity breaking ties.
-- Popularity is stored here (anime view_count, character favorites; companies 0) because a
-- prefix query must read its top-k in popularity order straight from an index: a 3-letter
-- prefix such as 'the' matches ~7k English titles at SF1, and sorting those per keystroke
-- would cost milliseconds. The (left(norm, n), popularity DESC) indexes answer 2- and 3-letter
-- prefixes with k index entries; longer prefixes filter inside their 3-letter bucket.
-- There is no foreign key (the row belongs to one of three tables, and the dataset loader
-- truncates the catalogue tables as a list); the triggers do that job.

CREATE TABLE search_term (
  kind       smallint NOT NULL CHECK (kind IN (1, 2, 3)),  -- 1 anime, 2 character, 3 company
  entity_id  uuid NOT NULL,
  norm       text NOT NULL,  -- psvc_normalize(term)
  term       text NOT NULL,  -- as written, shown to the user as what matched
  popularity bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, entity_id, norm)
);
CREATE INDEX search_term_norm ON search_term (norm text_pattern_ops);
CREATE INDEX search_term_prefix2 ON search_term (left(norm, 2), popularity DESC);
CREATE INDEX search_term_prefix3 ON search_term (left(norm, 3), popularity DESC);
CREATE INDEX search_term_trgm ON search_term USING gin (norm gin_trgm_ops);

-- Replaces the terms of one entity. `names` may hold NULLs, blanks and duplicates.
CREATE FUNCTION psvc_search_replace(k smallint, id uuid, names text[], pop bigint) RETURNS void
  LANGUAGE sql AS $$
  DELETE FROM search_term WHERE kind = k AND entity_id = id;
  INSERT INTO search_term (kind, entity_id, norm, term, popularity)
  SELECT DISTINCT ON (psvc_normalize(n)) k, id, psvc_normalize(n), n, pop
    FROM unnest(names) WITH ORDINALITY AS u(n, ord)
   WHERE n IS NOT NULL AND btrim(n) <> ''
   ORDER BY psvc_normalize(n), ord;
$$;

CREATE FUNCTION psvc_search_anime() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM search_term WHERE kind = 1 AND entity_id = OLD.id;
  ELSE
    PERFORM psvc_search_replace(1::smallint, NEW.id,
      ARRAY[NEW.title, NEW.title_english, NEW.title_japanese] || NEW.synonyms, NEW.view_count);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION psvc_search_character() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM search_term WHERE kind = 2 AND entity_id = OLD.id;
  ELSE
    PERFORM psvc_search_replace(2::smallint, NEW.id, ARRAY[NEW.name, NEW.name_japanese],
                                NEW.favorites::bigint);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION psvc_search_company() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM search_term WHERE kind = 3 AND entity_id = OLD.id;
  ELSE
    PERFORM psvc_search_replace(3::smallint, NEW.id, ARRAY[NEW.name], 0);
  END IF;
  RETURN NULL;
END $$;

-- A view (recordView) only moves popularity: a few row updates, not a rebuild.
CREATE FUNCTION psvc_search_anime_popularity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE search_term SET popularity = NEW.view_count WHERE kind = 1 AND entity_id = NEW.id;
  RETURN NULL;
END $$;

CREATE FUNCTION psvc_search_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_term WHERE kind = TG_ARGV[0]::smallint;
  RETURN NULL;
END $$;

CREATE TRIGGER search_terms_insert AFTER INSERT OR DELETE ON anime
  FOR EACH ROW EXECUTE FUNCTION psvc_search_anime();
CREATE TRIGGER search_terms_update AFTER UPDATE OF title, title_english, title_japanese, synonyms ON anime
  FOR EACH ROW
  WHEN ((OLD.title, OLD.title_english, OLD.title_japanese, OLD.synonyms) IS DISTINCT FROM
        (NEW.title, NEW.title_english, NEW.title_japanese, NEW.synonyms))
  EXECUTE FUNCTION psvc_search_anime();
CREATE TRIGGER search_terms_popularity AFTER UPDATE OF view_count ON anime
  FOR EACH ROW WHEN (OLD.view_count IS DISTINCT FROM NEW.view_count)
  EXECUTE FUNCTION psvc_search_anime_popularity();
CREATE TRIGGER search_terms_truncate AFTER TRUNCATE ON anime
  FOR EACH STATEMENT EXECUTE FUNCTION psvc_search_truncate('1');

CREATE TRIGGER search_terms_insert AFTER INSERT OR DELETE ON character
  FOR EACH ROW EXECUTE FUNCTION psvc_search_character();
CREATE TRIGGER search_terms_update AFTER UPDATE OF name, name_japanese, favorites ON character
  FOR EACH ROW
  WHEN ((OLD.name, OLD.name_japanese, OLD.favorites) IS DISTINCT FROM
        (NEW.name, NEW.name_japanese, NEW.favorites))
  EXECUTE FUNCTION psvc_search_character();
CREATE TRIGGER search_terms_truncate AFTER TRUNCATE ON character
  FOR EACH STATEMENT EXECUTE FUNCTION psvc_search_truncate('2');

CREATE TRIGGER search_terms_insert AFTER INSERT OR DELETE ON company
  FOR EACH ROW EXECUTE FUNCTION psvc_search_company();
CREATE TRIGGER search_terms_update AFTER UPDATE OF name ON company
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
  EXECUTE FUNCTION psvc_search_company();
CREATE TRIGGER search_terms_truncate AFTER TRUNCATE ON company
  FOR EACH STATEMENT EXECUTE FUNCTION psvc_search_truncate('3');

-- Backfill what is already there.
SELECT psvc_search_replace(1::smallint, id, ARRAY[title, title_english, title_japanese] || synonyms,
                           view_count)
  FROM anime;
SELECT psvc_search_replace(2::smallint, id, ARRAY[name, name_japanese], favorites::bigint)
  FROM character;
SELECT psvc_search_replace(3::smallint, id, ARRAY[name], 0) FROM company;
