//! Rollouts: one stack (and its catalog) applied to many tenants in waves —
//! canary tenants first, then batches — each tenant gated on health and
//! rolled back to its previous revision when its apply or gate fails; the
//! rollout stops once failures pass its limit. Everything a rollout decides
//! is written to the state store before it acts (`rollouts`,
//! `rollout_tenants`: the intent log), so a driver that dies is continued
//! by [`run`] on the same id.
//!
//! - [`change`]: a rollout of a catalog or one service's tag into each
//!   tenant's own stack (instead of one stack for all);
//! - [`plan`]: the selector, the batch size and the waves (pure);
//! - [`safety`]: the refusal of a change that would replace a data-bearing
//!   resource (pure);
//! - [`gate`]: the health gate (Deployments complete, then available for
//!   the soak);
//! - [`http_check`]: the gate's optional request to each tenant's URL;
//! - [`run`]: the driver, callable from the CLI or the server, telling its
//!   progress as [`RolloutEvent`]s.

pub mod change;
pub mod gate;
pub mod http_check;
pub mod plan;
pub mod run;
pub mod safety;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::lifecycle::{RolloutStatus, RolloutTenantStatus};
use crate::state::{RolloutRow, RolloutTenantRow, StateError};

pub use plan::Batch;
pub use run::{BackendsFactory, Driver, run};

/// The soak when none is given: how long a tenant's Deployments must stay
/// fully available after its rollout completed. Long enough to catch a pod
/// that crashes right after it became ready (a readiness probe passing
/// once, then a crash loop: kubelet's back-off restarts within 10 s), short
/// enough that a rollout of tens of tenants in batches stays in minutes.
pub const DEFAULT_SOAK: Duration = Duration::from_secs(10);

/// What a rollout applies and how; kept as JSON in `rollouts.spec_json`.
/// No secret is in it (the stack file is named, not copied).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The stack file, absolute (a resume may run from another directory):
    /// the same content for every tenant. Absent for a rollout of a
    /// [`change`] into each tenant's own stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<PathBuf>,
    /// `--catalog DIR` and/or `--service NAME --tag T`: each tenant's
    /// content derived from its latest revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<change::TenantChange>,
    /// `--environment`; otherwise each tenant keeps the environment of its
    /// latest revision.
    pub environment: Option<String>,
    /// The selector as given (`--tenants`), or `--all`.
    pub selector: String,
    pub canary: usize,
    pub batch: Batch,
    /// Failures tolerated: the rollout stops when there are more.
    pub max_failures: usize,
    /// At most this many tenants being changed at once (`--max-unavailable`,
    /// like a Deployment's `maxUnavailable` with tenants for pods); `None`:
    /// a whole wave at once. Absent in rollouts recorded before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<usize>,
    pub soak_ms: u64,
    /// `--http-check URL`: after the soak, the tenant's URL must answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_check: Option<http_check::HttpCheck>,
    /// Node ids whose replacement (of a data-bearing resource) is allowed.
    pub allow_replace: Vec<String>,
    /// The installation domain (`${envctl.domain}`) the stack was loaded
    /// with, so that a resume loads it alike.
    pub domain: Option<String>,
    /// The content rolled out (a `release::Snapshot` as JSON, for the
    /// stack's own environment): a resume refuses a stack file changed
    /// since. Empty for a [`change`] rollout, which holds its content.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content_json: String,
}

impl Spec {
    pub fn soak(&self) -> Duration {
        Duration::from_millis(self.soak_ms)
    }

    /// What is rolled out, in words: the stack file, or the change.
    pub fn what(&self) -> String {
        match (&self.stack, &self.change) {
            (Some(stack), _) => stack.display().to_string(),
            (None, Some(change)) => change.describe(),
            (None, None) => "nothing".into(),
        }
    }

    pub fn builtins(&self) -> crate::stack::Builtins {
        crate::stack::Builtins {
            domain: self.domain.clone(),
        }
    }
}

