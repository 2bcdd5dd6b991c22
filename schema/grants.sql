-- Applied after every migration run (idempotent). The server's role may read
-- and write working tables, but only read and append the journal.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO folio_app;

REVOKE UPDATE, DELETE, TRUNCATE ON entries, postings, audit_log FROM folio_app;

REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM folio_app;

REVOKE INSERT, UPDATE, DELETE ON schema_migrations, schema_lock FROM folio_app;
