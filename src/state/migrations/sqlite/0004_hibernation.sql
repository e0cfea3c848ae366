-- Hibernation: what a tenant's hibernation remembered so that wake can put
-- it back (Deployment replicas, HPAs, ASG sizes, RDS identifiers, as JSON;
-- never a secret), its own sleep/wake schedule when it overrides the
-- stack's, and the periods it spent hibernated (for cost).
CREATE TABLE hibernation_state (
    tenant           TEXT PRIMARY KEY,
    remembered_json  TEXT,
    schedule_json    TEXT,
    updated_at       TEXT NOT NULL
);

CREATE TABLE hibernations (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant        TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    ended_at      TEXT
);
CREATE INDEX hibernations_by_tenant ON hibernations (tenant, seq);
