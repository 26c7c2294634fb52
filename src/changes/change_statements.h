#pragma once
/// SQL of the committed change feed. Included by change_feed.cpp and the statement test only.

#include "db/statement.h"

namespace psvc::changes::sql {

// The feed's position now: every transaction below the xmin of this statement's snapshot has
// finished. -> xmin (xid8 as text)
inline constexpr db::Statement kCurrentWatermark{"changes.current_watermark", R"sql(
SELECT pg_snapshot_xmin(pg_current_snapshot())::text
)sql"};

// What holds this database's changes back, read BEFORE the poll's snapshot: xid8 transactions
// are numbered cluster-wide and a snapshot's xmin waits for every open transaction of every
// database (a bulk load next door would stall the feed), yet only sessions of this database
// can write its outbox. Every transaction of this database still open at the poll either shows
// here (it had its xid when this ran) or has an xid at or above this statement's xmax.
// `trusted` is false when the list may be incomplete: a session of another role whose xid
// this role may not see (without pg_read_all_stats), or a prepared transaction (not a session);
// the feed then uses the snapshot's xmin alone.
//  -> xmax (xid8 text), backend xids of this database (32-bit xid as text[]), trusted
inline constexpr db::Statement kLocalHorizon{"changes.local_horizon", R"sql(
SELECT pg_snapshot_xmax(pg_current_snapshot())::text,
       (SELECT coalesce(array_agg(backend_xid::text), '{}')
          FROM pg_stat_activity
         WHERE datname = current_database() AND backend_xid IS NOT NULL),
       (pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
        OR NOT EXISTS (SELECT FROM pg_stat_activity
                        WHERE datname = current_database() AND usename <> current_user))
       AND NOT EXISTS (SELECT FROM pg_prepared_xacts WHERE database = current_database())
)sql"};

// One poll. The rows of finished transactions from the previous watermark on, up to $2 rows,
// and the new watermark, both from this statement's one snapshot (pg_current_snapshot() is the
// statement's own outside an explicit transaction): below xmin every transaction has finished,
// so a row that becomes visible later always has xid >= xmin and is read by a later poll. $3 is
// this database's horizon from kLocalHorizon (0 = none): below it every transaction of this
// database had finished before this snapshot, so the window ends at the greater of the two.
// Also the snapshot's xmax (transactions in flight lie in [xmin, xmax): how far the feed is
// behind the server) and the prune horizon (rows of transactions up to it may be gone).
//  $1 xid8 watermark (text)  $2 int row limit  $3 xid8 local horizon (text)
//  -> xmin, xmax, max_pruned_xid, then per row (NULLs when none): id, xid, anime id,
//     event type, payload (UTF-8 text), created_at (microseconds since the epoch)
inline constexpr db::Statement kPoll{"changes.poll", R"sql(
WITH s AS MATERIALIZED (
  SELECT greatest(pg_snapshot_xmin(pg_current_snapshot()), $3::xid8) AS xmin,
         pg_snapshot_xmax(pg_current_snapshot()) AS xmax
)
SELECT s.xmin::text, s.xmax::text, (SELECT max_pruned_xid::text FROM outbox_prune_horizon),
       o.id, o.xid::text, o.aggregate_id::text, o.event_type, convert_from(o.payload, 'UTF8'),
       (extract(epoch FROM o.created_at) * 1000000)::bigint
  FROM s
  LEFT JOIN LATERAL (
    SELECT * FROM qdrant_outbox q
     WHERE q.xid >= $1::xid8 AND q.xid < s.xmin
     ORDER BY q.xid, q.id
     LIMIT $2
  ) o ON true
 ORDER BY o.xid, o.id
)sql"};

// Every row of one finished transaction: a transaction with more rows than one poll takes is
// delivered whole, in one batch.  $1 xid8 (text)  -> as kPoll's row columns
inline constexpr db::Statement kTransactionRows{"changes.transaction_rows", R"sql(
SELECT id, xid::text, aggregate_id::text, event_type, convert_from(payload, 'UTF8'),
       (extract(epoch FROM created_at) * 1000000)::bigint
  FROM qdrant_outbox
 WHERE xid = $1::xid8
 ORDER BY id
)sql"};

// Committed rows of the given anime from transactions at or above the end of the poll's window
// (its xmin, or where a long window was cut short): not deliverable yet. A poll holds back a
// row of its window when one of these was committed before it (an anime's later commit with
// the older xid), so each anime's changes stay in commit order. A later snapshot than the
// poll's only adds rows committed after every row of the window, which never hold one back.
//  $1 uuid[] anime  $2 xid8 end of the window  -> as kPoll's row columns
inline constexpr db::Statement kCommittedAbove{"changes.committed_above", R"sql(
SELECT id, xid::text, aggregate_id::text, event_type, convert_from(payload, 'UTF8'),
       (extract(epoch FROM created_at) * 1000000)::bigint
  FROM qdrant_outbox
 WHERE aggregate_id = ANY($1::uuid[]) AND xid >= $2::xid8
)sql"};

// The open transaction's id (assigned if it has none): the change token of a write, compared
// with the feed's watermark for read-your-writes. -> xid8 as text
inline constexpr db::Statement kCurrentXid{"changes.current_xid", R"sql(
SELECT pg_current_xact_id()::text
)sql"};

}  // namespace psvc::changes::sql
