-- The PostgreSQL twin of sqlite/0010_pool_members.sql: warm-pool members
-- (plain outputs only, never a secret).
CREATE TABLE pool_members (
    pool          TEXT NOT NULL,
    member        TEXT NOT NULL,
    physical_id   TEXT NOT NULL DEFAULT '',
    outputs_json  TEXT NOT NULL DEFAULT '{}',
    fingerprint   TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    claimed_by    TEXT,
    claimed_at    TEXT,
    PRIMARY KEY (pool, member)
);
CREATE INDEX pool_members_status ON pool_members (pool, status, created_at);
CREATE INDEX pool_members_claimed_by ON pool_members (claimed_by);

-- Claims per pool and outcome (`hit`: a member was claimed, `miss`: the
-- node was created as usual), counted by every process.
CREATE TABLE pool_claims (
    pool     TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    count    BIGINT NOT NULL,
    PRIMARY KEY (pool, outcome)
);
