#pragma once
/// SQL of the MergeAnime and RemoveAnime steps. Included by anime_sagas.cpp only (the statement
/// check test prepares them through saga::AllStatements()).
///
/// Why the merge changes nothing before its confirmation: docs/sagas.md.

#include "db/statement.h"

namespace psvc::saga::sql {

// Transaction-scoped advisory locks on the anime a step names, taken in id order. Writes do
// not take them (they lock anime rows); finalization locks the rows too (kLockAnimeRows).
inline constexpr db::Statement kLockIds{"saga.anime_lock_ids", R"sql(
SELECT count(pg_advisory_xact_lock(hashtextextended(id::text, 7)))
  FROM (SELECT DISTINCT id FROM unnest($1::uuid[]) AS t(id) ORDER BY id) ids
)sql"};

// ---- MergeAnime -----------------------------------------------------------------------------
// Every statement below runs in `finalize`, after the confirmation (docs/sagas.md): until then
// the merge has changed no catalogue row, so its compensation has nothing to restore.

// The two anime rows, locked against every write until finalization commits (FOR UPDATE
// conflicts with the write path's FOR NO KEY UPDATE): an event for either anime either commits
// before the merge reads its rows, or waits and then finds the duplicate gone (redirected).
//  $1 uuid[] -> id
inline constexpr db::Statement kLockAnimeRows{"saga.lock_anime_rows", R"sql(
SELECT id::text FROM anime WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE
)sql"};

// Characters, studios/companies and original works: the survivor's own row wins where both
// have one (its role is kept). The duplicate's rows cascade away when it is purged.
//  $1 duplicate  $2 survivor
inline constexpr db::Statement kMergeHubEdges{"saga.merge_hub_edges", R"sql(
WITH c AS (
  INSERT INTO anime_character (anime_id, character_id, role)
  SELECT $2::uuid, character_id, role FROM anime_character WHERE anime_id = $1::uuid
  ON CONFLICT DO NOTHING
), co AS (
  INSERT INTO anime_company (anime_id, company_id, role)
  SELECT $2::uuid, company_id, role FROM anime_company WHERE anime_id = $1::uuid
  ON CONFLICT DO NOTHING
)
INSERT INTO anime_original_work_relation (anime_id, original_work_id)
SELECT $2::uuid, original_work_id FROM anime_original_work_relation WHERE anime_id = $1::uuid
ON CONFLICT DO NOTHING
)sql"};

// Relations in both directions: the duplicate's end is rewritten to the survivor; edges
// between the two (they would become self-relations) are dropped; an edge the survivor
// already has is not doubled. Pending relations of the duplicate move the same way. The
// duplicate's own rows cascade away when it is purged.
//  $1 duplicate  $2 survivor
inline constexpr db::Statement kMergeRelations{"saga.merge_relations", R"sql(
WITH src AS (
  SELECT CASE WHEN anime_id = $1::uuid THEN $2::uuid ELSE anime_id END AS a,
         CASE WHEN related_anime_id = $1::uuid THEN $2::uuid ELSE related_anime_id END AS b,
         relation_type
    FROM anime_relation WHERE anime_id = $1::uuid OR related_anime_id = $1::uuid
), r AS (
  INSERT INTO anime_relation (anime_id, related_anime_id, relation_type)
  SELECT DISTINCT a, b, relation_type FROM src WHERE a <> b
  ON CONFLICT DO NOTHING
)
INSERT INTO pending_anime_relation (anime_id, related_anime_id, relation_type, created_at)
SELECT $2::uuid, related_anime_id, relation_type, created_at
  FROM pending_anime_relation WHERE anime_id = $1::uuid AND related_anime_id <> $2::uuid
ON CONFLICT DO NOTHING
)sql"};

// Episodes keep their ids and move unless the survivor has an episode with the same number
// (unique (anime_id, number)): then the survivor's episode wins and the duplicate's is purged
// with it. View counts add up on the survivor. Neither row's version changes: the merge is
// announced by its own outbox event (AnimeMergeCompleted).
//  $1 duplicate  $2 survivor
inline constexpr db::Statement kMergeEpisodesAndViews{"saga.merge_episodes_and_views", R"sql(
WITH moved AS (
  UPDATE episode e SET anime_id = $2::uuid
   WHERE e.anime_id = $1::uuid
     AND NOT EXISTS (SELECT 1 FROM episode s WHERE s.anime_id = $2::uuid AND s.number = e.number)
)
UPDATE anime SET view_count = view_count + (SELECT view_count FROM anime WHERE id = $1::uuid)
 WHERE id = $2::uuid
)sql"};

// Finalization: redirects that led to the duplicate now lead to the survivor, and the
// duplicate's own id redirects there.
inline constexpr db::Statement kMergeRedirect{"saga.merge_redirect", R"sql(
WITH flatten AS (UPDATE anime_redirect SET to_id = $3::uuid WHERE to_id = $2::uuid)
INSERT INTO anime_redirect (from_id, to_id, saga_id) VALUES ($2::uuid, $3::uuid, $1::uuid)
ON CONFLICT (from_id) DO UPDATE SET to_id = EXCLUDED.to_id, saga_id = EXCLUDED.saga_id
)sql"};

// Finalization (also RemoveAnime's purge): the row goes, its leftover edges cascade.
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
