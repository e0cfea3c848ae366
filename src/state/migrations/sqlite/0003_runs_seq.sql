-- Runs get an explicit order, `seq`, instead of SQLite's implicit rowid, so
-- that the same queries order runs on PostgreSQL too. SQLite cannot add an
-- AUTOINCREMENT column to a table, so the table is rebuilt; existing runs
-- keep their order.
CREATE TABLE runs_ordered (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    tenant        TEXT NOT NULL,
    operation     TEXT NOT NULL,
    status        TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    report_json   TEXT
);
INSERT INTO runs_ordered (id, tenant, operation, status, started_at, finished_at, report_json)
    SELECT id, tenant, operation, status, started_at, finished_at, report_json FROM runs ORDER BY rowid;
DROP TABLE runs;
ALTER TABLE runs_ordered RENAME TO runs;
CREATE INDEX runs_by_tenant ON runs (tenant, seq);
