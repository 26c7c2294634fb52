#pragma once
/// SQL of the MergeAnime and RemoveAnime steps. Included by merge_anime.cpp, remove_anime.cpp
/// and the statement check test only.
///
/// Parameters throughout: $1 saga id, $2 duplicate (or removed) anime, $3 survivor.
/// Snapshot rows (saga_snapshot) make compensation exact: 'before' rows are the duplicate's
/// rows as they were, 'added' rows the ones the merge inserted on the survivor.

#include "db/statement.h"

namespace psvc::saga::sql {

// Same key and seed as the write path's lock (write.lock_ids), taken in id order: an
// ingestion event naming either anime and a saga step serialize instead of interleaving.
inline constexpr db::Statement kLockIds{"saga.anime_lock_ids", R"sql(
SELECT count(pg_advisory_xact_lock(hashtextextended(id::text, 7)))
  FROM (SELECT DISTINCT id FROM unnest($1::uuid[]) AS t(id) ORDER BY id) ids
)sql"};

// ---- MergeAnime -----------------------------------------------------------------------------

// Everything of the duplicate the merge changes, and the survivor's anime row.
inline constexpr db::Statement kMergeSnapshot{"saga.merge_snapshot", R"sql(
WITH clear AS (DELETE FROM saga_snapshot WHERE saga_id = $1::uuid)
INSERT INTO saga_snapshot (saga_id, table_name, kind, row_data)
SELECT $1::uuid, 'anime', 'before', to_jsonb(x) FROM anime x WHERE x.id IN ($2::uuid, $3::uuid)
UNION ALL
SELECT $1::uuid, 'anime_character', 'before', to_jsonb(x) FROM anime_character x WHERE x.anime_id = $2::uuid
UNION ALL
SELECT $1::uuid, 'anime_company', 'before', to_jsonb(x) FROM anime_company x WHERE x.anime_id = $2::uuid
UNION ALL
SELECT $1::uuid, 'anime_original_work_relation', 'before', to_jsonb(x)
  FROM anime_original_work_relation x WHERE x.anime_id = $2::uuid
UNION ALL
SELECT $1::uuid, 'anime_relation', 'before', to_jsonb(x)
  FROM anime_relation x WHERE x.anime_id = $2::uuid OR x.related_anime_id = $2::uuid
UNION ALL
SELECT $1::uuid, 'pending_anime_relation', 'before', to_jsonb(x)
  FROM pending_anime_relation x WHERE x.anime_id = $2::uuid
UNION ALL
SELECT $1::uuid, 'episode', 'before', to_jsonb(x) FROM episode x WHERE x.anime_id = $2::uuid
)sql"};

// Characters, studios/companies and original works: the survivor's own row wins where both
// have one (its role is kept); the duplicate's rows are deleted.
inline constexpr db::Statement kMergeHubEdges{"saga.merge_hub_edges", R"sql(
WITH c AS (
  INSERT INTO anime_character (anime_id, character_id, role)
  SELECT $3::uuid, character_id, role FROM anime_character WHERE anime_id = $2::uuid
  ON CONFLICT DO NOTHING
  RETURNING *
), cd AS (DELETE FROM anime_character WHERE anime_id = $2::uuid),
co AS (
  INSERT INTO anime_company (anime_id, company_id, role)
  SELECT $3::uuid, company_id, role FROM anime_company WHERE anime_id = $2::uuid
  ON CONFLICT DO NOTHING
  RETURNING *
), cod AS (DELETE FROM anime_company WHERE anime_id = $2::uuid),
w AS (
  INSERT INTO anime_original_work_relation (anime_id, original_work_id)
  SELECT $3::uuid, original_work_id FROM anime_original_work_relation WHERE anime_id = $2::uuid
  ON CONFLICT DO NOTHING
  RETURNING *
), wd AS (DELETE FROM anime_original_work_relation WHERE anime_id = $2::uuid)
INSERT INTO saga_snapshot (saga_id, table_name, kind, row_data)
SELECT $1::uuid, 'anime_character', 'added', to_jsonb(c) FROM c
UNION ALL SELECT $1::uuid, 'anime_company', 'added', to_jsonb(co) FROM co
UNION ALL SELECT $1::uuid, 'anime_original_work_relation', 'added', to_jsonb(w) FROM w
)sql"};

// Relations in both directions: the duplicate's end is rewritten to the survivor; edges
// between the two (they would become self-relations) are dropped; an edge the survivor
// already has is not doubled. Pending relations of the duplicate move the same way.
inline constexpr db::Statement kMergeRelations{"saga.merge_relations", R"sql(
WITH src AS (
  SELECT CASE WHEN anime_id = $2::uuid THEN $3::uuid ELSE anime_id END AS a,
         CASE WHEN related_anime_id = $2::uuid THEN $3::uuid ELSE related_anime_id END AS b,
         relation_type
    FROM anime_relation WHERE anime_id = $2::uuid OR related_anime_id = $2::uuid
), r AS (
  INSERT INTO anime_relation (anime_id, related_anime_id, relation_type)
  SELECT DISTINCT a, b, relation_type FROM src WHERE a <> b
  ON CONFLICT DO NOTHING
  RETURNING *
), rd AS (DELETE FROM anime_relation WHERE anime_id = $2::uuid OR related_anime_id = $2::uuid),
p AS (
  INSERT INTO pending_anime_relation (anime_id, related_anime_id, relation_type, created_at)
  SELECT $3::uuid, related_anime_id, relation_type, created_at
    FROM pending_anime_relation WHERE anime_id = $2::uuid AND related_anime_id <> $3::uuid
  ON CONFLICT DO NOTHING
  RETURNING *
), pd AS (DELETE FROM pending_anime_relation WHERE anime_id = $2::uuid)
INSERT INTO saga_snapshot (saga_id, table_name, kind, row_data)
SELECT $1::uuid, 'anime_relation', 'added', to_jsonb(r) FROM r
UNION ALL SELECT $1::uuid, 'pending_anime_relation', 'added', to_jsonb(p) FROM p
)sql"};

// Episodes keep their ids and move unless the survivor has an episode with the same number
// (unique (anime_id, number)): then the survivor's episode wins and the duplicate's stays
// behind, hidden with it, and is purged at finalization (restored on compensation).
inline constexpr db::Statement kMergeEpisodes{"saga.merge_episodes", R"sql(
WITH moved AS (
  UPDATE episode e SET anime_id = $3::uuid
   WHERE e.anime_id = $2::uuid
     AND NOT EXISTS (SELECT 1 FROM episode s WHERE s.anime_id = $3::uuid AND s.number = e.number)
  RETURNING e.*
)
INSERT INTO saga_snapshot (saga_id, table_name, kind, row_data)
SELECT $1::uuid, 'episode', 'added', to_jsonb(moved) FROM moved
)sql"};

// View counts add up on the survivor; the duplicate is marked (and so hidden everywhere).
// Neither row's version or updated_at changes: the merge is announced by its own event.
//  $1 duplicate  $2 survivor
inline constexpr db::Statement kMergeMark{"saga.merge_mark", R"sql(
WITH s AS (
  UPDATE anime SET view_count = view_count + (SELECT view_count FROM anime WHERE id = $1::uuid)
   WHERE id = $2::uuid
)
UPDATE anime SET merged_into = $2::uuid WHERE id = $1::uuid AND merged_into IS NULL
)sql"};

// Compensation, 1/3: rows the merge added to the survivor go.
inline constexpr db::Statement kRestoreDeleteAdded{"saga.restore_delete_added", R"sql(
WITH s AS (
  SELECT table_name, row_data AS r FROM saga_snapshot WHERE saga_id = $1::uuid AND kind = 'added'
), c AS (
  DELETE FROM anime_character t USING s
   WHERE s.table_name = 'anime_character' AND t.anime_id = (s.r->>'anime_id')::uuid
     AND t.character_id = (s.r->>'character_id')::uuid
  RETURNING 1
), co AS (
  DELETE FROM anime_company t USING s
   WHERE s.table_name = 'anime_company' AND t.anime_id = (s.r->>'anime_id')::uuid
     AND t.company_id = (s.r->>'company_id')::uuid AND t.role = s.r->>'role'
  RETURNING 1
), w AS (
  DELETE FROM anime_original_work_relation t USING s
   WHERE s.table_name = 'anime_original_work_relation' AND t.anime_id = (s.r->>'anime_id')::uuid
     AND t.original_work_id = (s.r->>'original_work_id')::uuid
  RETURNING 1
), r AS (
  DELETE FROM anime_relation t USING s
   WHERE s.table_name = 'anime_relation' AND t.anime_id = (s.r->>'anime_id')::uuid
     AND t.related_anime_id = (s.r->>'related_anime_id')::uuid
     AND t.relation_type = s.r->>'relation_type'
  RETURNING 1
), p AS (
  DELETE FROM pending_anime_relation t USING s
   WHERE s.table_name = 'pending_anime_relation' AND t.anime_id = (s.r->>'anime_id')::uuid
     AND t.related_anime_id = (s.r->>'related_anime_id')::uuid
     AND t.relation_type = s.r->>'relation_type'
  RETURNING 1
), e AS (
  DELETE FROM episode t USING s
   WHERE s.table_name = 'episode' AND t.id = (s.r->>'id')::uuid
  RETURNING 1
)
SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM co) + (SELECT count(*) FROM w) +
       (SELECT count(*) FROM r) + (SELECT count(*) FROM p) + (SELECT count(*) FROM e)
)sql"};

