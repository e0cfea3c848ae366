-- The PostgreSQL twin of sqlite/0008_rollouts.sql: each rollout and the
-- intent log of its tenants.
CREATE TABLE rollouts (
    id           TEXT PRIMARY KEY,
    created_at   TEXT NOT NULL,
    created_by   TEXT,
    status       TEXT NOT NULL,
    spec_json    TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    message      TEXT
);
CREATE TABLE rollout_tenants (
    rollout_id     TEXT NOT NULL REFERENCES rollouts (id),
    tenant         TEXT NOT NULL,
    wave           BIGINT NOT NULL,
    position       BIGINT NOT NULL,
    status         TEXT NOT NULL,
    from_revision  BIGINT,
    to_revision    BIGINT,
    started_at     TEXT,
    ended_at       TEXT,
    message        TEXT,
    PRIMARY KEY (rollout_id, tenant)
);
