-- Bulk loads announce themselves on the committed change feed.
--
-- `postgres-service generate`, `postgres-service demo-data` and the load.sql written by
-- `generate --out` fill the catalogue without the write path, so no per-anime outbox row tells
-- the replicas' memory graphs, GraphQL subscribers or the outbox's consumers (Qdrant sync) what
-- changed. Each load calls this function inside its own transaction: one `CatalogueLoaded` row
-- (aggregate: the nil UUID), delivered in commit order like any change, after which a consumer
-- re-reads the whole catalogue. `source` names the load ('generate', 'demo-data', 'load.sql').
CREATE FUNCTION announce_catalogue_load(source text) RETURNS void
  LANGUAGE sql AS $$
  INSERT INTO qdrant_outbox (aggregate_id, event_type, payload)
  VALUES ('00000000-0000-0000-0000-000000000000', 'CatalogueLoaded',
          convert_to(json_build_object(
            'schema', 1,
            'event_type', 'CatalogueLoaded',
            'anime_id', '00000000-0000-0000-0000-000000000000',
            'cause_event_id', '',
            'occurred_at_ms', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint,
            'source', source)::text, 'UTF8'))
$$;