// Compensation, 2/3: the duplicate's rows come back exactly as they were (every column,
// timestamps included). A separate statement from 1/3: a moved episode keeps its id, so
// its 'added' row must be gone before its 'before' row returns.
inline constexpr db::Statement kRestoreInsertBefore{"saga.restore_insert_before", R"sql(
WITH s AS (
  SELECT table_name, row_data AS r FROM saga_snapshot WHERE saga_id = $1::uuid AND kind = 'before'
), c AS (
  INSERT INTO anime_character
  SELECT x.* FROM s CROSS JOIN LATERAL jsonb_populate_record(NULL::anime_character, s.r) x
   WHERE s.table_name = 'anime_character'
  ON CONFLICT DO NOTHING RETURNING 1
), co AS (
  INSERT INTO anime_company
  SELECT x.* FROM s CROSS JOIN LATERAL jsonb_populate_record(NULL::anime_company, s.r) x
   WHERE s.table_name = 'anime_company'
  ON CONFLICT DO NOTHING RETURNING 1
), w AS (
  INSERT INTO anime_original_work_relation
  SELECT x.* FROM s CROSS JOIN LATERAL jsonb_populate_record(NULL::anime_original_work_relation, s.r) x
   WHERE s.table_name = 'anime_original_work_relation'
  ON CONFLICT DO NOTHING RETURNING 1
), r AS (
  INSERT INTO anime_relation
  SELECT x.* FROM s CROSS JOIN LATERAL jsonb_populate_record(NULL::anime_relation, s.r) x
   WHERE s.table_name = 'anime_relation'
     AND EXISTS (SELECT 1 FROM anime a WHERE a.id = x.anime_id)
     AND EXISTS (SELECT 1 FROM anime a WHERE a.id = x.related_anime_id)
  ON CONFLICT DO NOTHING RETURNING 1
), p AS (
  INSERT INTO pending_anime_relation
  SELECT x.* FROM s CROSS JOIN LATERAL jsonb_populate_record(NULL::pending_anime_relation, s.r) x
   WHERE s.table_name = 'pending_anime_relation'
  ON CONFLICT DO NOTHING RETURNING 1
), e AS (
  INSERT INTO episode
  SELECT x.* FROM s CROSS JOIN LATERAL jsonb_populate_record(NULL::episode, s.r) x
   WHERE s.table_name = 'episode'
  ON CONFLICT DO NOTHING RETURNING 1
)
SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM co) + (SELECT count(*) FROM w) +
       (SELECT count(*) FROM r) + (SELECT count(*) FROM p) + (SELECT count(*) FROM e)
)sql"};

