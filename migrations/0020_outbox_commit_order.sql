-- The committed change feed (src/changes/, docs/architecture.md "Committed change feed").
--
-- Every outbox row records the transaction that wrote it (its top-level xid, also from a
-- savepoint). A reader that takes rows with `watermark <= xid < xmin of its own snapshot` sees
-- only finished transactions, so a transaction that started earlier but commits later is
-- never skipped: it holds xmin back until it ends. Existing rows get this migration's xid
-- (older than any later write), so a feed started after it reads them as one old transaction.
ALTER TABLE qdrant_outbox ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX qdrant_outbox_xid ON qdrant_outbox (xid, id);
-- The feed's per-anime order check: an anime's committed rows above the poll's xmin.
CREATE INDEX qdrant_outbox_aggregate_xid ON qdrant_outbox (aggregate_id, xid);

-- Pruning deletes outbox rows (retention). It records the newest transaction whose rows it
-- deleted, so a feed resuming from a watermark at or below it knows changes are gone and its
-- consumer must load a fresh snapshot. One row; NULL until the first prune.
CREATE TABLE outbox_prune_horizon (
  singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  max_pruned_xid xid8
);
INSERT INTO outbox_prune_horizon DEFAULT VALUES;
