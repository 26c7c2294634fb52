-- The anime catalogue: entities and the edges between them.
--
-- Conventions
--  * UUID primary keys, supplied by the producer of the data (ingestion), never generated here,
--    so the same anime has the same id in PostgreSQL, in events and in Qdrant.
--  * Enumerations are text with CHECK constraints (cheaper to extend than enum types).
--  * anime_relation (anime_id, related_anime_id, relation_type) reads
--    "related_anime_id is the <relation_type> of anime_id": (A, B, SEQUEL) = B is A's sequel.
--    Seen from B the same edge is inverse(SEQUEL) = PREQUEL (psvc_inverse_relation):
--      SEQUEL <-> PREQUEL, SIDE_STORY -> FULL_STORY, SUMMARY -> FULL_STORY,
--      FULL_STORY -> SIDE_STORY, SPIN_OFF -> OTHER; ALTERNATIVE, CHARACTER, ADAPTATION and
--      OTHER are their own inverse. Ingestion usually stores both directions; readers
--      de-duplicate and prefer the stored row over the inferred inverse.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- Search normalisation: accent- and case-insensitive. unaccent() is only STABLE (it reads a
-- dictionary), so it is wrapped with the dictionary named explicitly to be usable in indexes.
CREATE FUNCTION psvc_normalize(text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  RETURN lower(public.unaccent('public.unaccent'::regdictionary, $1));

CREATE TABLE anime (
  id             uuid PRIMARY KEY,
  title          text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 500),
  title_english  text CHECK (length(title_english) <= 500),
  title_japanese text CHECK (length(title_japanese) <= 500),
  synonyms       text[] NOT NULL DEFAULT '{}'
                 CHECK (cardinality(synonyms) <= 100 AND array_position(synonyms, NULL) IS NULL),
  type           text NOT NULL DEFAULT 'UNKNOWN'
                 CHECK (type IN ('TV', 'MOVIE', 'OVA', 'ONA', 'SPECIAL', 'MUSIC', 'UNKNOWN')),
  status         text NOT NULL DEFAULT 'UNKNOWN'
                 CHECK (status IN ('FINISHED', 'AIRING', 'UPCOMING', 'UNKNOWN')),
  season         text CHECK (season IN ('WINTER', 'SPRING', 'SUMMER', 'FALL')),
  year           integer CHECK (year BETWEEN 1900 AND 2100),
  episode_count  integer CHECK (episode_count BETWEEN 0 AND 100000),
  synopsis       text CHECK (length(synopsis) <= 20000),
  score          double precision CHECK (score >= 0 AND score <= 10),
  view_count     bigint NOT NULL DEFAULT 0 CHECK (view_count >= 0),
  version        bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (season IS NULL OR year IS NOT NULL)
);
CREATE INDEX anime_title_trgm ON anime USING gin (psvc_normalize(title) gin_trgm_ops);
CREATE INDEX anime_popularity ON anime (view_count DESC, id);
CREATE INDEX anime_year ON anime (year, season);

CREATE TABLE character (
  id            uuid PRIMARY KEY,
  name          text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 300),
  name_japanese text CHECK (length(name_japanese) <= 300),
  description   text CHECK (length(description) <= 20000),
  favorites     integer NOT NULL DEFAULT 0 CHECK (favorites >= 0),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX character_name_trgm ON character USING gin (psvc_normalize(name) gin_trgm_ops);

CREATE TABLE company (
  id         uuid PRIMARY KEY,
  name       text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 300),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX company_name_trgm ON company USING gin (psvc_normalize(name) gin_trgm_ops);

CREATE TABLE original_work (
  id         uuid PRIMARY KEY,
  title      text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 500),
  kind       text NOT NULL DEFAULT 'OTHER'
             CHECK (kind IN ('MANGA', 'LIGHT_NOVEL', 'NOVEL', 'VISUAL_NOVEL', 'GAME',
                             'WEB_MANGA', 'ORIGINAL', 'OTHER')),
  author     text CHECK (length(author) <= 300),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE episode (
  id               uuid PRIMARY KEY,
  anime_id         uuid NOT NULL REFERENCES anime (id) ON DELETE CASCADE,
  number           integer NOT NULL CHECK (number BETWEEN 0 AND 100000),
  title            text CHECK (length(title) <= 500),
  aired_on         date,
  duration_seconds integer CHECK (duration_seconds > 0 AND duration_seconds <= 86400),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (anime_id, number)
);

-- Edges. Every edge table is indexed from both ends: the primary key serves the
-- forward direction, a second index the reverse one.
--
-- Hub edges (anime_character, anime_company, anime_original_work_relation) carry a copy of
-- the anime's year (`anime_year`, 0 when unknown), kept by triggers. The graph's derived
-- edges (same studio, co-appearing character, same original work) join two anime through a
-- hub; a studio can hold thousands of anime, so an anime's derived neighbours are the hub
-- members nearest to it in (anime_year, anime_id) order: a window read straight from the
-- reverse index, symmetric (if B is in A's window, A is in B's) and favouring closeness in time.