// Compensation, 3/3: the survivor gives back the duplicate's views (views recorded since
// stay), the duplicate is visible again.
inline constexpr db::Statement kRestoreMark{"saga.merge_restore_mark", R"sql(
WITH d AS (
  SELECT (row_data->>'view_count')::bigint AS views FROM saga_snapshot
   WHERE saga_id = $1::uuid AND table_name = 'anime' AND kind = 'before'
     AND (row_data->>'id')::uuid = $2::uuid
), s AS (
  UPDATE anime SET view_count = greatest(view_count - coalesce((SELECT views FROM d), 0), 0)
   WHERE id = $3::uuid
     AND EXISTS (SELECT 1 FROM anime m WHERE m.id = $2::uuid AND m.merged_into = $3::uuid)
)
UPDATE anime SET merged_into = NULL WHERE id = $2::uuid AND merged_into = $3::uuid
)sql"};

// Finalization, 1/2: redirects that led to the duplicate now lead to the survivor, and the
// duplicate's own id redirects there.
inline constexpr db::Statement kMergeRedirect{"saga.merge_redirect", R"sql(
WITH flatten AS (UPDATE anime_redirect SET to_id = $3::uuid WHERE to_id = $2::uuid)
INSERT INTO anime_redirect (from_id, to_id, saga_id) VALUES ($2::uuid, $3::uuid, $1::uuid)
ON CONFLICT (from_id) DO UPDATE SET to_id = EXCLUDED.to_id, saga_id = EXCLUDED.saga_id
)sql"};

