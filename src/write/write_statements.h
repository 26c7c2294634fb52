#pragma once
/// SQL of the write path. Included by write code and the statement check test only.

#include "db/statement.h"

namespace psvc::write::sql {

// Claims an event id for this transaction; no row back = processed before (or concurrently:
// the unique index makes a concurrent duplicate wait for the first to commit or roll back).
inline constexpr db::Statement kClaimEvent{"write.claim_event", R"sql(
INSERT INTO processed_event (event_id, event_type, outcome, anime_id)
VALUES ($1::uuid, $2, 'APPLIED', $3::uuid)
ON CONFLICT (event_id) DO NOTHING
RETURNING 1
)sql"};

inline constexpr db::Statement kPreviousOutcome{"write.previous_outcome", R"sql(
SELECT outcome, coalesce(detail, '') FROM processed_event WHERE event_id = $1::uuid
)sql"};

inline constexpr db::Statement kMarkStale{"write.mark_stale", R"sql(
UPDATE processed_event SET outcome = 'IGNORED_STALE', detail = $2 WHERE event_id = $1::uuid
)sql"};

// NO KEY UPDATE: does not block foreign-key checks of other transactions (KEY SHARE).
// Third column: the survivor when the row is marked merged (merged_into), else NULL. A hidden
// anime (a removal awaiting its confirmation) takes writes like any other (docs/sagas.md).
// Read after the lock, so a saga step that committed while we waited is seen.
inline constexpr db::Statement kLockAnime{"write.lock_anime", R"sql(
SELECT version, coalesce(last_event_at > to_timestamp($2::float8 / 1000), false),
       merged_into::text
  FROM anime WHERE id = $1::uuid
   FOR NO KEY UPDATE
)sql"};

// An id no longer in `anime` because a saga finished with it (migrations/0006_sagas.sql):
// -> the survivor it was merged into (NULL when it was removed).
inline constexpr db::Statement kRetiredId{"write.retired_id", R"sql(
SELECT to_id::text FROM anime_redirect WHERE from_id = $1::uuid
UNION ALL
SELECT NULL FROM anime_tombstone WHERE anime_id = $1::uuid
LIMIT 1
)sql"};

// When a run fails as a whole its events are applied one by one (each a run of one, below);
// those first insert the missing shared entities of all of them, each kind in one statement in
// id order: concurrent batches then meet these rows in the same order, where inserts in event
// order deadlock against each other. Existing rows are untouched (and not locked).
inline constexpr db::Statement kPreinsertCompanies{"write.preinsert_companies", R"sql(
INSERT INTO company (id, name)
SELECT DISTINCT ON (id) id, name FROM unnest($1::uuid[], $2::text[]) AS t(id, name) ORDER BY id
ON CONFLICT (id) DO NOTHING
)sql"};

inline constexpr db::Statement kPreinsertCharacters{"write.preinsert_characters", R"sql(
INSERT INTO character (id, name)
SELECT DISTINCT ON (id) id, name FROM unnest($1::uuid[], $2::text[]) AS t(id, name) ORDER BY id
ON CONFLICT (id) DO NOTHING
)sql"};

inline constexpr db::Statement kPreinsertWorks{"write.preinsert_works", R"sql(
INSERT INTO original_work (id, title)
SELECT DISTINCT ON (id) id, title FROM unnest($1::uuid[], $2::text[]) AS t(id, title) ORDER BY id
ON CONFLICT (id) DO NOTHING
)sql"};

// Pending relations whose target exists: normally materialized by the transaction that
// creates the target, but a relation written concurrently with that transaction is not
// visible to it. This sweep repairs those; returns the source anime whose relations changed.
inline constexpr db::Statement kMaterializeStranded{"write.materialize_stranded", R"sql(
WITH moved AS (
  DELETE FROM pending_anime_relation p
   USING anime a
   WHERE a.id = p.related_anime_id
  RETURNING p.anime_id, p.related_anime_id, p.relation_type
),
ins AS (
  INSERT INTO anime_relation (anime_id, related_anime_id, relation_type)
  SELECT anime_id, related_anime_id, relation_type FROM moved
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT DISTINCT anime_id::text FROM moved ORDER BY 1
)sql"};

inline constexpr db::Statement kUpsertEpisode{"write.upsert_episode", R"sql(
INSERT INTO episode (id, anime_id, number, title, aired_on, duration_seconds)
VALUES ($1::uuid, $2::uuid, $3::int, $4, $5::date, $6::int)
ON CONFLICT (anime_id, number) DO UPDATE SET
  title = EXCLUDED.title, aired_on = EXCLUDED.aired_on,
  duration_seconds = EXCLUDED.duration_seconds, updated_at = now()
)sql"};

inline constexpr db::Statement kBumpForEpisode{"write.bump_for_episode", R"sql(
UPDATE anime SET episode_count = greatest(coalesce(episode_count, 0), $2::int),
                 version = version + 1, updated_at = now()
 WHERE id = $1::uuid
RETURNING version
)sql"};

// Partial update: $2,$4,... say whether the field after them is set.
inline constexpr db::Statement kUpdateAnime{"write.update_anime", R"sql(
UPDATE anime SET
  title          = CASE WHEN $2::bool  THEN $3 ELSE title END,
  title_english  = CASE WHEN $4::bool  THEN $5 ELSE title_english END,
  title_japanese = CASE WHEN $6::bool  THEN $7 ELSE title_japanese END,
  synonyms       = CASE WHEN $8::bool  THEN $9::text[] ELSE synonyms END,
  type           = CASE WHEN $10::bool THEN $11 ELSE type END,
  status         = CASE WHEN $12::bool THEN $13 ELSE status END,
  season         = CASE WHEN $14::bool THEN $15 ELSE season END,
  year           = CASE WHEN $16::bool THEN $17::int ELSE year END,
  episode_count  = CASE WHEN $18::bool THEN $19::int ELSE episode_count END,
  synopsis       = CASE WHEN $20::bool THEN $21 ELSE synopsis END,
  score          = CASE WHEN $22::bool THEN $23::float8 ELSE score END,
  last_event_at  = greatest(last_event_at, to_timestamp($24::float8 / 1000)),
  version = version + 1, updated_at = now()
 WHERE id = $1::uuid
RETURNING version
)sql"};

inline constexpr db::Statement kRecordView{"write.record_view", R"sql(
UPDATE anime SET view_count = view_count + 1
 WHERE id = $1::uuid AND merged_into IS NULL
RETURNING version, view_count
)sql"};

inline constexpr db::Statement kInsertOutbox{"write.insert_outbox", R"sql(
INSERT INTO qdrant_outbox (aggregate_id, event_type, payload)
VALUES ($1::uuid, $2, convert_to($3, 'UTF8'))
)sql"};

// ---- AnimeEnriched: a run of events (distinct anime) in one go; a single event is a run of
// one (EventApplier::ApplyEnrichedRun). Arrays are parallel, one element per event (or per
// credit, with the anime id beside it), so a batch of 100 costs ~15 statements, not ~1,800.
// Ids are handled in id order where rows get locked, so concurrent batches meet in one order.

inline constexpr db::Statement kRunClaimEvents{"write.run_claim_events", R"sql(
INSERT INTO processed_event (event_id, event_type, outcome, anime_id)
SELECT e, $3, 'APPLIED', a FROM unnest($1::uuid[], $2::uuid[]) AS t(e, a) ORDER BY e
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id::text
)sql"};

inline constexpr db::Statement kRunPreviousOutcomes{"write.run_previous_outcomes", R"sql(
SELECT event_id::text, outcome FROM processed_event WHERE event_id = ANY($1::uuid[])
)sql"};

// As kLockAnime, for many anime at once; rows are locked in id order.
inline constexpr db::Statement kRunLockAnime{"write.run_lock_anime", R"sql(
SELECT a.id::text, coalesce(a.last_event_at > to_timestamp(t.at / 1000), false),
       a.merged_into::text
  FROM anime a JOIN unnest($1::uuid[], $2::float8[]) AS t(id, at) ON a.id = t.id
 ORDER BY a.id
   FOR NO KEY UPDATE OF a
)sql"};

// As kRetiredId, for many ids: -> id, survivor (NULL when removed).
inline constexpr db::Statement kRunRetiredIds{"write.run_retired_ids", R"sql(
SELECT from_id::text, to_id::text FROM anime_redirect WHERE from_id = ANY($1::uuid[])
UNION ALL
SELECT anime_id::text, NULL FROM anime_tombstone WHERE anime_id = ANY($1::uuid[])
)sql"};

inline constexpr db::Statement kRunMarkStale{"write.run_mark_stale", R"sql(
UPDATE processed_event p SET outcome = 'IGNORED_STALE', detail = t.detail
  FROM unnest($1::uuid[], $2::text[]) AS t(event_id, detail)
 WHERE p.event_id = t.event_id
)sql"};

// $5 holds each anime's synonyms as an array literal (text[] cannot nest ragged arrays).
inline constexpr db::Statement kRunUpsertAnime{"write.run_upsert_anime", R"sql(
INSERT INTO anime (id, title, title_english, title_japanese, synonyms, type, status, season,
                   year, episode_count, synopsis, score, last_event_at)
SELECT id, title, en, jp, syn::text[], type, status, season, year, eps, synopsis, score,
       to_timestamp(at / 1000)
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::text[], $9::int[], $10::int[], $11::text[], $12::float8[],
              $13::float8[])
       AS t(id, title, en, jp, syn, type, status, season, year, eps, synopsis, score, at)
 ORDER BY id
ON CONFLICT (id) DO UPDATE SET
  title = EXCLUDED.title, title_english = EXCLUDED.title_english,
  title_japanese = EXCLUDED.title_japanese, synonyms = EXCLUDED.synonyms,
  type = EXCLUDED.type, status = EXCLUDED.status, season = EXCLUDED.season,
  year = EXCLUDED.year, episode_count = EXCLUDED.episode_count,
  synopsis = EXCLUDED.synopsis, score = EXCLUDED.score,
  last_event_at = EXCLUDED.last_event_at,
  version = anime.version + 1, updated_at = now()
RETURNING id::text, version
)sql"};

// Shared entities (companies, characters, works) are upserted without locking rows that do
// not change: ON CONFLICT DO UPDATE would lock the conflicting row even when its WHERE is
// false, so every event naming a big studio would queue behind the last one until commit.
// Here UPDATE touches (and locks) only rows whose values differ; new rows are inserted. When
// several events of the run name the same entity, the last one wins, as it would applying them
// one by one.
inline constexpr db::Statement kRunUpsertCompanies{"write.run_upsert_companies", R"sql(
WITH input AS (
  SELECT DISTINCT ON (id) id, name
    FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS t(id, name, ord)
   ORDER BY id, ord DESC
),
changed AS (
  UPDATE company c SET name = i.name, updated_at = now()
    FROM input i
   WHERE c.id = i.id AND c.name IS DISTINCT FROM i.name
)
INSERT INTO company (id, name)
SELECT id, name FROM input ORDER BY id
ON CONFLICT (id) DO NOTHING
)sql"};

inline constexpr db::Statement kRunUpsertCharacters{"write.run_upsert_characters", R"sql(
WITH input AS (
  SELECT DISTINCT ON (id) id, name, jp, fav
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY
         AS t(id, name, jp, fav, ord)
   ORDER BY id, ord DESC
),
changed AS (
  UPDATE character c SET name = i.name, name_japanese = i.jp, favorites = i.fav, updated_at = now()
    FROM input i
   WHERE c.id = i.id
     AND (c.name, c.name_japanese, c.favorites) IS DISTINCT FROM (i.name, i.jp, i.fav)
)
INSERT INTO character (id, name, name_japanese, favorites)
SELECT id, name, jp, fav FROM input ORDER BY id
ON CONFLICT (id) DO NOTHING
)sql"};

inline constexpr db::Statement kRunUpsertWorks{"write.run_upsert_works", R"sql(
WITH input AS (
  SELECT DISTINCT ON (id) id, title, kind, author
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
         AS t(id, title, kind, author, ord)
   ORDER BY id, ord DESC
),
changed AS (
  UPDATE original_work w SET title = i.title, kind = i.kind, author = i.author, updated_at = now()
    FROM input i
   WHERE w.id = i.id
     AND (w.title, w.kind, w.author) IS DISTINCT FROM (i.title, i.kind, i.author)
)
INSERT INTO original_work (id, title, kind, author)
SELECT id, title, kind, author FROM input ORDER BY id
ON CONFLICT (id) DO NOTHING
)sql"};

// Every set the events replace, for all anime of the run.
inline constexpr db::Statement kRunDeleteSets{"write.run_delete_sets", R"sql(
WITH companies AS (DELETE FROM anime_company WHERE anime_id = ANY($1::uuid[])),
     characters AS (DELETE FROM anime_character WHERE anime_id = ANY($1::uuid[])),
     works AS (DELETE FROM anime_original_work_relation WHERE anime_id = ANY($1::uuid[])),
     pending AS (DELETE FROM pending_anime_relation WHERE anime_id = ANY($1::uuid[]))
DELETE FROM anime_relation WHERE anime_id = ANY($1::uuid[])
)sql"};

// The new company, character and work links: ($1 anime, $2 company, $3 role),
// ($4 anime, $5 character, $6 role), ($7 anime, $8 work). anime_year comes from the run's
// anime rows, upserted just before (so the per-row trigger lookup of 0010 is skipped).
inline constexpr db::Statement kRunInsertLinks{"write.run_insert_links", R"sql(
WITH years AS (
  SELECT id, coalesce(year, 0) AS year FROM anime WHERE id = ANY($9::uuid[])
),
companies AS (
  INSERT INTO anime_company (anime_id, company_id, role, anime_year)
  SELECT t.a, t.c, t.r, y.year
    FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS t(a, c, r) JOIN years y ON y.id = t.a
),
characters AS (
  INSERT INTO anime_character (anime_id, character_id, role, anime_year)
  SELECT t.a, t.c, t.r, y.year
    FROM unnest($4::uuid[], $5::uuid[], $6::text[]) AS t(a, c, r) JOIN years y ON y.id = t.a
)
INSERT INTO anime_original_work_relation (anime_id, original_work_id, anime_year)
SELECT t.a, t.w, y.year
  FROM unnest($7::uuid[], $8::uuid[]) AS t(a, w) JOIN years y ON y.id = t.a
)sql"};

// Relations to known anime go to anime_relation; the others wait in pending_anime_relation.
// A target that was merged away (anime_redirect) is replaced by its survivor; an edge that
// thereby points back at its source, or doubles another, is dropped.
inline constexpr db::Statement kRunInsertRelations{"write.run_insert_relations", R"sql(
WITH r AS (
  SELECT DISTINCT t.source, t.related, t.type,
         EXISTS (SELECT 1 FROM anime a WHERE a.id = t.related) AS known
    FROM (SELECT u.source,
                 coalesce((SELECT d.to_id FROM anime_redirect d WHERE d.from_id = u.related),
                          u.related) AS related,
                 u.type
            FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS u(source, related, type)) t
   WHERE t.related <> t.source
),
known AS (
  INSERT INTO anime_relation (anime_id, related_anime_id, relation_type)
  SELECT source, related, type FROM r WHERE known
  RETURNING 1
)
INSERT INTO pending_anime_relation (anime_id, related_anime_id, relation_type)
SELECT source, related, type FROM r WHERE NOT known
)sql"};

// Relations that were waiting for the run's anime become real; returns each source anime once,
// with one of the run's anime it now reaches (the event that caused the change).
inline constexpr db::Statement kRunMaterializePending{"write.run_materialize_pending", R"sql(
WITH moved AS (
  DELETE FROM pending_anime_relation WHERE related_anime_id = ANY($1::uuid[])
  RETURNING anime_id, related_anime_id, relation_type
),
ins AS (
  INSERT INTO anime_relation (anime_id, related_anime_id, relation_type)
  SELECT anime_id, related_anime_id, relation_type FROM moved
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT DISTINCT ON (anime_id) anime_id::text, related_anime_id::text
  FROM moved ORDER BY anime_id, related_anime_id
)sql"};

// Outbox rows in the order given (ids follow it).
inline constexpr db::Statement kRunInsertOutbox{"write.run_insert_outbox", R"sql(
INSERT INTO qdrant_outbox (aggregate_id, event_type, payload)
SELECT a, t, convert_to(p, 'UTF8')
  FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS u(a, t, p, ord)
 ORDER BY ord
)sql"};

// Read before COMMIT, for the answers' change tokens (ApplyResult::change_token): the open
// transaction's id (NULL when it wrote nothing) and the xmax of a snapshot taken now: every
// transaction that had finished by now is below it, among them the earlier writer of an event
// found already applied.  -> xid8 text or NULL, xid8 text
inline constexpr db::Statement kChangeTokens{"write.change_tokens", R"sql(
SELECT pg_current_xact_id_if_assigned()::text, pg_snapshot_xmax(pg_current_snapshot())::text
)sql"};

inline constexpr const db::Statement* kAll[] = {
    &kClaimEvent,          &kPreviousOutcome,    &kMarkStale,
    &kMaterializeStranded, &kPreinsertCompanies, &kPreinsertCharacters,
    &kPreinsertWorks,      &kLockAnime,          &kRetiredId,
    &kUpsertEpisode,       &kBumpForEpisode,     &kUpdateAnime,
    &kRecordView,          &kInsertOutbox,       &kRunClaimEvents,
    &kRunPreviousOutcomes, &kRunLockAnime,       &kRunRetiredIds,
    &kRunMarkStale,        &kRunUpsertAnime,     &kRunUpsertCompanies,
    &kRunUpsertCharacters, &kRunUpsertWorks,     &kRunDeleteSets,
    &kRunInsertLinks,      &kRunInsertRelations, &kRunMaterializePending,
    &kRunInsertOutbox,     &kChangeTokens};

}  // namespace psvc::write::sql
