-- Page sessions, shared by every replica of `envctl serve` on this store so
-- that a user needs no affinity to one of them. Only the SHA-256 of a
-- session id is kept (the id itself is in the user's cookie alone); a row
-- lives until its logout or its expiry, and expired rows are purged.
CREATE TABLE sessions (
    id_sha256     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_ms);

-- A change counter of the tenants table, bumped by triggers on any insert,
-- update or delete, whichever process or code path makes it: a server
-- caching the tenant list compares it on each request (one indexed row)
-- instead of reading every tenant. It changes in the same transaction as
-- the rows, so a reader that sees the new count sees the new rows.
CREATE TABLE tenants_version (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    version       INTEGER NOT NULL
);
INSERT INTO tenants_version (id, version) VALUES (1, 0);
CREATE TRIGGER tenants_version_insert AFTER INSERT ON tenants
BEGIN
    UPDATE tenants_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER tenants_version_update AFTER UPDATE ON tenants
BEGIN
    UPDATE tenants_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER tenants_version_delete AFTER DELETE ON tenants
BEGIN
    UPDATE tenants_version SET version = version + 1 WHERE id = 1;
END;
