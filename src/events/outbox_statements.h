#pragma once
/// SQL of the outbox relay. Included by the relay and the statement check test only.

#include "db/statement.h"

namespace psvc::events::sql {

// Makes this session the one relay that publishes (held until released or the connection
// dies). Row locks alone (SKIP LOCKED) would let two relays publish different rows of one
// anime concurrently, out of order.
inline constexpr db::Statement kOutboxTryLock{"events.outbox_try_lock", R"sql(
SELECT pg_try_advisory_lock(hashtext('postgres_service.outbox_relay'))
)sql"};

inline constexpr db::Statement kOutboxUnlock{"events.outbox_unlock", R"sql(
SELECT pg_advisory_unlock(hashtext('postgres_service.outbox_relay'))
)sql"};

// Claims the next batch of unpublished rows (counting the attempt), returned in id order.
// Run in its own synchronously committed transaction: that commit returns only once the
// synchronous standby holds it, and with it every row the statement saw (their commits
// precede it in the WAL). A visible row is not always replicated: a writer whose wait for the
// standby is cancelled keeps its local commit, and a restarted primary shows what it had
// committed alone. Publishing such a row would announce a change a failover then loses.
//  $1 int  batch size
// created_at as microseconds since the epoch (publish latency).
inline constexpr db::Statement kOutboxClaim{"events.outbox_claim", R"sql(
WITH claimed AS (
  UPDATE qdrant_outbox
     SET attempts = attempts + 1
   WHERE id IN (SELECT id FROM qdrant_outbox
                 WHERE published_at IS NULL
                 ORDER BY id
                 LIMIT $1)
  RETURNING id, aggregate_id::text, event_type, payload,
            (extract(epoch FROM created_at) * 1000000)::bigint AS created_us
)
SELECT * FROM claimed ORDER BY id
)sql"};

// Rows whose publish the stream acknowledged.  $1 bigint[] ids
inline constexpr db::Statement kOutboxMarkPublished{"events.outbox_mark_published", R"sql(
UPDATE qdrant_outbox
   SET published_at = clock_timestamp(), last_error = NULL
 WHERE id = ANY($1::bigint[])
)sql"};

// The row whose publish failed (the batch stops there to keep id order).  $1 id  $2 error
inline constexpr db::Statement kOutboxRecordFailure{"events.outbox_record_failure", R"sql(
UPDATE qdrant_outbox SET last_error = left($2, 2000) WHERE id = $1
)sql"};

// Backlog for metrics: unpublished rows and the age of the oldest one, in seconds.
inline constexpr db::Statement kOutboxBacklog{"events.outbox_backlog", R"sql(
SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8
  FROM qdrant_outbox
 WHERE published_at IS NULL
)sql"};

// Deletes up to $2 rows published more than $1 seconds ago (bounded: short transactions).
// Records the newest transaction it deleted rows of (outbox_prune_horizon): a change feed
// resuming at or below it has lost changes (src/changes/change_feed.h).
// -> the number of rows deleted
inline constexpr db::Statement kOutboxPrune{"events.outbox_prune", R"sql(
WITH d AS (
  DELETE FROM qdrant_outbox
   WHERE id IN (SELECT id FROM qdrant_outbox
                 WHERE published_at IS NOT NULL
                   AND published_at < clock_timestamp() - make_interval(secs => $1::float8)
                 ORDER BY published_at
                 LIMIT $2)
  RETURNING xid
), h AS (
  UPDATE outbox_prune_horizon
     SET max_pruned_xid = greatest(max_pruned_xid, (SELECT max(xid) FROM d))
   WHERE EXISTS (SELECT FROM d)
)
SELECT count(*) FROM d
)sql"};

// Without NATS nothing relays the outbox: rows older than the retention go whether published
// or not (a replica without --nats-url prunes so). Oldest first, bounded per call.
//  $1 retention (seconds)  $2 batch
// Records the prune horizon as kOutboxPrune does. -> the number of rows deleted
inline constexpr db::Statement kOutboxPruneUnrelayed{"events.outbox_prune_unrelayed", R"sql(
WITH d AS (
  DELETE FROM qdrant_outbox
   WHERE id IN (SELECT id FROM qdrant_outbox
                 WHERE created_at < clock_timestamp() - make_interval(secs => $1::float8)
                 ORDER BY id
                 LIMIT $2)
  RETURNING xid
), h AS (
  UPDATE outbox_prune_horizon
     SET max_pruned_xid = greatest(max_pruned_xid, (SELECT max(xid) FROM d))
   WHERE EXISTS (SELECT FROM d)
)
SELECT count(*) FROM d
)sql"};

}  // namespace psvc::events::sql
