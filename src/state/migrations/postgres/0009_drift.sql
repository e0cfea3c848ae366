-- The PostgreSQL twin of sqlite/0009_drift.sql: the latest drift check of
-- each tenant (no secret value in the report).
CREATE TABLE drift (
    tenant        TEXT PRIMARY KEY,
    checked_at    TEXT NOT NULL,
    drifted       BIGINT NOT NULL,
    summary_json  TEXT NOT NULL
);
