//! The reaper: destroys expired tenants that are not protected, only through
//! resources tagged `envctl:managed=true`, refusing any tenant whose state and
//! tags disagree about ownership; and finds orphans (managed resources of
//! tenants the state does not know).
//!
//! One pass: read what carries envctl's tags (tagging API, namespaces), then
//! the state; for each expired tenant decide (see [`ownership`]) and destroy
//! through [`Engine::destroy`] (whose sweeps take only managed resources);
//! then report the orphans, and destroy them when asked. A dry run reads only.

pub(crate) mod discover;
pub mod ownership;
mod stamp;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Serialize;

use crate::budget::Verdict;
use crate::engine::spec::StoredGraph;
use crate::engine::{DestroyRequest, Engine, EngineError};
use crate::journal::{self, NodeRecord, NodeState};
use crate::kinds::KindError;
use crate::lifecycle::TenantStatus;
use crate::state::{StateError, TenantRow};
use crate::tenant::TenantName;

pub use ownership::Lookalike;
pub use stamp::stamp_expiry;

use ownership::{Expected, NamespaceInfo, OrphanGroup};

#[derive(Clone, Debug, Default)]
pub struct ReapOptions {
    /// List only; change nothing.
    pub dry_run: bool,
    /// Also destroy orphans (otherwise they are only reported).
    pub orphans: bool,
}

/// What the reaper did (or, in a dry run, would do) with one tenant or orphan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Destroyed,
    WouldDestroy,
    /// State and tags disagree (or the orphan cannot be attributed): nothing
    /// was touched; `reasons` says what to check.
    Refused,
    /// The destroy ran and did not complete; `reasons` has its errors.
    Failed,
    /// Another run holds the tenant's lock; the next pass tries again.
    Busy,
    ProtectedSkipped,
    /// Changed while the pass ran (extended, protected, destroyed or created
    /// by someone else): left for the next pass.
    Skipped,
    /// An orphan that was only reported (no `orphans` option).
    Reported,
}

/// One expired tenant of the state.
#[derive(Clone, Debug, Serialize)]
pub struct TenantOutcome {
    pub tenant: String,
    pub environment: String,
    pub stack: String,
    pub expires_at: Option<String>,
    pub action: Action,
    pub reasons: Vec<String>,
    /// The destroy run, when one ran.
    pub run_id: Option<String>,
}

/// Managed resources of one tenant the state does not know (or knows as destroyed).
#[derive(Clone, Debug, Serialize)]
pub struct OrphanOutcome {
    /// Their `envctl:tenant` tag.
    pub tenant: String,
    pub environments: Vec<String>,
    /// ARNs and `namespace/NAME`s.
    pub resources: Vec<String>,
    pub action: Action,
    pub reasons: Vec<String>,
    pub run_id: Option<String>,
}

/// The result of one pass. The counts are of tenants (an orphan is one
/// tenant's worth of resources); the lists say which and why.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReapReport {
    /// When the pass looked (RFC 3339): expiry is judged against this instant.
    pub at: String,
    pub dry_run: bool,
    /// Whether orphans were to be destroyed (`--orphans`), not only reported.
    pub destroy_orphans: bool,
    /// Expired tenants destroyed.
    pub destroyed: usize,
    /// Expired tenants, and orphans with `destroy_orphans`, a real pass
    /// would destroy (dry run only).
    pub would_destroy: usize,
    /// Tenants and orphans refused: state and tags disagree; nothing touched.
    pub refused: usize,
    /// Tenants and orphans whose destroy did not complete.
    pub failed: usize,
    /// Tenants another run was busy with.
    pub busy: usize,
    pub protected_skipped: usize,
    pub orphans_found: usize,
    pub orphans_destroyed: usize,
    /// Every expired tenant of the state and what happened to it.
    pub tenants: Vec<TenantOutcome>,
    pub orphans: Vec<OrphanOutcome>,
    /// Resources named like a tenant's but not managed: never touched.
    pub lookalikes: Vec<Lookalike>,
    pub warnings: Vec<String>,
}

impl ReapReport {
    /// Nothing was refused and no destroy failed.
    pub fn ok(&self) -> bool {
        self.refused == 0 && self.failed == 0
    }

    fn count(&mut self, action: Action, orphan: bool) {
        match action {
            Action::Destroyed if orphan => self.orphans_destroyed += 1,
            Action::Destroyed => self.destroyed += 1,
            Action::WouldDestroy => self.would_destroy += 1,
            Action::Refused => self.refused += 1,
            Action::Failed => self.failed += 1,
            Action::Busy => self.busy += 1,
            Action::ProtectedSkipped => self.protected_skipped += 1,
            Action::Skipped | Action::Reported => {}
        }
    }

