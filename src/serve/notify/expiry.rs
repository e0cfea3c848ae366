//! The expiry watcher: every `check_every` it looks at the tenants and, for
//! each whose expiry is within a configured warning distance, emits
//! `tenant.expiring` for the tightest distance it has reached — once per
//! (tenant, expires_at, distance). Extending a tenant changes its
//! `expires_at`, so its warnings can come again.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::{Event, Notifier};
use crate::lifecycle::TenantStatus;
use crate::state::{StateStore, TenantRow};

/// The warning due when `remaining` is left before expiry: the smallest
/// distance that `remaining` is within (`warnings` in any order). None once
/// expired (the reaper's business) or while farther than every distance.
pub fn due_warning(remaining: jiff::SignedDuration, warnings: &[Duration]) -> Option<Duration> {
    if remaining <= jiff::SignedDuration::ZERO {
        return None;
    }
    let remaining = remaining.unsigned_abs();
    warnings.iter().copied().filter(|d| remaining <= *d).min()
}

/// Whether a tenant in this status can still expire (it is not being or
/// has not been destroyed).
fn can_expire(t: &TenantRow) -> bool {
    !matches!(t.status, TenantStatus::Destroyed | TenantStatus::Destroying)
}

/// The warnings due now, as events.
pub fn due_events(
    tenants: &[TenantRow],
    warnings: &[Duration],
    now: jiff::Timestamp,
) -> Vec<Event> {
    tenants
        .iter()
        .filter(|t| can_expire(t))
        .filter_map(|t| {
            let expires_at = t.expires_at.as_deref()?;
            let at: jiff::Timestamp = expires_at.parse().ok()?;
            let within = due_warning(at.duration_since(now), warnings)?;
            Some(Event::Expiring {
                tenant: t.name.clone(),
                expires_at: expires_at.to_string(),
                within,
            })
        })
        .collect()
}

/// Runs until the server stops. Keys already emitted by this process are
/// not handed over again (the state store deduplicates across processes).
pub async fn watch(notifier: Arc<Notifier>, state: StateStore) {
    let warnings = notifier.config().expiry_warnings.clone();
    let mut tick = tokio::time::interval(notifier.config().check_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent: HashSet<String> = HashSet::new();
    loop {
        tick.tick().await;
        let tenants = match state.tenants().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "expiry watcher could not read the tenants; trying again at the next check");
                continue;
            }
        };
        for event in due_events(&tenants, &warnings, jiff::Timestamp::now()) {
            if sent.insert(event.key()) {
                notifier.notify(event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    fn left(secs: i64) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(secs)
    }

    #[test]
    fn the_tightest_distance_reached_is_due() {
        let w = [
            Duration::from_secs(7 * 24 * H),
            Duration::from_secs(24 * H),
            Duration::from_secs(2 * H),
        ];
        assert_eq!(due_warning(left(8 * 24 * 3600), &w), None);
        assert_eq!(due_warning(left(6 * 24 * 3600), &w), Some(w[0]));
        assert_eq!(due_warning(left(23 * 3600), &w), Some(w[1]));
        assert_eq!(
            due_warning(left(24 * 3600), &w),
            Some(w[1]),
            "exactly at the distance counts"
        );
        assert_eq!(due_warning(left(60), &w), Some(w[2]));
        assert_eq!(
            due_warning(left(0), &w),
            None,
            "expired: the reaper's business"
        );
        assert_eq!(due_warning(left(-60), &w), None);
    }

    fn tenant(name: &str, status: &str, expires_at: Option<&str>) -> TenantRow {
        TenantRow {
            name: name.into(),
            environment: "dev".into(),
            stack_name: "s".into(),
            stack_path: "s.yaml".into(),
            status: status.parse().expect("a tenant status"),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            expires_at: expires_at.map(String::from),
            protected: false,
            owner: None,
            note: None,
            graph_json: String::new(),
        }
    }

    #[test]
    fn only_live_tenants_with_an_expiry_in_reach_are_warned() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let w = [Duration::from_secs(24 * H)];
        let tenants = [
            tenant("soon", "ready", Some("2026-01-01T12:00:00Z")),
            tenant("later", "ready", Some("2026-01-05T00:00:00Z")),
            tenant("never", "ready", None),
            tenant("gone", "destroyed", Some("2026-01-01T12:00:00Z")),
            tenant("going", "destroying", Some("2026-01-01T12:00:00Z")),
        ];
        let events = due_events(&tenants, &w, now);
        assert_eq!(
            events,
            [Event::Expiring {
                tenant: "soon".into(),
                expires_at: "2026-01-01T12:00:00Z".into(),
                within: w[0],
            }]
        );
    }

    #[test]
    fn an_extension_makes_a_new_key() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let w = [Duration::from_secs(24 * H)];
        let before = due_events(
            &[tenant("a", "ready", Some("2026-01-01T12:00:00Z"))],
            &w,
            now,
        );
        let after = due_events(
            &[tenant("a", "ready", Some("2026-01-01T20:00:00Z"))],
            &w,
            now,
        );
        assert_ne!(before[0].key(), after[0].key());
    }
}
