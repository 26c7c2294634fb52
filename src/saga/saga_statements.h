#pragma once
/// SQL of the saga engine and of saga creation/inspection. Included by src/saga/*.cpp and the
/// statement check test only. Tables: migrations/0006_sagas.sql.

#include "db/statement.h"

namespace psvc::saga::sql {

// ---------------------------------------------------------------------------------------------
// Runner: claiming, fencing, state transitions. Every transition runs inside a transaction
// that first locked the saga row with kLockSaga and checked that this runner owns the lease.

// Takes the lease of one runnable saga nobody holds (or whose holder's lease expired).
//  $1 owner  $2 lease seconds
inline constexpr db::Statement kClaim{"saga.claim", R"sql(
UPDATE saga s
   SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2::float8)
 WHERE s.id = (SELECT id FROM saga
                WHERE status IN ('RUNNING', 'COMPENSATING') AND next_attempt_at <= now()
                  AND (lease_owner IS NULL OR lease_expires_at < now())
                ORDER BY next_attempt_at, created_at
                LIMIT 1
                  FOR UPDATE SKIP LOCKED)
RETURNING s.id::text
)sql"};

// The fence: the saga row locked for the rest of the transaction. A claim by another runner
// needs this lock (SKIP LOCKED), so while we hold it nobody else can take over.
//  $1 saga  $2 owner
inline constexpr db::Statement kLockSaga{"saga.lock", R"sql(
SELECT coalesce(lease_owner = $2, false), type, status, current_step, attempts
  FROM saga WHERE id = $1::uuid
   FOR UPDATE
)sql"};

inline constexpr db::Statement kLoadInput{"saga.load_input", R"sql(
SELECT t.key, t.value FROM saga s CROSS JOIN LATERAL jsonb_each_text(s.input) AS t(key, value)
 WHERE s.id = $1::uuid
)sql"};

// One step's state.  $1 saga  $2 step index  $3 reply timeout seconds
// -> status, attempts, reply, reply_detail, timed out?, seconds until the reply deadline,
//    milliseconds since the last request
inline constexpr db::Statement kLoadStep{"saga.load_step", R"sql(
SELECT status, attempts, reply, coalesce(reply_detail, ''),
       coalesce(request_sent_at + make_interval(secs => $3::float8) <= now(), false),
       coalesce(extract(epoch FROM request_sent_at + make_interval(secs => $3::float8) - now()), 0)::float8,
       coalesce(extract(epoch FROM clock_timestamp() - request_sent_at) * 1000, 0)::float8
  FROM saga_step WHERE saga_id = $1::uuid AND step_index = $2
)sql"};

//  $1 saga  $2 step index
inline constexpr db::Statement kStepDone{"saga.step_done", R"sql(
UPDATE saga_step SET status = 'DONE', started_at = coalesce(started_at, now()),
                     finished_at = now(), last_error = NULL
 WHERE saga_id = $1::uuid AND step_index = $2
)sql"};

// A remote step's request went into the outbox in this transaction.  $1 saga  $2 step index
inline constexpr db::Statement kStepRequestSent{"saga.step_request_sent", R"sql(
UPDATE saga_step SET status = 'AWAITING', attempts = attempts + 1, request_sent_at = now(),
                     reply = NULL, reply_detail = NULL, started_at = coalesce(started_at, now())
 WHERE saga_id = $1::uuid AND step_index = $2
RETURNING attempts
)sql"};

//  $1 saga  $2 step index  $3 error
inline constexpr db::Statement kStepFailed{"saga.step_failed", R"sql(
UPDATE saga_step SET status = 'FAILED', last_error = left($3, 2000), finished_at = now(),
                     started_at = coalesce(started_at, now())
 WHERE saga_id = $1::uuid AND step_index = $2
)sql"};

//  $1 saga  $2 step index
inline constexpr db::Statement kStepCompensated{"saga.step_compensated", R"sql(
UPDATE saga_step SET status = 'COMPENSATED', compensated_at = now()
 WHERE saga_id = $1::uuid AND step_index = $2
)sql"};

// Remote steps still waiting when compensation starts (abort) will never be completed.
inline constexpr db::Statement kFailAwaiting{"saga.fail_awaiting", R"sql(
UPDATE saga_step SET status = 'FAILED', last_error = coalesce(last_error, 'abandoned: the saga is compensating'),
                     finished_at = now()
 WHERE saga_id = $1::uuid AND status = 'AWAITING'
)sql"};

// The newest completed step: the next one to compensate (none = compensation finished).
inline constexpr db::Statement kLastDoneStep{"saga.last_done_step", R"sql(
SELECT max(step_index) FROM saga_step WHERE saga_id = $1::uuid AND status = 'DONE'
)sql"};