    fn push_tenant(&mut self, t: TenantOutcome) {
        self.count(t.action, false);
        self.tenants.push(t);
    }

    fn push_orphan(&mut self, o: OrphanOutcome) {
        self.orphans_found += 1;
        self.count(o.action, true);
        self.orphans.push(o);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReapError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("finding tagged resources: {0}")]
    Discovery(KindError),
    #[error("Kubernetes: {0}")]
    Kubernetes(String),
    #[error(
        "the new expiry was stamped on {stamped} resources but not on: {}; the state holds the new expiry (the reaper goes by it)",
        failed.join("; ")
    )]
    Restamp { stamped: usize, failed: Vec<String> },
}

/// One pass of the reaper at the current time.
pub async fn reap(engine: &Engine, opts: &ReapOptions) -> Result<ReapReport, ReapError> {
    let now = Timestamp::now();
    let aws = &engine.backends.aws;
    // The cloud and the cluster first, the state second: create writes a
    // tenant's row before its first resource, so a resource seen here whose
    // tenant is missing from the state read after it is not just new.
    let managed = discover::managed(aws).await?;
    let namespaces = discover::namespaces(&engine.backends.kube).await?;
    let rows = engine.state.tenants().await?;

    let mut report = ReapReport {
        at: now.to_string(),
        dry_run: opts.dry_run,
        destroy_orphans: opts.orphans,
        ..Default::default()
    };
    if namespaces.is_none() {
        report.warnings.push(
            "no Kubernetes cluster is configured (no kubeconfig, not in a pod): namespaces were not checked".into(),
        );
    }

    for row in rows.iter().filter(|r| r.status != TenantStatus::Destroyed) {
        let expires_at = match parse_expiry(row) {
            Ok(at) => at,
            Err(reason) => {
                report.push_tenant(outcome(row, Action::Refused, vec![reason]));
                continue;
            }
        };
        if !crate::ttl::is_expired(expires_at, now) {
            continue;
        }
        if row.protected {
            report.push_tenant(outcome(
                row,
                Action::ProtectedSkipped,
                vec![format!(
                    "protected; `envctl unprotect tenant {}` lets the reaper destroy it",
                    row.name
                )],
            ));
            continue;
        }
        if engine.cancel.is_cancelled() {
            report
                .warnings
                .push(format!("cancelled before tenant {}", row.name));
            break;
        }
        let (t, lookalikes) = reap_tenant(engine, opts, row, namespaces.as_deref(), now).await?;
        report.lookalikes.extend(lookalikes);
        report.push_tenant(t);
    }

    let live: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.status != TenantStatus::Destroyed)
        .map(|r| r.name.clone())
        .collect();
    let orphans = ownership::find_orphans(&managed, namespaces.as_deref().unwrap_or(&[]), &live);
    for g in orphans {
        let o = handle_orphan(engine, opts, g).await?;
        report.push_orphan(o);
    }
    Ok(report)
}

fn parse_expiry(row: &TenantRow) -> Result<Option<Timestamp>, String> {
    row.expires_at
        .as_deref()
        .map(|s| {
            s.parse::<Timestamp>().map_err(|e| {
                format!(
                    "its expiry '{s}' in the state is not a timestamp ({e}); set a new one with `envctl extend tenant {} --by 1d`",
                    row.name
                )
            })
        })
        .transpose()
}

fn outcome(row: &TenantRow, action: Action, reasons: Vec<String>) -> TenantOutcome {
    TenantOutcome {
        tenant: row.name.clone(),
        environment: row.environment.clone(),
        stack: row.stack_name.clone(),
        expires_at: row.expires_at.clone(),
        action,
        reasons,
        run_id: None,
    }
}

/// What the state says one tenant owns.
fn expected_of(
    row: &TenantRow,
    records: &BTreeMap<String, NodeRecord>,
    stored: &StoredGraph,
) -> Expected {
    let live = records
        .iter()
        .filter(|(_, r)| !matches!(r.state, NodeState::Pending | NodeState::Deleted));
    let logged_arns = live
        .clone()
        .flat_map(|(id, r)| {
            r.outputs
                .iter()
                .filter(|(k, v)| (*k == "arn" || k.ends_with("_arn")) && v.starts_with("arn:"))
                .map(move |(_, v)| (v.clone(), id.clone()))
        })
        .collect();
    let namespaces = live
        .filter(|(_, r)| r.kind == "k8s.namespace")
        .filter_map(|(_, r)| r.outputs.get("name").cloned())
        .collect();
    let uses_kubernetes = records
        .values()
        .map(|r| r.kind.as_str())
        .chain(stored.nodes.iter().map(|(_, k)| k.as_str()))
        .any(|k| k.starts_with("k8s."));
    Expected {
        tenant: row.name.clone(),
        environment: row.environment.clone(),
        stack: row.stack_name.clone(),
        namespaces,
        uses_kubernetes,
        logged_arns,
    }
}