// Finalization, 2/2 (also RemoveAnime's purge): the row goes, its leftover edges cascade.
//  $1 anime
inline constexpr db::Statement kPurgeAnime{"saga.purge_anime", R"sql(
DELETE FROM anime WHERE id = $1::uuid
)sql"};

// ---- RemoveAnime ----------------------------------------------------------------------------

inline constexpr db::Statement kRemoveSnapshot{"saga.remove_snapshot", R"sql(
WITH clear AS (DELETE FROM saga_snapshot WHERE saga_id = $1::uuid)
INSERT INTO saga_snapshot (saga_id, table_name, kind, row_data)
SELECT $1::uuid, 'anime', 'before', to_jsonb(x) FROM anime x WHERE x.id = $2::uuid
)sql"};

//  $1 anime
inline constexpr db::Statement kHide{"saga.hide", R"sql(
UPDATE anime SET hidden_at = now() WHERE id = $1::uuid AND hidden_at IS NULL
)sql"};

// Compensation: back to exactly what the snapshot holds (NULL: the saga hid a visible anime).
inline constexpr db::Statement kUnhide{"saga.unhide", R"sql(
UPDATE anime SET hidden_at = (SELECT (row_data->>'hidden_at')::timestamptz FROM saga_snapshot
                               WHERE saga_id = $1::uuid AND table_name = 'anime' AND kind = 'before'
                                 AND (row_data->>'id')::uuid = $2::uuid)
 WHERE id = $2::uuid
)sql"};

// Purge, 1/2: the id is remembered as removed, and so are ids that redirected to it.
//  $1 saga  $2 anime  $3 reason
inline constexpr db::Statement kTombstone{"saga.tombstone", R"sql(
INSERT INTO anime_tombstone (anime_id, reason, saga_id)
SELECT $2::uuid, $3, $1::uuid
UNION ALL
SELECT from_id, $3, $1::uuid FROM anime_redirect WHERE to_id = $2::uuid
ON CONFLICT (anime_id) DO NOTHING
)sql"};

}  // namespace psvc::saga::sql
