-- Write path bookkeeping on the anime itself.
-- last_event_at: occurred_at of the newest ingestion event applied to this anime, so an
-- enrichment older than what is stored is recognised as stale and ignored (by time, not by
-- arrival order).
ALTER TABLE anime ADD COLUMN last_event_at timestamptz;

-- The outcome of every processed event is kept with a short reason, so a redelivery can
-- answer with what happened the first time.
ALTER TABLE processed_event ADD COLUMN anime_id uuid;
ALTER TABLE processed_event ADD COLUMN detail text CHECK (length(detail) <= 1000);
