-- Page-view flushes applied exactly once.
--
-- A replica adds its pending views to the catalogue in one transaction per flush interval. When
-- the outcome of that commit is unknown to the replica (the connection broke during COMMIT, the
-- primary failed over after replicating it), the replica must retry without counting the views
-- twice. Each flush batch carries an id the replica keeps across its retries; the transaction
-- records it here first, so a retry of a batch that did commit finds its id and changes nothing.
-- Ids are kept for a day (the flush itself prunes older ones): far beyond any retry.
CREATE TABLE view_flush (
  id uuid PRIMARY KEY,
  flushed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX view_flush_age ON view_flush (flushed_at);
