-- Webhook deliveries: one row per (webhook, event key), claimed before the
-- first attempt. The primary key is the deduplication: a second replica or
-- a restarted server that sees the same event finds the row and sends
-- nothing. No URL is stored: webhooks are named by their configured name.
CREATE TABLE notifications (
    webhook       TEXT NOT NULL,
    event_key     TEXT NOT NULL,
    event         TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    -- sending, delivered, failed
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    claimed_at    TEXT NOT NULL,
    finished_at   TEXT,
    error         TEXT,
    PRIMARY KEY (webhook, event_key)
);
CREATE INDEX notifications_by_tenant ON notifications (tenant);
