-- Outbox wake-ups without serialising writers' commits.
--
-- PostgreSQL serialises the commits of transactions that sent a NOTIFY: a cluster-wide lock is
-- taken before the commit record and held until the commit is flushed, so notifying writers
-- commit one WAL flush at a time instead of sharing one: at 32 clients writing one outbox row
-- per transaction, an order of magnitude fewer commits per second (docs/benchmarks.md).
--
-- The wake-up stays on channel `qdrant_outbox` (the outbox relay and the change feed LISTEN on
-- it), but only one transaction at a time sends it: the trigger runs at commit (deferred), and
-- a transaction notifies only when it wins a transaction-scoped advisory lock, which it holds
-- until its commit is done. A writer that finds the lock taken commits at the same moment as
-- the holder, whose NOTIFY wakes the listeners; a row of such a writer that the woken listener
-- read too early is found by its next read (the relay reads again within
-- OutboxRelayOptions::busy_poll_interval after a read that found rows, and polls as a fallback).
CREATE OR REPLACE FUNCTION qdrant_outbox_notify() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF pg_try_advisory_xact_lock(hashtext('postgres_service.outbox_notify')) THEN
    PERFORM pg_notify('qdrant_outbox', '');
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER qdrant_outbox_notify ON qdrant_outbox;
CREATE CONSTRAINT TRIGGER qdrant_outbox_notify AFTER INSERT ON qdrant_outbox
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION qdrant_outbox_notify();