/// Checks one expired tenant and destroys it when state and tags agree.
async fn reap_tenant(
    engine: &Engine,
    opts: &ReapOptions,
    row: &TenantRow,
    namespaces: Option<&[NamespaceInfo]>,
    now: Timestamp,
) -> Result<(TenantOutcome, Vec<Lookalike>), ReapError> {
    let records = match journal::replay(&engine.state.events(&row.name).await?) {
        Ok(r) => r,
        Err(e) => {
            let reason = format!(
                "its log in the state cannot be replayed ({e}); inspect it with `envctl describe tenant {}`",
                row.name
            );
            return Ok((outcome(row, Action::Refused, vec![reason]), Vec::new()));
        }
    };
    // The list of tenants leaves out the stored graph; read it for this one.
    let graph_json = engine
        .state
        .tenant(&row.name)
        .await?
        .map(|t| t.graph_json)
        .unwrap_or_default();
    let expected = expected_of(row, &records, &StoredGraph::from_json(&graph_json));
    let aws = &engine.backends.aws;
    let tagged = discover::tagged_with_tenant(aws, &row.name).await?;
    let seen: BTreeSet<&str> = tagged.iter().map(|r| r.arn.as_str()).collect();
    let unseen: Vec<String> = expected
        .logged_arns
        .keys()
        .filter(|a| !seen.contains(a.as_str()))
        .cloned()
        .collect();
    let logged = discover::by_arn(aws, &unseen).await?;
    let verdict = ownership::assess(&expected, &tagged, &logged, namespaces);
    let lookalikes = verdict.lookalikes;
    if !verdict.conflicts.is_empty() {
        return Ok((outcome(row, Action::Refused, verdict.conflicts), lookalikes));
    }
    if opts.dry_run {
        return Ok((outcome(row, Action::WouldDestroy, Vec::new()), lookalikes));
    }
    // Someone may have extended, protected or destroyed it meanwhile.
    let fresh = engine.state.tenant(&row.name).await?;
    let changed = match &fresh {
        None => Some("it left the state during the pass".to_string()),
        Some(t) if t.protected => {
            return Ok((
                outcome(
                    row,
                    Action::ProtectedSkipped,
                    vec!["protected during the pass".into()],
                ),
                lookalikes,
            ));
        }
        Some(t) if t.status == TenantStatus::Destroyed => Some("destroyed during the pass".into()),
        Some(t) => match parse_expiry(t) {
            Ok(at) if crate::ttl::is_expired(at, now) => None,
            Ok(_) => Some("extended during the pass".into()),
            Err(reason) => Some(reason),
        },
    };
    if let Some(reason) = changed {
        return Ok((outcome(row, Action::Skipped, vec![reason]), lookalikes));
    }
    let tenant = match TenantName::parse(&row.name) {
        Ok(t) => t,
        Err(e) => {
            return Ok((
                outcome(row, Action::Refused, vec![e.to_string()]),
                lookalikes,
            ));
        }
    };
    let (action, reasons, run_id) = destroy(
        engine,
        DestroyRequest {
            tenant,
            environment: Some(row.environment.clone()),
            run_id: None,
        },
    )
    .await;
    let mut t = outcome(row, action, reasons);
    t.run_id = run_id;
    Ok((t, lookalikes))
}

/// Runs a destroy and sums it up.
async fn destroy(engine: &Engine, req: DestroyRequest) -> (Action, Vec<String>, Option<String>) {
    match engine.destroy(&req).await {
        Ok(report) => {
            let run = Some(report.run_id.clone());
            match report.verdict {
                Verdict::WithinBudget | Verdict::OverBudget => (Action::Destroyed, Vec::new(), run),
                Verdict::Cancelled => (
                    Action::Failed,
                    vec!["the destroy was cancelled; the next pass resumes it".into()],
                    run,
                ),
                Verdict::Failed => (
                    Action::Failed,
                    report
                        .errors
                        .iter()
                        .map(|(node, e)| format!("{node}: {e}"))
                        .collect(),
                    run,
                ),
            }
        }
        Err(EngineError::Lock(held)) => (Action::Busy, vec![held.to_string()], None),
        Err(e) => (Action::Failed, vec![e.to_string()], None),
    }
}

