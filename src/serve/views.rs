//! What the API returns: tenants, runs and their progress, as JSON (and as
//! schemas for the OpenAPI document). Built from state rows and live runs;
//! no secret value is ever part of one.

use serde::Serialize;
use utoipa::ToSchema;

use crate::lifecycle::RunStatus;
use crate::state::{RunRow, TenantRow};

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub name: String,
    pub status: crate::lifecycle::TenantStatus,
    pub environment: String,
    pub stack: String,
    pub owner: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// RFC 3339; `null` when the tenant never expires.
    pub expires_at: Option<String>,
    pub protected: bool,
    /// The run going on now, if any.
    pub active_run: Option<RunView>,
    /// The estimated cost (see the price table); `null` when the tenant's
    /// stack is not one this server offers.
    pub cost: Option<crate::cost::CostView>,
    /// Where to reach the tenant: its published `PUBLIC_URL` and `API_URL`
    /// (absolute http(s) URLs only).
    pub urls: Vec<crate::cost::TenantUrl>,
}

impl TenantView {
    pub fn of(row: &TenantRow, active_run: Option<RunView>) -> Self {
        Self {
            name: row.name.clone(),
            status: row.status,
            environment: row.environment.clone(),
            stack: row.stack_name.clone(),
            owner: row.owner.clone(),
            note: row.note.clone(),
            created_at: row.created_at.clone(),
            updated_at: row.updated_at.clone(),
            expires_at: row.expires_at.clone(),
            protected: row.protected,
            active_run,
            cost: None,
            urls: Vec::new(),
        }
    }

    /// The view with its cost and URLs (from `crate::cost::CostBook`).
    pub fn with_cost(
        mut self,
        (cost, urls): (Option<crate::cost::CostView>, Vec<crate::cost::TenantUrl>),
    ) -> Self {
        self.cost = cost;
        self.urls = urls;
        self
    }
}

/// The latest scheduled drift check of a tenant, in short (the whole
/// report: `GET /api/tenants/{name}/drift`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DriftSummary {
    /// RFC 3339.
    pub checked_at: String,
    /// Something drifted or was deleted.
    pub drifted: bool,
    /// `Drift: 1 drifted, 0 deleted, 2 not checked; 5 in sync, 9 not compared.`
    pub summary: String,
    /// `id (kind): status`, one per node that is not in sync.
    pub nodes: Vec<String>,
}

impl DriftSummary {
    /// The summary of a stored check; `None` when it does not read.
    pub fn of(row: &crate::state::DriftRow) -> Option<Self> {
        let r: crate::release::drift::DriftReport = serde_json::from_str(&row.summary_json).ok()?;
        Some(Self {
            checked_at: row.checked_at.clone(),
            drifted: row.drifted,
            summary: r.summary(),
            nodes: r
                .nodes
                .iter()
                .map(|n| {
                    let status = serde_json::to_value(n.status).expect("a status serializes");
                    format!(
                        "{} ({}): {}",
                        n.id,
                        n.kind,
                        status.as_str().unwrap_or_default()
                    )
                })
                .collect(),
        })
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub tenant: String,
    pub operation: crate::lifecycle::Operation,
    /// `queued`, `running`, `succeeded`, `failed`, `cancelled`, `interrupted`.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Why the run could not run or failed, when it did.
    pub error: Option<String>,
    pub progress: ProgressView,
}

impl RunView {
    /// A run known only from the state (finished before this server started,
    /// or by another process).
    pub fn of_row(row: &RunRow) -> Self {
        let report: Option<crate::budget::Report> = row
            .report_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok());
        let status = match (&report, row.status) {
            (_, RunStatus::Running) => RunStatus::Running.to_string(),
            (Some(r), _) => outcome_of(r.verdict).to_string(),
            (None, other) => other.to_string(),
        };
        Self {
            id: row.id.clone(),
            tenant: row.tenant.clone(),
            operation: row.operation,
            status,
            started_at: row.started_at.clone(),
            finished_at: row.finished_at.clone(),
            error: None,
            progress: report
                .as_ref()
                .map(ProgressView::of_report)
                .unwrap_or_default(),
        }
    }

    pub fn is_finished(&self) -> bool {
        !matches!(self.status.as_str(), "queued" | "running")
    }
}

/// A verdict as a run outcome.
pub fn outcome_of(v: crate::budget::Verdict) -> &'static str {
    use crate::budget::Verdict;
    match v {
        Verdict::WithinBudget | Verdict::OverBudget => "succeeded",
        Verdict::Failed => "failed",
        Verdict::Cancelled => "cancelled",
    }
}

#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct ProgressView {
    pub done: usize,
    pub running: usize,
    pub failed: usize,
    pub total: usize,
    pub elapsed_ms: u64,
    /// Forecast of the time still needed (the remaining critical path).
    pub eta_ms: u64,
    pub budget_ms: u64,
    /// `on_track`, `at_risk` or `overrun`.
    pub budget_status: Option<String>,
    /// Set when the run has finished: `within_budget`, `over_budget`,
    /// `failed`, `cancelled`.
    pub verdict: Option<String>,
    pub nodes: Vec<NodeView>,
}

impl ProgressView {
    pub fn of_report(r: &crate::budget::Report) -> Self {
        let count = |s: &str| r.nodes.iter().filter(|n| n.status == s).count();
        Self {
            done: r
                .nodes
                .iter()
                .filter(|n| matches!(n.status.as_str(), "succeeded" | "skipped" | "deleted"))
                .count(),
            running: 0,
            failed: count("failed"),
            total: r.nodes.len(),
            elapsed_ms: r.total_ms,
            eta_ms: 0,
            budget_ms: r.budget_ms,
            budget_status: None,
            verdict: Some(verdict_str(r.verdict).into()),
            nodes: r
                .nodes
                .iter()
                .map(|n| NodeView {
                    id: n.id.clone(),
                    kind: n.kind.clone(),
                    state: n.status.clone(),
                    start_ms: n.start_ms,
                    end_ms: n.end_ms,
                })
                .collect(),
        }
    }
}

pub fn verdict_str(v: crate::budget::Verdict) -> &'static str {
    use crate::budget::Verdict;
    match v {
        Verdict::WithinBudget => "within_budget",
        Verdict::OverBudget => "over_budget",
        Verdict::Failed => "failed",
        Verdict::Cancelled => "cancelled",
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NodeView {
    pub id: String,
    pub kind: String,
    /// `running`, `waiting`, `succeeded`, `failed`, `skipped`, `deleted`, ...
    pub state: String,
    /// Milliseconds from the run's start.
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
}
