#pragma once
/// SQL of the view counter (view_counter.h): a replica's views reach the catalogue in bulk.

#include "db/statement.h"

namespace psvc::write::sql {

// What a view of $1 would count on: the live anime's counters, or the survivor a merge
// redirected the id to. -> view_count, version (NULL when not live), survivor (NULL when none).
inline constexpr db::Statement kViewTarget{"views.target", R"sql(
SELECT a.view_count, a.version, r.to_id::text
  FROM (SELECT $1::uuid AS id) k
  LEFT JOIN anime a ON a.id = k.id AND a.merged_into IS NULL
  LEFT JOIN anime_redirect r ON r.from_id = k.id
)sql"};

// A flush batch's id recorded before its views are added, in the same transaction: no row
// back means this batch already committed (a retry after an unknown outcome) and nothing more
// may be written. Ids older than a day are pruned on the way.  $1 batch id -> id (or no row)
inline constexpr db::Statement kClaimViewFlush{"views.claim_flush", R"sql(
WITH pruned AS (
  DELETE FROM view_flush WHERE flushed_at < now() - interval '1 day'
)
INSERT INTO view_flush (id) VALUES ($1::uuid) ON CONFLICT (id) DO NOTHING RETURNING id
)sql"};

// One flush: each anime's pending views added in one statement, and one coalesced AnimeViewed
// outbox row per anime (not per view) for the Qdrant Sync Service's popularity. Rows are locked
// in id order first, the order a merge's finalization locks in, so the two never deadlock; an
// id whose row is gone (merged, removed) is not returned and the caller resolves it.
//  $1 anime ids  $2 views per id (parallel)  -> id, view_count, version
inline constexpr db::Statement kFlushViews{"views.flush", R"sql(
WITH d AS (
  SELECT id, sum(n)::bigint AS n FROM unnest($1::uuid[], $2::bigint[]) AS t(id, n) GROUP BY id
), locked AS MATERIALIZED (
  SELECT a.id FROM anime a JOIN d USING (id) WHERE a.merged_into IS NULL ORDER BY a.id
     FOR UPDATE OF a
), counted AS (
  UPDATE anime a SET view_count = a.view_count + d.n
    FROM d JOIN locked USING (id)
   WHERE a.id = d.id
  RETURNING a.id, a.view_count, a.version, d.n
), announced AS (
  INSERT INTO qdrant_outbox (aggregate_id, event_type, payload)
  SELECT id, 'AnimeViewed',
         convert_to(json_build_object('schema', 1, 'event_type', 'AnimeViewed', 'anime_id', id,
                                      'cause_event_id', '', 'occurred_at_ms',
                                      (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
                                      'version', version, 'view_count', view_count,
                                      'views', n)::text, 'UTF8')
    FROM counted ORDER BY id
)
SELECT id::text, view_count, version FROM counted
)sql"};

// For ids a flush could not count on: where a merge sent them. -> id, survivor
inline constexpr db::Statement kViewRedirects{"views.redirects", R"sql(
SELECT from_id::text, to_id::text FROM anime_redirect WHERE from_id = ANY($1::uuid[])
)sql"};

}  // namespace psvc::write::sql