// Forward to step $2 and keep the lease.  $1 saga  $2 step  $3 lease seconds
inline constexpr db::Statement kAdvance{"saga.advance", R"sql(
UPDATE saga SET current_step = $2, attempts = 0, last_error = NULL, next_attempt_at = now(),
                lease_expires_at = now() + make_interval(secs => $3::float8), updated_at = now()
 WHERE id = $1::uuid
)sql"};

// Lets go of the saga until $2 seconds from now (a reply deadline, a backoff); optionally
// moves to step $3 and records a failed attempt.  $4 bool failed attempt  $5 error
inline constexpr db::Statement kRelease{"saga.release", R"sql(
UPDATE saga SET lease_owner = NULL, lease_expires_at = NULL,
                next_attempt_at = now() + make_interval(secs => $2::float8),
                current_step = $3,
                attempts = CASE WHEN $4::bool THEN attempts + 1 ELSE 0 END,
                last_error = CASE WHEN $4::bool THEN left($5, 2000) ELSE last_error END,
                updated_at = now()
 WHERE id = $1::uuid
)sql"};

// Compensation reached step $2 (kept: last_error, which says why compensation began).
//  $1 saga  $2 step  $3 lease seconds
inline constexpr db::Statement kCompensationProgress{"saga.compensation_progress", R"sql(
UPDATE saga SET current_step = $2, attempts = 0, next_attempt_at = now(),
                lease_expires_at = now() + make_interval(secs => $3::float8), updated_at = now()
 WHERE id = $1::uuid
)sql"};

//  $1 saga  $2 error
inline constexpr db::Statement kBeginCompensation{"saga.begin_compensation", R"sql(
UPDATE saga SET status = 'COMPENSATING', attempts = 0, last_error = left($2, 2000),
                next_attempt_at = now(), updated_at = now()
 WHERE id = $1::uuid
)sql"};

// Terminal state: the lease, the anime locks and the snapshot go.  $1 saga  $2 status
inline constexpr db::Statement kFinish{"saga.finish", R"sql(
WITH locks AS (DELETE FROM saga_anime_lock WHERE saga_id = $1::uuid),
     snap AS (DELETE FROM saga_snapshot WHERE saga_id = $1::uuid)
UPDATE saga SET status = $2, lease_owner = NULL, lease_expires_at = NULL, finished_at = now(),
                attempts = 0, updated_at = now()
 WHERE id = $1::uuid
)sql"};

// A reply from the remote participant for the step the saga is waiting on. Recorded by
// whichever replica received it; the lease owner acts on it. Late replies (the saga moved
// on, compensates or finished) change nothing.
//  $1 saga  $2 step name ('' = the current one)  $3 CONFIRMED|REFUSED  $4 detail
inline constexpr db::Statement kRecordReply{"saga.record_reply", R"sql(
WITH st AS (
  UPDATE saga_step t SET reply = $3, reply_detail = left($4, 2000)
    FROM saga s
   WHERE t.saga_id = $1::uuid AND s.id = t.saga_id AND t.step_index = s.current_step
     AND s.status = 'RUNNING' AND t.status = 'AWAITING' AND t.reply IS NULL
     AND ($2 = '' OR t.name = $2)
  RETURNING t.saga_id
)
UPDATE saga SET next_attempt_at = now(), updated_at = now()
 WHERE id IN (SELECT saga_id FROM st)
RETURNING id::text
)sql"};

//  $1 aggregate  $2 event type  $3 payload (JSON text)
inline constexpr db::Statement kInsertOutbox{"saga.insert_outbox", R"sql(
INSERT INTO qdrant_outbox (aggregate_id, event_type, payload)
VALUES ($1::uuid, $2, convert_to($3, 'UTF8'))
)sql"};

// ---------------------------------------------------------------------------------------------
// Creation and inspection (SagaStore).

//  $1 request id
inline constexpr db::Statement kFindByRequest{"saga.find_by_request", R"sql(
SELECT id::text, type, input::text, status FROM saga WHERE request_id = $1
)sql"};

//  $1 type  $2 request id  $3 input (jsonb text)
inline constexpr db::Statement kCreateSaga{"saga.create", R"sql(
INSERT INTO saga (type, request_id, input) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (request_id) DO NOTHING
RETURNING id::text
)sql"};

// Canonical form of an input document, to compare a repeated request with the first one.
inline constexpr db::Statement kCanonicalInput{"saga.canonical_input", R"sql(
SELECT $1::jsonb::text
)sql"};

