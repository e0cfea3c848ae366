-- Releases: every successful create records the tenant's revision (the
-- stack and catalog content it applied, secret values replaced by a
-- marker), numbered 1, 2, ... per tenant; a pin holds a tenant at one
-- revision (rollouts skip it, create refuses it until unpinned).
CREATE TABLE revisions (
    tenant        TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    run_id        TEXT NOT NULL,
    applied_by    TEXT,
    applied_at    TEXT NOT NULL,
    stack_name    TEXT NOT NULL,
    stack_path    TEXT NOT NULL,
    environment   TEXT NOT NULL,
    -- what was applied: a release::Snapshot as JSON, never a secret value
    content_json  TEXT NOT NULL,
    PRIMARY KEY (tenant, revision)
);
CREATE TABLE pins (
    tenant        TEXT PRIMARY KEY,
    revision      INTEGER NOT NULL,
    pinned_by     TEXT,
    pinned_at     TEXT NOT NULL
);
