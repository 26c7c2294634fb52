#pragma once
/// SQL of the outbox relay. Included by the relay and the statement check test only.

#include "db/statement.h"

namespace psvc::events::sql {

// Serializes relays across replicas for one transaction (released at COMMIT/ROLLBACK, and
// by the server when the holder's connection dies). Row locks alone (SKIP LOCKED) would let
// two relays publish different rows of one anime concurrently, out of order.
inline constexpr db::Statement kOutboxTryLock{"events.outbox_try_lock", R"sql(
SELECT pg_try_advisory_xact_lock(hashtext('postgres_service.outbox_relay'))
)sql"};

// The next batch of unpublished rows in id order, locked until the relay's transaction ends.
//  $1 int  batch size
// created_at as microseconds since the epoch (publish latency).
inline constexpr db::Statement kOutboxClaim{"events.outbox_claim", R"sql(
SELECT id, aggregate_id::text, event_type, payload,
       (extract(epoch FROM created_at) * 1000000)::bigint
  FROM qdrant_outbox
 WHERE published_at IS NULL
 ORDER BY id
 LIMIT $1
   FOR UPDATE SKIP LOCKED
)sql"};

// Rows whose publish the stream acknowledged.  $1 bigint[] ids
inline constexpr db::Statement kOutboxMarkPublished{"events.outbox_mark_published", R"sql(
UPDATE qdrant_outbox
   SET published_at = clock_timestamp(), attempts = attempts + 1, last_error = NULL
 WHERE id = ANY($1::bigint[])
)sql"};

// The row whose publish failed (the batch stops there to keep id order).  $1 id  $2 error
inline constexpr db::Statement kOutboxRecordFailure{"events.outbox_record_failure", R"sql(
UPDATE qdrant_outbox SET attempts = attempts + 1, last_error = left($2, 2000) WHERE id = $1
)sql"};

// Backlog for metrics: unpublished rows and the age of the oldest one, in seconds.
inline constexpr db::Statement kOutboxBacklog{"events.outbox_backlog", R"sql(
SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8
  FROM qdrant_outbox
 WHERE published_at IS NULL
)sql"};

// Deletes up to $2 rows published more than $1 seconds ago (bounded: short transactions).
inline constexpr db::Statement kOutboxPrune{"events.outbox_prune", R"sql(
DELETE FROM qdrant_outbox
 WHERE id IN (SELECT id FROM qdrant_outbox
               WHERE published_at IS NOT NULL
                 AND published_at < clock_timestamp() - make_interval(secs => $1::float8)
               ORDER BY published_at
               LIMIT $2)
)sql"};

// Without NATS nothing relays the outbox: rows older than the retention go whether published
// or not (a replica without --nats-url prunes so). Oldest first, bounded per call.
//  $1 retention (seconds)  $2 batch
inline constexpr db::Statement kOutboxPruneUnrelayed{"events.outbox_prune_unrelayed", R"sql(
DELETE FROM qdrant_outbox
 WHERE id IN (SELECT id FROM qdrant_outbox
               WHERE created_at < clock_timestamp() - make_interval(secs => $1::float8)
               ORDER BY id
               LIMIT $2)
)sql"};

}  // namespace psvc::events::sql
