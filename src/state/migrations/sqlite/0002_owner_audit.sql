-- Who asked for a tenant and why, the audit log of the server, and this
-- store's own settings.
ALTER TABLE tenants ADD COLUMN owner TEXT;
ALTER TABLE tenants ADD COLUMN note TEXT;

CREATE TABLE audit (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    role          TEXT NOT NULL,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL,
    result        TEXT NOT NULL,
    detail        TEXT
);
CREATE INDEX audit_by_at ON audit (seq);
