-- The PostgreSQL twin of sqlite/0005_notifications.sql: webhook deliveries,
-- one row per (webhook, event key); the primary key is the deduplication
-- across replicas and restarts. No URL is stored.
CREATE TABLE notifications (
    webhook       TEXT NOT NULL,
    event_key     TEXT NOT NULL,
    event         TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    claimed_at    TEXT NOT NULL,
    finished_at   TEXT,
    error         TEXT,
    PRIMARY KEY (webhook, event_key)
);
CREATE INDEX notifications_by_tenant ON notifications (tenant);
