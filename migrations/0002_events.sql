-- Event bookkeeping: the transactional outbox towards the Qdrant Sync Service and the
-- record of processed ingestion events (idempotency).

-- One row per committed change that downstream consumers must see. Written in the same
-- transaction as the change itself; the relay publishes it to JetStream with `id` as the
-- message id (server-side de-duplication) and stamps `published_at` after the ack.
CREATE TABLE qdrant_outbox (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  aggregate_id uuid NOT NULL,
  event_type   text NOT NULL CHECK (event_type ~ '^[A-Za-z][A-Za-z0-9_.]{0,99}$'),
  payload      bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  published_at timestamptz,
  attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error   text
);
-- The relay's work queue: unpublished rows in id order.
CREATE INDEX qdrant_outbox_unpublished ON qdrant_outbox (id) WHERE published_at IS NULL;
CREATE INDEX qdrant_outbox_published_at ON qdrant_outbox (published_at) WHERE published_at IS NOT NULL;

-- Wake the relay on commit: NOTIFY is delivered only when the inserting transaction commits.
CREATE FUNCTION qdrant_outbox_notify() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('qdrant_outbox', '');
  RETURN NULL;
END $$;
CREATE TRIGGER qdrant_outbox_notify AFTER INSERT ON qdrant_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION qdrant_outbox_notify();

-- Every ingestion event applied (or deliberately ignored), by its producer-assigned id:
-- a redelivery finds its id here and changes nothing.
CREATE TABLE processed_event (
  event_id     uuid PRIMARY KEY,
  event_type   text NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('APPLIED', 'IGNORED_STALE')),
  processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_event_processed_at ON processed_event (processed_at);
