-- Tenants, runs, the per-node intent log, per-tenant locks and learned
-- durations. No secret value is ever written to any of these tables.
CREATE TABLE tenants (
    name          TEXT PRIMARY KEY,
    environment   TEXT NOT NULL,
    stack_name    TEXT NOT NULL,
    stack_path    TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    expires_at    TEXT,
    protected     INTEGER NOT NULL DEFAULT 0,
    -- resources and edges of the last create (JSON), for reverse-order destroy
    graph_json    TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    operation     TEXT NOT NULL,
    status        TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    report_json   TEXT
);
CREATE INDEX runs_by_tenant ON runs (tenant, started_at);

CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    node          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    event         TEXT NOT NULL,
    at_ms         INTEGER NOT NULL,
    outputs_json  TEXT NOT NULL DEFAULT '{}',
    had_secrets   INTEGER NOT NULL DEFAULT 0,
    spec_hash     TEXT,
    error         TEXT
);
CREATE INDEX events_by_tenant ON events (tenant, seq);

CREATE TABLE locks (
    tenant        TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL,
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    acquired_ms   INTEGER NOT NULL,
    heartbeat_ms  INTEGER NOT NULL
);

CREATE TABLE durations (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    ms            INTEGER NOT NULL,
    at_ms         INTEGER NOT NULL
);
CREATE INDEX durations_by_kind ON durations (kind, seq);
