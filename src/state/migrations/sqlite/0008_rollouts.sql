-- Rollouts: one release applied to many tenants in waves (canary first,
-- then batches), each tenant gated on health and rolled back on failure.
-- The rows are the rollout's intent log: every tenant transition is written
-- before and after its action, so `envctl rollout resume ID` continues a
-- rollout whose process died.
CREATE TABLE rollouts (
    id           TEXT PRIMARY KEY,
    created_at   TEXT NOT NULL,
    created_by   TEXT,
    -- running, paused, aborted, succeeded, failed, stopped
    status       TEXT NOT NULL,
    -- what to roll out and how (release::rollout::Spec as JSON; no secret)
    spec_json    TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    message      TEXT
);
CREATE TABLE rollout_tenants (
    rollout_id     TEXT NOT NULL REFERENCES rollouts (id),
    tenant         TEXT NOT NULL,
    wave           INTEGER NOT NULL,
    position       INTEGER NOT NULL,
    -- pending, applying, gating, rolling_back, succeeded, unchanged,
    -- skipped, failed, rolled_back, rollback_failed
    status         TEXT NOT NULL,
    from_revision  INTEGER,
    to_revision    INTEGER,
    started_at     TEXT,
    ended_at       TEXT,
    message        TEXT,
    PRIMARY KEY (rollout_id, tenant)
);
