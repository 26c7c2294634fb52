-- Least privilege: migrations run as the owner of the schema; the service serves as
-- `psvc_app`, which may read and write rows but not change the schema (no CREATE, ALTER,
-- DROP, TRUNCATE). The local stack creates the role; elsewhere create it before migrating
-- (CREATE ROLE psvc_app LOGIN) or these grants are skipped.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'psvc_app') THEN
    GRANT USAGE ON SCHEMA public TO psvc_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO psvc_app;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO psvc_app;
    -- Tables of later migrations (created by the same owner) get the same grants.
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO psvc_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO psvc_app;
  END IF;
END $$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