CREATE TABLE anime_relation (
  anime_id         uuid NOT NULL REFERENCES anime (id) ON DELETE CASCADE,
  related_anime_id uuid NOT NULL REFERENCES anime (id) ON DELETE CASCADE,
  relation_type    text NOT NULL
                   CHECK (relation_type IN ('SEQUEL', 'PREQUEL', 'SIDE_STORY', 'ALTERNATIVE',
                                            'SUMMARY', 'FULL_STORY', 'CHARACTER', 'SPIN_OFF',
                                            'ADAPTATION', 'OTHER')),
  PRIMARY KEY (anime_id, related_anime_id, relation_type),
  CHECK (anime_id <> related_anime_id)
);
CREATE INDEX anime_relation_reverse ON anime_relation (related_anime_id, anime_id, relation_type);

-- A relation whose target has not been ingested yet. It is kept here (only its source is
-- known to exist) and moved into anime_relation when the target arrives.
CREATE TABLE pending_anime_relation (
  anime_id         uuid NOT NULL REFERENCES anime (id) ON DELETE CASCADE,
  related_anime_id uuid NOT NULL,
  relation_type    text NOT NULL
                   CHECK (relation_type IN ('SEQUEL', 'PREQUEL', 'SIDE_STORY', 'ALTERNATIVE',
                                            'SUMMARY', 'FULL_STORY', 'CHARACTER', 'SPIN_OFF',
                                            'ADAPTATION', 'OTHER')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (anime_id, related_anime_id, relation_type),
  CHECK (anime_id <> related_anime_id)
);
CREATE INDEX pending_anime_relation_target ON pending_anime_relation (related_anime_id);

CREATE TABLE anime_character (
  anime_id     uuid NOT NULL REFERENCES anime (id) ON DELETE CASCADE,
  character_id uuid NOT NULL REFERENCES character (id) ON DELETE CASCADE,
  role         text NOT NULL DEFAULT 'SUPPORTING'
               CHECK (role IN ('MAIN', 'SUPPORTING', 'BACKGROUND')),
  anime_year   integer NOT NULL DEFAULT 0,
  PRIMARY KEY (anime_id, character_id)
);
CREATE INDEX anime_character_reverse ON anime_character (character_id, anime_year, anime_id);

CREATE TABLE anime_company (
  anime_id   uuid NOT NULL REFERENCES anime (id) ON DELETE CASCADE,
  company_id uuid NOT NULL REFERENCES company (id) ON DELETE CASCADE,
  role       text NOT NULL CHECK (role IN ('studio', 'producer', 'licensor')),
  anime_year integer NOT NULL DEFAULT 0,
  PRIMARY KEY (anime_id, company_id, role)
);
CREATE INDEX anime_company_reverse ON anime_company (company_id, role, anime_year, anime_id);

CREATE TABLE anime_original_work_relation (
  anime_id         uuid NOT NULL REFERENCES anime (id) ON DELETE CASCADE,
  original_work_id uuid NOT NULL REFERENCES original_work (id) ON DELETE CASCADE,
  anime_year       integer NOT NULL DEFAULT 0,
  PRIMARY KEY (anime_id, original_work_id)
);
CREATE INDEX anime_original_work_relation_reverse
  ON anime_original_work_relation (original_work_id, anime_year, anime_id);

-- anime_year on hub edges follows the anime: filled on insert, updated when the year changes.
CREATE FUNCTION hub_edge_fill_anime_year() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  NEW.anime_year := coalesce((SELECT year FROM anime WHERE id = NEW.anime_id), 0);
  RETURN NEW;
END $$;
CREATE TRIGGER fill_anime_year BEFORE INSERT OR UPDATE OF anime_id ON anime_character
  FOR EACH ROW EXECUTE FUNCTION hub_edge_fill_anime_year();
CREATE TRIGGER fill_anime_year BEFORE INSERT OR UPDATE OF anime_id ON anime_company
  FOR EACH ROW EXECUTE FUNCTION hub_edge_fill_anime_year();
CREATE TRIGGER fill_anime_year BEFORE INSERT OR UPDATE OF anime_id ON anime_original_work_relation
  FOR EACH ROW EXECUTE FUNCTION hub_edge_fill_anime_year();

CREATE FUNCTION anime_propagate_year() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  UPDATE anime_character SET anime_year = coalesce(NEW.year, 0) WHERE anime_id = NEW.id;
  UPDATE anime_company SET anime_year = coalesce(NEW.year, 0) WHERE anime_id = NEW.id;
  UPDATE anime_original_work_relation SET anime_year = coalesce(NEW.year, 0) WHERE anime_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER propagate_year AFTER UPDATE OF year ON anime
  FOR EACH ROW WHEN (OLD.year IS DISTINCT FROM NEW.year) EXECUTE FUNCTION anime_propagate_year();

-- The same edge seen from its other end: (A, B, SEQUEL) read from B is PREQUEL.
CREATE FUNCTION psvc_inverse_relation(text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  RETURN CASE $1
    WHEN 'SEQUEL' THEN 'PREQUEL'
    WHEN 'PREQUEL' THEN 'SEQUEL'
    WHEN 'SIDE_STORY' THEN 'FULL_STORY'
    WHEN 'SUMMARY' THEN 'FULL_STORY'
    WHEN 'FULL_STORY' THEN 'SIDE_STORY'
    WHEN 'SPIN_OFF' THEN 'OTHER'
    ELSE $1
  END;
