-- Warm pools (src/pool): members of a pool made ahead of demand and
-- claimed by a create. `pool` is `<stack>/<resource>`; `member` the
-- member's neutral name (`pool-<hash>`); `physical_id` its cloud id (an RDS
-- identifier); `outputs_json` its plain outputs only, never a secret;
-- `fingerprint` the SHA-256 of the properties it was made from (a member
-- made from other properties is never claimed). `status` moves
-- creating -> available -> claimed (claimed_by a tenant) or -> deleting.
-- Numbered 0010 (0011 belongs to the edge work).
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
