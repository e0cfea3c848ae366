//! What the server tells webhooks about: one `Event` per thing that happened
//! to a tenant, its stable name (`tenant.ready`, ...), and the key that makes
//! each delivery happen once per webhook however many replicas see it.

use std::time::Duration;

use serde_json::{Value, json};

/// The names a webhook may subscribe to, in the order they are documented.
pub const EVENT_NAMES: [&str; 6] = [
    "tenant.ready",
    "run.failed",
    "tenant.expiring",
    "tenant.reaped",
    "tenant.hibernated",
    "tenant.woken",
];

/// Something that happened to a tenant, worth telling people about.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A create run finished and the tenant is ready.
    TenantReady {
        tenant: String,
        run_id: String,
        stack: String,
        environment: String,
    },
    /// A create or destroy run failed (or could not run).
    RunFailed {
        tenant: String,
        run_id: String,
        operation: String,
        error: String,
    },
    /// The tenant expires within `within` (one of the configured warning
    /// distances); sent once per tenant, expiry and distance.
    Expiring {
        tenant: String,
        expires_at: String,
        within: Duration,
    },
    /// The reaper destroyed the tenant because it had expired.
    Reaped {
        tenant: String,
        expires_at: Option<String>,
        run_id: Option<String>,
    },
    /// The tenant was hibernated. `at` is what makes this hibernation unique
    /// (its run id or RFC 3339 time): the same `at` is sent once.
    Hibernated {
        tenant: String,
        at: String,
        reason: String,
    },
    /// The tenant was woken; `at` as for `Hibernated`.
    Woken {
        tenant: String,
        at: String,
        reason: String,
    },
}

impl Event {
    /// The event's name, one of [`EVENT_NAMES`].
    pub fn name(&self) -> &'static str {
        match self {
            Event::TenantReady { .. } => "tenant.ready",
            Event::RunFailed { .. } => "run.failed",
            Event::Expiring { .. } => "tenant.expiring",
            Event::Reaped { .. } => "tenant.reaped",
            Event::Hibernated { .. } => "tenant.hibernated",
            Event::Woken { .. } => "tenant.woken",
        }
    }

    pub fn tenant(&self) -> &str {
        match self {
            Event::TenantReady { tenant, .. }
            | Event::RunFailed { tenant, .. }
            | Event::Expiring { tenant, .. }
            | Event::Reaped { tenant, .. }
            | Event::Hibernated { tenant, .. }
            | Event::Woken { tenant, .. } => tenant,
        }
    }

    /// The deduplication key: equal for the same happening, whichever
    /// replica or restart sees it (`run-failed:<run id>`,
    /// `expiry:<tenant>:<expires_at>:<distance>`, ...).
    pub fn key(&self) -> String {
        match self {
            Event::TenantReady { run_id, .. } => format!("ready:{run_id}"),
            Event::RunFailed { run_id, .. } => format!("run-failed:{run_id}"),
            Event::Expiring {
                tenant,
                expires_at,
                within,
            } => format!("expiry:{tenant}:{expires_at}:{}", distance(*within)),
            Event::Reaped {
                tenant,
                expires_at,
                run_id,
            } => format!(
                "reaped:{tenant}:{}",
                run_id.as_deref().or(expires_at.as_deref()).unwrap_or("-")
            ),
            Event::Hibernated { tenant, at, .. } => format!("hibernated:{tenant}:{at}"),
            Event::Woken { tenant, at, .. } => format!("woken:{tenant}:{at}"),
        }
    }

    /// The event's own fields, as the `detail` of the JSON body.
    pub fn detail(&self) -> Value {
        match self {
            Event::TenantReady {
                run_id,
                stack,
                environment,
                ..
            } => json!({ "run_id": run_id, "stack": stack, "environment": environment }),
            Event::RunFailed {
                run_id,
                operation,
                error,
                ..
            } => json!({ "run_id": run_id, "operation": operation, "error": error }),
            Event::Expiring {
                expires_at, within, ..
            } => json!({
                "expires_at": expires_at,
                "within": distance(*within),
                "within_seconds": within.as_secs(),
            }),
            Event::Reaped {
                expires_at, run_id, ..
            } => json!({ "expires_at": expires_at, "run_id": run_id }),
            Event::Hibernated { at, reason, .. } | Event::Woken { at, reason, .. } => {
                json!({ "at": at, "reason": reason })
            }
        }
    }

    /// One sentence for people (the Slack text, the JSON body's `summary`).
    pub fn summary(&self) -> String {
        let t = self.tenant();
        match self {
            Event::TenantReady {
                stack, environment, ..
            } => format!("Tenant {t} is ready (stack {stack}, environment {environment})."),
            Event::RunFailed {
                operation,
                run_id,
                error,
                ..
            } => format!("The {operation} of tenant {t} failed (run {run_id}): {error}"),
            Event::Expiring {
                expires_at, within, ..
            } => format!(
                "Tenant {t} expires within {} (at {expires_at}); extend it to keep it.",
                distance(*within)
            ),
            Event::Reaped { expires_at, .. } => format!(
                "Tenant {t} expired{} and was destroyed by the reaper.",
                expires_at
                    .as_deref()
                    .map(|e| format!(" at {e}"))
                    .unwrap_or_default()
            ),
            Event::Hibernated { reason, .. } => format!("Tenant {t} is hibernating ({reason})."),
            Event::Woken { reason, .. } => format!("Tenant {t} is awake ({reason})."),
        }
    }
}

/// A warning distance as configured and keyed: `7d`, `2h`, `90m`.
pub fn distance(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_per_happening_and_distinct_across_distances() {
        let warn = |secs| Event::Expiring {
            tenant: "acme".into(),
            expires_at: "2026-01-08T00:00:00Z".into(),
            within: Duration::from_secs(secs),
        };
        assert_eq!(warn(86_400).key(), "expiry:acme:2026-01-08T00:00:00Z:1d");
        assert_eq!(warn(7_200).key(), "expiry:acme:2026-01-08T00:00:00Z:2h");
        assert_ne!(warn(86_400).key(), warn(7 * 86_400).key());
        let failed = Event::RunFailed {
            tenant: "acme".into(),
            run_id: "r1".into(),
            operation: "create".into(),
            error: "boom".into(),
        };
        assert_eq!(failed.key(), "run-failed:r1");
        assert_eq!(failed.name(), "run.failed");
    }

    #[test]
    fn every_event_name_is_listed() {
        let events = [
            Event::TenantReady {
                tenant: "a".into(),
                run_id: "r".into(),
                stack: "s".into(),
                environment: "e".into(),
            },
            Event::Reaped {
                tenant: "a".into(),
                expires_at: None,
                run_id: None,
            },
            Event::Hibernated {
                tenant: "a".into(),
                at: "t".into(),
                reason: "schedule".into(),
            },
            Event::Woken {
                tenant: "a".into(),
                at: "t".into(),
                reason: "schedule".into(),
            },
        ];
        for e in events {
            assert!(EVENT_NAMES.contains(&e.name()), "{}", e.name());
        }
    }

    #[test]
    fn distances_read_as_configured() {
        assert_eq!(distance(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(distance(Duration::from_secs(7_200)), "2h");
        assert_eq!(distance(Duration::from_secs(5_400)), "90m");
        assert_eq!(distance(Duration::from_secs(45)), "45s");
    }
}
