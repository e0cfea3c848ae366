-- The PostgreSQL twin of sqlite/0006_sessions.sql. Page sessions, shared by
-- every replica: only the SHA-256 of a session id is kept; a row lives until
-- its logout or its expiry, and expired rows are purged.
CREATE TABLE sessions (
    id_sha256     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_ms);

-- A change counter of the tenants table, bumped once per statement that
-- changes it (insert, update, delete, truncate), whichever process makes it.
-- A row, not a sequence: its new value becomes visible only when the
-- tenant change commits, so a reader that sees it sees the new rows (a
-- sequence moves before the commit, and a cache could keep the old rows
-- under the new number).
CREATE TABLE tenants_version (
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    version       BIGINT NOT NULL
);
INSERT INTO tenants_version (id, version) VALUES (1, 0);
CREATE FUNCTION tenants_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tenants_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER tenants_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_version_bump();
