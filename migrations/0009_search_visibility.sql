-- The search lane (0005) after sagas (0006): visibility, and company popularity.
--
-- 1. A merged or hidden anime leaves the search lane at once. MergeAnime step (a) sets
--    `merged_into`, RemoveAnime step (a) sets `hidden_at`; from that moment `search` must not
--    list the id (`anime(id:)` answers the survivor or null), so its terms are deleted. A
--    compensation clears the column and the terms come back (rebuilt from the row, as on insert).
--    Filtering at query time instead would put a join into every prefix scan, whose top-k must
--    come straight from the (left(norm, n), popularity DESC) indexes.
--
-- 2. Company popularity (0 until now) is the view count of the most-viewed visible anime the
--    company is credited on, in any role. Views are what anime popularity is, so the three kinds
--    stay comparable: typing a studio's name ranks it like its best-known show, and a studio with
--    hundreds of obscure shows does not bury popular titles (a sum would). It is refreshed in bulk
--    by psvc_refresh_company_popularity() (serve runs it at start-up and every minute; the
--    migration once), not by triggers: a per-view or per-credit trigger would make a big studio's
--    term row a hot row that every view and every ingestion of its anime queues on.

CREATE OR REPLACE FUNCTION psvc_search_anime() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM search_term WHERE kind = 1 AND entity_id = OLD.id;
  ELSIF NEW.merged_into IS NOT NULL OR NEW.hidden_at IS NOT NULL THEN
    DELETE FROM search_term WHERE kind = 1 AND entity_id = NEW.id;
  ELSE
    PERFORM psvc_search_replace(1::smallint, NEW.id,
      ARRAY[NEW.title, NEW.title_english, NEW.title_japanese] || NEW.synonyms, NEW.view_count);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER search_terms_visibility AFTER UPDATE OF merged_into, hidden_at ON anime
  FOR EACH ROW
  WHEN ((OLD.merged_into, OLD.hidden_at) IS DISTINCT FROM (NEW.merged_into, NEW.hidden_at))
  EXECUTE FUNCTION psvc_search_anime();

-- A rename keeps the company's popularity (a new company has no credits yet: 0).
CREATE OR REPLACE FUNCTION psvc_search_company() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM search_term WHERE kind = 3 AND entity_id = OLD.id;
  ELSE
    PERFORM psvc_search_replace(3::smallint, NEW.id, ARRAY[NEW.name],
      coalesce((SELECT max(popularity) FROM search_term WHERE kind = 3 AND entity_id = NEW.id), 0));
  END IF;
  RETURN NULL;
END $$;

-- Sets every company's popularity (see 2. above); writes only the rows whose value changed and
-- returns how many. About the cost of one pass over anime_company.
CREATE FUNCTION psvc_refresh_company_popularity() RETURNS bigint LANGUAGE sql AS $$
  WITH best AS (
    SELECT ac.company_id, max(a.view_count) AS popularity
      FROM anime_company ac JOIN anime a ON a.id = ac.anime_id
     WHERE a.merged_into IS NULL AND a.hidden_at IS NULL
     GROUP BY ac.company_id
  ), changed AS (
    UPDATE search_term t SET popularity = coalesce(b.popularity, 0)
      FROM search_term s LEFT JOIN best b ON b.company_id = s.entity_id
     WHERE s.kind = 3 AND t.kind = 3 AND t.entity_id = s.entity_id AND t.norm = s.norm
       AND t.popularity IS DISTINCT FROM coalesce(b.popularity, 0)
    RETURNING 1
  )
  SELECT count(*) FROM changed;
$$;

-- Anime merged or hidden before this migration leave the lane; companies get their popularity.
DELETE FROM search_term t USING anime a
 WHERE t.kind = 1 AND t.entity_id = a.id AND (a.merged_into IS NOT NULL OR a.hidden_at IS NOT NULL);
SELECT psvc_refresh_company_popularity();
