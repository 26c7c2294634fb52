-- Sagas: durable multi-step operations that span the database and the event stream
-- (src/saga/). MergeAnime(duplicate, survivor) and RemoveAnime(id, reason).
--
-- Lifecycle of a catalogue entry taking part in one:
--  * merge, step (a): the duplicate's edges move to the survivor, `anime.merged_into` is set;
--    the duplicate is hidden from every read surface from then on.
--  * remove, step (a): `anime.hidden_at` is set; hidden from every read surface.
--  * finalize: the row is deleted (edges cascade) and an `anime_redirect` (merge) or an
--    `anime_tombstone` (removal) row remembers the id, so late events for it are ignored
--    and GraphQL can resolve a merged id to its survivor.
--  * compensation: restores the rows recorded in `saga_snapshot` exactly.
-- Readers filter with `merged_into IS NULL AND hidden_at IS NULL`; the partial index below
-- makes "is this id retired?" an index probe into a (normally empty) index.

ALTER TABLE anime ADD COLUMN merged_into uuid;
ALTER TABLE anime ADD COLUMN hidden_at timestamptz;
ALTER TABLE anime ADD CONSTRAINT anime_not_merged_into_itself CHECK (merged_into <> id);
CREATE INDEX anime_retired ON anime (id) WHERE merged_into IS NOT NULL OR hidden_at IS NOT NULL;

-- A merged duplicate after finalization: its id now means `to_id`. Chains are flattened
-- when a survivor is itself merged later, so one lookup always suffices.
CREATE TABLE anime_redirect (
  from_id    uuid PRIMARY KEY,
  to_id      uuid NOT NULL REFERENCES anime (id) ON DELETE CASCADE,
  saga_id    uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (from_id <> to_id)
);
CREATE INDEX anime_redirect_to ON anime_redirect (to_id);

-- A removed anime after finalization: events naming it are ignored, it is never re-created.
CREATE TABLE anime_tombstone (
  anime_id   uuid PRIMARY KEY,
  reason     text NOT NULL CHECK (length(reason) <= 1000),
  saga_id    uuid NOT NULL,
  removed_at timestamptz NOT NULL DEFAULT now()
);

-- The id a client's anime id stands for now: itself when visible, the survivor when merged
-- (pending or finalized), NULL when unknown, hidden or removed. For GraphQL `anime(id:)`.
CREATE FUNCTION psvc_resolve_anime_id(uuid) RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE STRICT
  RETURN coalesce(
    (SELECT CASE WHEN a.merged_into IS NOT NULL THEN
                   (SELECT s.id FROM anime s
                     WHERE s.id = a.merged_into AND s.merged_into IS NULL AND s.hidden_at IS NULL)
                 WHEN a.hidden_at IS NULL THEN a.id END
       FROM anime a WHERE a.id = $1),
    (SELECT s.id FROM anime_redirect r JOIN anime s ON s.id = r.to_id
      WHERE r.from_id = $1 AND s.merged_into IS NULL AND s.hidden_at IS NULL));

-- One row per saga instance.
--  status: RUNNING (forward) -> COMPLETED, or RUNNING -> COMPENSATING -> COMPENSATED.
--  current_step: index of the step being run (forward) or compensated.
--  next_attempt_at: when a runner should look at it again (backoff, reply timeout).
--  lease_owner/lease_expires_at: the runner driving it right now; every state change is made
--  under the saga row's lock by the lease owner, so exactly one runner drives a saga.
CREATE TABLE saga (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type             text NOT NULL CHECK (type IN ('MergeAnime', 'RemoveAnime')),
  request_id       text NOT NULL UNIQUE CHECK (length(request_id) BETWEEN 1 AND 200),
  input            jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'RUNNING'
                   CHECK (status IN ('RUNNING', 'COMPENSATING', 'COMPLETED', 'COMPENSATED')),
  current_step     integer NOT NULL DEFAULT 0,
  attempts         integer NOT NULL DEFAULT 0,  -- failed attempts of the current step
  last_error       text,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  lease_owner      text,
  lease_expires_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
-- The runners' work queue.
CREATE INDEX saga_runnable ON saga (next_attempt_at) WHERE status IN ('RUNNING', 'COMPENSATING');
CREATE INDEX saga_created ON saga (created_at DESC);

-- Steps of a saga, in order.
--  status: PENDING -> (AWAITING, remote steps) -> DONE -> COMPENSATED, or FAILED.
--  Remote steps: `attempts` requests sent, the last at `request_sent_at`; the reply
--  (CONFIRMED / REFUSED) is recorded by whichever replica receives it.
CREATE TABLE saga_step (
  saga_id         uuid NOT NULL REFERENCES saga (id) ON DELETE CASCADE,
  step_index      integer NOT NULL,
  name            text NOT NULL,
  status          text NOT NULL DEFAULT 'PENDING'
                  CHECK (status IN ('PENDING', 'AWAITING', 'DONE', 'FAILED', 'COMPENSATED')),
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  request_sent_at timestamptz,
  reply           text CHECK (reply IN ('CONFIRMED', 'REFUSED')),
  reply_detail    text CHECK (length(reply_detail) <= 2000),
  started_at      timestamptz,
  finished_at     timestamptz,
  compensated_at  timestamptz,
  PRIMARY KEY (saga_id, step_index)
);

-- An anime takes part in at most one unfinished saga: concurrent conflicting requests
-- (A->B while B->A, merge while removing) fail at creation instead of interleaving.
CREATE TABLE saga_anime_lock (
  anime_id uuid PRIMARY KEY,
  saga_id  uuid NOT NULL REFERENCES saga (id) ON DELETE CASCADE
);
CREATE INDEX saga_anime_lock_saga ON saga_anime_lock (saga_id);

-- Rows a saga step changed, for exact compensation.
--  kind 'before': a row as it was (re-inserted / written back on restore);
--  kind 'added':  a row the step inserted (deleted on restore).
CREATE TABLE saga_snapshot (
  saga_id    uuid NOT NULL REFERENCES saga (id) ON DELETE CASCADE,
  table_name text NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('before', 'added')),
  row_data   jsonb NOT NULL
);
CREATE INDEX saga_snapshot_saga ON saga_snapshot (saga_id, table_name, kind);
