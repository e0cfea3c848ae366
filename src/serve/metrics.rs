//! `/metrics` in the Prometheus text format: runs by outcome, run durations,
//! budget overruns, runs in flight, tenants alive and drifted, the reaper's
//! actions, webhook deliveries, rollouts' tenants by outcome, and warm
//! pools' members by status and claims by outcome.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolStatusLabels {
    pool: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolClaimLabels {
    pool: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    event: String,
    outcome: String,
}

/// Seconds: from a quick tenant to past the 15-minute budget.
const DURATION_BUCKETS: [f64; 11] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    runs: Family<RunLabels, Counter>,
    durations: Family<OperationLabels, Histogram, fn() -> Histogram>,
    overruns: Family<OperationLabels, Counter>,
    active: Gauge,
    tenants_alive: Gauge,
    tenants_drifted: Gauge,
    reaper: Family<ActionLabels, Counter>,
    notifications: Family<NotificationLabels, Counter>,
    rollout_tenants: Family<OutcomeLabels, Counter>,
    pool_members: Family<PoolStatusLabels, Gauge>,
    pool_claims: Family<PoolClaimLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("envctl");
        let runs = Family::<RunLabels, Counter>::default();
        registry.register(
            "runs",
            "Finished runs by operation and outcome (succeeded, failed, cancelled)",
            runs.clone(),
        );
        let durations =
            Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        registry.register(
            "run_duration_seconds",
            "Wall time of finished runs",
            durations.clone(),
        );
        let overruns = Family::<OperationLabels, Counter>::default();
        registry.register(
            "budget_overruns",
            "Runs that finished after their time budget",
            overruns.clone(),
        );
        let active = Gauge::default();
        registry.register("runs_active", "Runs queued or running now", active.clone());
        let tenants_alive = Gauge::default();
        registry.register(
            "tenants_alive",
            "Tenants in the state that are not destroyed",
            tenants_alive.clone(),
        );
        let tenants_drifted = Gauge::default();
        registry.register(
            "tenants_drifted",
            "Tenants not destroyed whose latest scheduled drift check found drift (drift_check)",
            tenants_drifted.clone(),
        );
        let reaper = Family::<ActionLabels, Counter>::default();
        registry.register(
            "reaper_actions",
            "Reaper outcomes by action, counted in tenants (destroyed, would_destroy, refused, failed, busy, protected_skipped, orphans_found, orphans_destroyed)",
            reaper.clone(),
        );
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "notifications",
            "Webhook deliveries by event and outcome (delivered, failed, duplicate: already sent by this or another server, not_sent: the state store could not record it)",
            notifications.clone(),
        );
        let rollout_tenants = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "rollout_tenants",
            "Tenants of rollouts driven by this server that reached a final status, by that status (succeeded, unchanged, skipped, failed, rolled_back, rollback_failed)",
            rollout_tenants.clone(),
        );
        let pool_members = Family::<PoolStatusLabels, Gauge>::default();
        registry.register(
            "pool_members",
            "Warm-pool members by pool (<stack>/<resource>) and status (creating, available, claimed, deleting)",
            pool_members.clone(),
        );
        let pool_claims = Family::<PoolClaimLabels, Counter>::default();
        registry.register(
            "pool_claims",
            "Pooled nodes of creates run by this server, by pool and outcome (hit: a member was claimed, miss: created as usual)",
            pool_claims.clone(),
        );
        Self {
            pool_members,
            pool_claims,
            rollout_tenants,
            notifications,
            registry,
            runs,
            durations,
            overruns,
            active,
            tenants_alive,
            tenants_drifted,
            reaper,
        }
    }

    pub fn run_started(&self) {
        self.active.inc();
    }

    pub fn run_finished(&self, operation: &str, outcome: &str, seconds: f64, over_budget: bool) {
        self.active.dec();
        self.runs
            .get_or_create(&RunLabels {
                operation: operation.into(),
                outcome: outcome.into(),
            })
            .inc();
        let op = OperationLabels {
            operation: operation.into(),
        };
        self.durations.get_or_create(&op).observe(seconds);
        if over_budget {
            self.overruns.get_or_create(&op).inc();
        }
    }

    pub fn reaper_action(&self, action: &str, n: u64) {
        if n > 0 {
            self.reaper
                .get_or_create(&ActionLabels {
                    action: action.into(),
                })
                .inc_by(n);
        }
    }

    /// One webhook delivery of `event` that ended as `outcome`.
    pub fn notification(&self, event: &str, outcome: &str) {
        self.notifications
            .get_or_create(&NotificationLabels {
                event: event.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// One tenant of a rollout that ended as `outcome`.
    pub fn rollout_tenant(&self, outcome: &str) {
        self.rollout_tenants
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The pools' levels as of now (every status of every pool listed, 0
    /// included) and this process's claims (`crate::pool::claim::counts`).
    pub fn set_pools(
        &self,
        members: &[(String, &'static str, i64)],
        claims: &[((String, &'static str), u64)],
    ) {
        for (pool, status, n) in members {
            self.pool_members
                .get_or_create(&PoolStatusLabels {
                    pool: pool.clone(),
                    status: status.to_string(),
                })
                .set(*n);
        }
        for ((pool, outcome), n) in claims {
            let c = self.pool_claims.get_or_create(&PoolClaimLabels {
                pool: pool.clone(),
                outcome: outcome.to_string(),
            });
            c.inc_by(n.saturating_sub(c.get()));
        }
    }

    /// The text exposition, with `tenants_alive` and `tenants_drifted` as
    /// of now.
    pub fn render(&self, tenants_alive: i64, tenants_drifted: i64) -> String {
        self.tenants_alive.set(tenants_alive);
        self.tenants_drifted.set(tenants_drifted);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_up_in_the_exposition() {
        let m = Metrics::new();
        m.run_started();
        m.run_finished("create", "succeeded", 12.0, true);
        m.reaper_action("destroyed", 2);
        m.reaper_action("refused", 0);
        m.notification("tenant.ready", "delivered");
        m.rollout_tenant("rolled_back");
        m.set_pools(
            &[("tenant/db".into(), "available", 2)],
            &[(("tenant/db".into(), "hit"), 3)],
        );
        m.set_pools(&[], &[(("tenant/db".into(), "hit"), 4)]);
        let text = m.render(3, 1);
        for want in [
            r#"envctl_runs_total{operation="create",outcome="succeeded"} 1"#,
            r#"envctl_budget_overruns_total{operation="create"} 1"#,
            r#"envctl_run_duration_seconds_bucket{le="15.0",operation="create"} 1"#,
            "envctl_tenants_alive 3",
            "envctl_tenants_drifted 1",
            "envctl_runs_active 0",
            r#"envctl_reaper_actions_total{action="destroyed"} 2"#,
            r#"envctl_notifications_total{event="tenant.ready",outcome="delivered"} 1"#,
            r#"envctl_rollout_tenants_total{outcome="rolled_back"} 1"#,
            r#"envctl_pool_members{pool="tenant/db",status="available"} 2"#,
            r#"envctl_pool_claims_total{pool="tenant/db",outcome="hit"} 4"#,
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
        assert!(!text.contains(r#"action="refused""#), "{text}");
    }
}
