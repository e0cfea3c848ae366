-- The PostgreSQL twin of sqlite/0007_revisions.sql: each tenant's recorded
-- revisions (no secret value) and its pin, if any.
CREATE TABLE revisions (
    tenant        TEXT NOT NULL,
    revision      BIGINT NOT NULL,
    run_id        TEXT NOT NULL,
    applied_by    TEXT,
    applied_at    TEXT NOT NULL,
    stack_name    TEXT NOT NULL,
    stack_path    TEXT NOT NULL,
    environment   TEXT NOT NULL,
    content_json  TEXT NOT NULL,
    PRIMARY KEY (tenant, revision)
);
CREATE TABLE pins (
    tenant        TEXT PRIMARY KEY,
    revision      BIGINT NOT NULL,
    pinned_by     TEXT,
    pinned_at     TEXT NOT NULL
);
