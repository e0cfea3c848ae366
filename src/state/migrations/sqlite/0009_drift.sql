-- Drift: the latest scheduled drift check of each tenant (`envctl serve`'s
-- drift_check): when, whether anything drifted, and the report as JSON
-- (release::drift::DriftReport: field names and tag values, never a secret
-- value). Numbered 0009: 0008 belongs to the rollout work.
CREATE TABLE drift (
    tenant        TEXT PRIMARY KEY,
    checked_at    TEXT NOT NULL,
    drifted       INTEGER NOT NULL,
    summary_json  TEXT NOT NULL
);