/// Reports one orphan; destroys it with `orphans` unless it cannot be attributed.
async fn handle_orphan(
    engine: &Engine,
    opts: &ReapOptions,
    g: OrphanGroup,
) -> Result<OrphanOutcome, ReapError> {
    let mut o = OrphanOutcome {
        tenant: g.tenant.clone(),
        environments: g.environments.iter().cloned().collect(),
        resources: g.resources.clone(),
        action: Action::Reported,
        reasons: Vec::new(),
        run_id: None,
    };
    if !opts.orphans {
        return Ok(o);
    }
    let blockers = g.blockers();
    if !blockers.is_empty() {
        o.action = Action::Refused;
        o.reasons = blockers;
        return Ok(o);
    }
    if opts.dry_run {
        o.action = Action::WouldDestroy;
        return Ok(o);
    }
    // Created meanwhile (by another envctl sharing the state)? Then it is
    // no orphan.
    if let Some(t) = engine.state.tenant(&g.tenant).await?
        && t.status != TenantStatus::Destroyed
    {
        o.action = Action::Skipped;
        o.reasons = vec![format!(
            "tenant {} appeared in the state during the pass",
            g.tenant
        )];
        return Ok(o);
    }
    let Ok(tenant) = TenantName::parse(&g.tenant) else {
        o.action = Action::Refused;
        o.reasons = vec![format!("'{}' is not a tenant name", g.tenant)];
        return Ok(o);
    };
    let (action, reasons, run_id) = destroy(
        engine,
        DestroyRequest {
            tenant,
            environment: g.environment(),
            run_id: None,
        },
    )
    .await;
    o.action = action;
    o.reasons = reasons;
    o.run_id = run_id;
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> TenantRow {
        TenantRow {
            name: "acme".into(),
            environment: "dev".into(),
            stack_name: "basic".into(),
            stack_path: "stacks/basic.yaml".into(),
            status: "ready".into(),
            created_at: String::new(),
            updated_at: String::new(),
            expires_at: None,
            protected: false,
            owner: None,
            note: None,
            graph_json: String::new(),
        }
    }

    #[test]
    fn the_log_gives_the_arns_and_namespaces_destroy_would_delete() {
        let records = BTreeMap::from([
            (
                "queue".to_string(),
                NodeRecord::example(
                    "aws.sqs.queue",
                    NodeState::Succeeded,
                    &[
                        ("arn", "arn:aws:sqs:us-east-1:1:q"),
                        ("dlq_arn", "arn:aws:sqs:us-east-1:1:q-dlq"),
                        ("url", "http://q"),
                    ],
                ),
            ),
            (
                "gone".to_string(),
                NodeRecord::example(
                    "aws.s3.bucket",
                    NodeState::Deleted,
                    &[("arn", "arn:aws:s3:::b")],
                ),
            ),
            (
                "ns".to_string(),
                NodeRecord::example("k8s.namespace", NodeState::Succeeded, &[("name", "acme")]),
            ),
        ]);
        let e = expected_of(&row(), &records, &StoredGraph::default());
        assert_eq!(
            e.logged_arns.keys().collect::<Vec<_>>(),
            ["arn:aws:sqs:us-east-1:1:q", "arn:aws:sqs:us-east-1:1:q-dlq"]
        );
        assert_eq!(e.logged_arns["arn:aws:sqs:us-east-1:1:q"], "queue");
        assert_eq!(e.namespaces, BTreeSet::from(["acme".to_string()]));
        assert!(e.uses_kubernetes);

        let stored = StoredGraph {
            nodes: vec![("svc".into(), "k8s.service".into())],
            edges: Vec::new(),
        };
        assert!(expected_of(&row(), &BTreeMap::new(), &stored).uses_kubernetes);
        assert!(!expected_of(&row(), &BTreeMap::new(), &StoredGraph::default()).uses_kubernetes);
    }

    #[test]
    fn counts_follow_the_actions() {
        let mut r = ReapReport::default();
        for a in [
            Action::Destroyed,
            Action::Refused,
            Action::ProtectedSkipped,
            Action::Skipped,
        ] {
            r.push_tenant(outcome(&row(), a, Vec::new()));
        }
        r.push_orphan(OrphanOutcome {
            tenant: "gone".into(),
            environments: Vec::new(),
            resources: Vec::new(),
            action: Action::Destroyed,
            reasons: Vec::new(),
            run_id: None,
        });
        assert_eq!(
            (
                r.destroyed,
                r.refused,
                r.protected_skipped,
                r.orphans_found,
                r.orphans_destroyed
            ),
            (1, 1, 1, 1, 1)
        );
        assert!(!r.ok());
    }

    #[test]
    fn a_corrupt_expiry_is_reported_not_guessed() {
        let mut t = row();
        t.expires_at = Some("soon".into());
        assert!(
            parse_expiry(&t)
                .unwrap_err()
                .contains("envctl extend tenant acme")
        );
        t.expires_at = Some("2026-01-01T00:00:00Z".into());
        assert!(parse_expiry(&t).unwrap().is_some());
    }
}