/// Progress of a rollout, as it happens (for the CLI's lines, the
/// server's SSE). Every one is also in the state store.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RolloutEvent {
    /// The driver took the rollout (first run, or a resume).
    Started {
        rollout: String,
        tenants: usize,
        waves: usize,
    },
    WaveStarted {
        rollout: String,
        wave: i64,
        tenants: Vec<String>,
    },
    /// A tenant moved in the intent log.
    Tenant {
        rollout: String,
        tenant: String,
        wave: i64,
        status: RolloutTenantStatus,
        from_revision: Option<i64>,
        to_revision: Option<i64>,
        message: Option<String>,
    },
    /// The driver stopped: the rollout ended (succeeded, failed, stopped),
    /// or was paused or aborted.
    Finished {
        rollout: String,
        status: RolloutStatus,
        message: Option<String>,
    },
}

/// A rollout and its tenants as the store has them: the report.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub rollout: RolloutRow,
    pub spec: Spec,
    pub tenants: Vec<RolloutTenantRow>,
}

impl Summary {
    pub async fn load(
        state: &crate::state::StateStore,
        id: &str,
    ) -> Result<Option<Summary>, RolloutError> {
        let Some(rollout) = state.rollout(id).await? else {
            return Ok(None);
        };
        let spec = spec_of(&rollout)?;
        let tenants = state.rollout_tenants(id).await?;
        Ok(Some(Summary {
            rollout,
            spec,
            tenants,
        }))
    }

    /// How many tenants are in `status`.
    pub fn count(&self, status: RolloutTenantStatus) -> usize {
        self.tenants.iter().filter(|t| t.status == status).count()
    }
}

/// The spec of a stored rollout.
pub fn spec_of(row: &RolloutRow) -> Result<Spec, RolloutError> {
    serde_json::from_str(&row.spec_json).map_err(|e| {
        RolloutError::State(StateError::Corrupt {
            table: "rollouts",
            detail: format!("rollout {}: spec_json: {e}", row.id),
        })
    })
}

/// The tenants a rollout may take: those with a recorded revision that are
/// not destroyed (or being destroyed).
pub async fn rollable(state: &crate::state::StateStore) -> Result<Vec<String>, StateError> {
    use crate::lifecycle::TenantStatus;
    let statuses: std::collections::BTreeMap<String, TenantStatus> = state
        .tenants()
        .await?
        .into_iter()
        .map(|t| (t.name, t.status))
        .collect();
    Ok(state
        .revised_tenants()
        .await?
        .into_iter()
        .filter(|t| {
            !matches!(
                statuses.get(t),
                None | Some(TenantStatus::Destroyed | TenantStatus::Destroying)
            )
        })
        .collect())
}

/// Records a new rollout of `spec` over `tenants` (in order, already
/// selected), planned in waves, as `running` with every tenant `pending`;
/// returns its id. [`run`] then drives it.
pub async fn record(
    state: &crate::state::StateStore,
    spec: &Spec,
    tenants: &[String],
    created_by: Option<&str>,
) -> Result<String, RolloutError> {
    let id = format!("ro-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let planned = plan::waves(tenants, spec.canary, spec.batch);
    let spec_json = serde_json::to_string(spec).expect("a rollout spec serializes");
    state
        .insert_rollout(&crate::state::NewRollout {
            id: &id,
            created_by,
            spec_json: &spec_json,
            tenants: &planned,
        })
        .await?;
    Ok(id)
}

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("no rollout '{0}' in the state store; see `envctl get rollouts`")]
    NotFound(String),
    /// The rollout cannot go on as it is; the sentence says why and what to
    /// do. Nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// Another process drives this rollout, or holds one of its tenants.
    #[error("{0}")]
    Busy(String),
    /// Stopped by the operator (Ctrl-C) mid-way; resume continues it.
    #[error(
        "rollout {0} was interrupted; its tenants are where the state store says: continue it with `envctl rollout resume {0}`"
    )]
    Interrupted(String),
    /// The AWS or Kubernetes clients could not be made; the tenant under
    /// way stays where it is for a resume.
    #[error("rollout: cannot reach the backends: {0}")]
    Backends(String),
    #[error("rollout: {0}")]
    Engine(#[from] crate::engine::EngineError),
}