//  $1 saga  $2 text[] step names in order
inline constexpr db::Statement kCreateSteps{"saga.create_steps", R"sql(
INSERT INTO saga_step (saga_id, step_index, name)
SELECT $1::uuid, (t.i - 1)::int, t.name FROM unnest($2::text[]) WITH ORDINALITY AS t(name, i)
)sql"};

// Reserves anime for a saga; returns the ids it got (fewer than asked = held by another).
//  $1 uuid[]  $2 saga
inline constexpr db::Statement kLockAnime{"saga.lock_anime", R"sql(
INSERT INTO saga_anime_lock (anime_id, saga_id)
SELECT DISTINCT id, $2::uuid FROM unnest($1::uuid[]) AS t(id) ORDER BY id
ON CONFLICT (anime_id) DO NOTHING
RETURNING anime_id::text
)sql"};

//  $1 uuid[] -> anime id, saga id, saga type
inline constexpr db::Statement kLockHolders{"saga.lock_holders", R"sql(
SELECT l.anime_id::text, s.id::text, s.type
  FROM saga_anime_lock l JOIN saga s ON s.id = l.saga_id
 WHERE l.anime_id = ANY($1::uuid[])
 ORDER BY l.anime_id
)sql"};

// The anime a request names, locked in id order (concurrent requests queue here).
//  $1 uuid[] -> id, merged_into, hidden?
inline constexpr db::Statement kAnimeStates{"saga.anime_states", R"sql(
SELECT id::text, coalesce(merged_into::text, ''), hidden_at IS NOT NULL
  FROM anime WHERE id = ANY($1::uuid[])
 ORDER BY id
   FOR NO KEY UPDATE
)sql"};

// Why an id that is not in `anime` is gone: merged (redirect) or removed (tombstone).
//  $1 uuid -> kind, detail
inline constexpr db::Statement kRetiredId{"saga.retired_id", R"sql(
SELECT 'merged', to_id::text FROM anime_redirect WHERE from_id = $1::uuid
UNION ALL
SELECT 'removed', reason FROM anime_tombstone WHERE anime_id = $1::uuid
)sql"};

inline constexpr db::Statement kGetSaga{"saga.get", R"sql(
SELECT id::text, type, request_id, input::text, status, current_step, attempts,
       coalesce(last_error, ''), coalesce(lease_owner, ''),
       (extract(epoch FROM created_at) * 1000)::bigint,
       (extract(epoch FROM updated_at) * 1000)::bigint,
       coalesce((extract(epoch FROM finished_at) * 1000)::bigint, 0),
       (extract(epoch FROM next_attempt_at) * 1000)::bigint
  FROM saga WHERE id = $1::uuid
)sql"};

inline constexpr db::Statement kGetSteps{"saga.get_steps", R"sql(
SELECT step_index, name, status, attempts, coalesce(last_error, ''), coalesce(reply, ''),
       coalesce(reply_detail, ''),
       coalesce((extract(epoch FROM started_at) * 1000)::bigint, 0),
       coalesce((extract(epoch FROM finished_at) * 1000)::bigint, 0),
       coalesce((extract(epoch FROM compensated_at) * 1000)::bigint, 0)
  FROM saga_step WHERE saga_id = $1::uuid
 ORDER BY step_index
)sql"};

//  $1 status ('' = any)  $2 limit -> saga ids, newest first
inline constexpr db::Statement kListSagas{"saga.list", R"sql(
SELECT id::text FROM saga WHERE $1 = '' OR status = $1
 ORDER BY created_at DESC, id LIMIT $2
)sql"};

inline constexpr db::Statement kCountByStatus{"saga.count_by_status", R"sql(
SELECT status, count(*) FROM saga GROUP BY status ORDER BY status
)sql"};

// Operator: run an unfinished saga now (skips a backoff or a reply wait).
inline constexpr db::Statement kRetryNow{"saga.retry_now", R"sql(
UPDATE saga SET next_attempt_at = now(), attempts = 0, updated_at = now()
 WHERE id = $1::uuid AND status IN ('RUNNING', 'COMPENSATING')
RETURNING status
)sql"};

// Operator: give up a running saga before its point of no return ($2: last abortable step).
//  $1 saga  $2 int  $3 reason
inline constexpr db::Statement kAbort{"saga.abort", R"sql(
UPDATE saga SET status = 'COMPENSATING', attempts = 0, next_attempt_at = now(),
                last_error = left('aborted: ' || $3, 2000), updated_at = now()
 WHERE id = $1::uuid AND status = 'RUNNING' AND current_step <= $2
RETURNING status
)sql"};

inline constexpr db::Statement kStatusOf{"saga.status_of", R"sql(
SELECT status, current_step FROM saga WHERE id = $1::uuid
)sql"};

}  // namespace psvc::saga::sql
