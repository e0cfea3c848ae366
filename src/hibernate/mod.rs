//! Hibernate and wake a tenant: scale its Deployments to zero (removing and
//! remembering their HPAs), stop its RDS instances and set its Auto Scaling
//! groups to zero — remembering every size in the state — and put it all
//! back, waiting until the Deployments are ready and the databases
//! `available`. Each is a run of its own (recorded like a create or
//! destroy, under the tenant's lock) and is safe to repeat.
//!
//! `plan` decides what to touch (pure), `kube` and `aws` talk to the
//! backends, `schedule` says when a sleep or wake falls due.

pub mod aws;
pub mod kube;
pub mod plan;
pub mod schedule;

pub use plan::{Decision, HIBERNATED, HIBERNATING, Remembered, Targets, WAKING};
pub use schedule::{Due, Schedule, ScheduleError, ScheduleSpec};

use std::time::{Duration, Instant};

use crate::budget::{Report, Verdict};
use crate::engine::Engine;
use crate::journal::IllegalTransition;
use crate::lifecycle::{Operation, RunStatus};
use crate::state::{LockHeld, StateError, StateStore, TenantRow};
use crate::tenant::TenantName;

/// How long wake waits for the Deployments by default.
pub const DEFAULT_READY_WITHIN: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum HibernateError {
    #[error("there is no tenant '{0}' in the state; `envctl get tenants` lists them")]
    NoTenant(String),
    /// The tenant's status does not allow it; the sentence says what to do.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Lock(#[from] LockHeld),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the tenant's journal cannot be read: {0}")]
    Journal(#[from] IllegalTransition),
}

/// What a hibernate or wake did.
#[derive(Debug)]
pub struct Outcome {
    /// The run's report (`operation` is `hibernate` or `wake`); its errors
    /// say which step failed. `None` when there was nothing to do.
    pub report: Option<Report>,
    /// Why nothing was done, when nothing was.
    pub nothing_to_do: Option<String>,
    /// The tenant's status afterwards.
    pub status: crate::lifecycle::TenantStatus,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| r.verdict == Verdict::Failed)
    }
}

/// The tenant's row, or the error naming it.
async fn row(state: &StateStore, tenant: &str) -> Result<TenantRow, HibernateError> {
    state
        .tenant(tenant)
        .await?
        .ok_or_else(|| HibernateError::NoTenant(tenant.into()))
}

/// Checks, without changing anything, whether `tenant` may hibernate
/// (`hibernate`) or wake: for the API's answer before it starts a run.
pub async fn check(
    state: &StateStore,
    tenant: &str,
    hibernate: bool,
) -> Result<Decision, HibernateError> {
    let r = row(state, tenant).await?;
    Ok(if hibernate {
        plan::may_hibernate(tenant, r.status)
    } else {
        plan::may_wake(tenant, r.status)
    })
}

/// The tenant's targets, from its journal.
async fn targets(state: &StateStore, tenant: &str) -> Result<Targets, HibernateError> {
    let records = crate::journal::replay(&state.events(tenant).await?)?;
    Ok(plan::targets(&records))
}

/// What the state remembers of the tenant's hibernation.
async fn remembered(state: &StateStore, tenant: &str) -> Result<Remembered, HibernateError> {
    Ok(match state.hibernation_memory(tenant).await? {
        Some(json) => serde_json::from_str(&json).map_err(|e| StateError::Corrupt {
            table: "hibernation_state",
            detail: format!("remembered_json of {tenant}: {e}"),
        })?,
        None => Remembered::default(),
    })
}

/// Hibernates `tenant` (see the module's documentation). A tenant already
/// hibernated is checked again: whatever is up (an RDS instance AWS started,
/// a Deployment someone scaled) goes down, and the first sizes are kept.
pub async fn hibernate(
    engine: &Engine,
    tenant: &TenantName,
    run_id: Option<String>,
) -> Result<Outcome, HibernateError> {
    run(engine, tenant, run_id, What::Hibernate).await
}

/// Wakes `tenant`: starts its RDS instances, gives its Auto Scaling groups
/// and Deployments their sizes back, applies its HPAs again, and waits (at
/// most `ready_within` for the Deployments) until all is up.
pub async fn wake(
    engine: &Engine,
    tenant: &TenantName,
    run_id: Option<String>,
    ready_within: Duration,
) -> Result<Outcome, HibernateError> {
    run(engine, tenant, run_id, What::Wake { ready_within }).await
}

#[derive(Clone, Copy)]
enum What {
    Hibernate,
    Wake { ready_within: Duration },
}

/// One hibernate or wake run, under the tenant's lock: refused or skipped
/// when the tenant's status says so, recorded as a run otherwise.
async fn run(
    engine: &Engine,
    tenant: &TenantName,
    run_id: Option<String>,
    what: What,
) -> Result<Outcome, HibernateError> {
    let run_id = run_id.unwrap_or_else(crate::engine::new_run_id);
    let lock = engine.state.lock_tenant(tenant.as_str(), &run_id).await?;
    let result = run_locked(engine, tenant, &run_id, what).await;
    lock.release().await?;
    result
}

async fn run_locked(
    engine: &Engine,
    tenant: &TenantName,
    run_id: &str,
    what: What,
) -> Result<Outcome, HibernateError> {
    let name = tenant.as_str();
    let r = row(&engine.state, name).await?;
    let (decision, operation) = match what {
        What::Hibernate => (plan::may_hibernate(name, r.status), Operation::Hibernate),
        What::Wake { .. } => (plan::may_wake(name, r.status), Operation::Wake),
    };
    match decision {
        Decision::Proceed => {}
        Decision::AlreadyDone(why) => {
            return Ok(Outcome {
                report: None,
                nothing_to_do: Some(why),
                status: r.status,
            });
        }
        Decision::Refuse(why) => return Err(HibernateError::Refused(why)),
    }
    let mut run = RunRecord::start(engine, &r, run_id, operation).await?;
    let status = match what {
        What::Hibernate => hibernate_steps(engine, name, &mut run).await?,
        What::Wake { ready_within } => wake_steps(engine, name, &mut run, ready_within).await?,
    };
    engine.state.set_tenant_status(name, status).await?;
    let report = run.finish(engine).await?;
    Ok(Outcome {
        report: Some(report),
        nothing_to_do: None,
        status,
    })
}

/// Looks, remembers, then scales everything down; answers the status the
/// tenant is left in.
async fn hibernate_steps(
    engine: &Engine,
    name: &str,
    run: &mut RunRecord,
) -> Result<crate::lifecycle::TenantStatus, HibernateError> {
    let state = &engine.state;
    state.set_tenant_status(name, HIBERNATING).await?;
    state
        .open_hibernation_period(name, &jiff::Timestamp::now().to_string())
        .await?;
    let targets = targets(state, name).await?;

    // Look first, and remember before changing anything.
    let mut now = Remembered::default();
    let client = if targets.namespaces.is_empty() {
        None
    } else {
        match engine.backends.kube.get().await {
            Ok(c) => Some(c),
            Err(e) => {
                run.error("kubernetes", e.to_string());
                None
            }
        }
    };
    if let Some(c) = &client {
        match kube::look(c, &targets.namespaces).await {
            Ok(seen) => now = seen,
            Err(e) => run.error("kubernetes", e),
        }
    }
    match aws::asg_sizes(&engine.backends.aws.autoscaling, &targets.asgs).await {
        Ok(sizes) => now.asgs = sizes,
        Err(e) => run.error("autoscaling", e),
    }
    now.rds = targets.rds.clone();
    let memory = remembered(state, name).await?.merged_with(now);
    let json = serde_json::to_string(&memory).expect("remembered sizes serialize");
    state.set_hibernation_memory(name, Some(&json)).await?;

    if run.errors.is_empty() {
        if let Some(c) = &client
            && let Err(e) = kube::scale_down(c, &memory).await
        {
            run.error("kubernetes", e);
        }
        for g in &memory.asgs {
            if let Err(e) =
                aws::asg_resize(&engine.backends.aws.autoscaling, &g.name, 0, g.max, 0).await
            {
                run.error(&format!("autoscaling {}", g.name), e);
            }
        }
        let stops = memory
            .rds
            .iter()
            .map(|id| aws::rds_to(&engine.backends.aws.rds, id, true, aws::RDS_WITHIN));
        for (id, result) in memory
            .rds
            .iter()
            .zip(futures::future::join_all(stops).await)
        {
            if let Err(e) = result {
                run.error(&format!("rds {id}"), e);
            }
        }
    }
    Ok(if run.errors.is_empty() {
        HIBERNATED
    } else {
        // Left `hibernating`: hibernate again (or wake) picks it up.
        HIBERNATING
    })
}

/// Starts the databases while the groups and Deployments come back, and
/// waits for all; answers the status the tenant is left in.
async fn wake_steps(
    engine: &Engine,
    name: &str,
    run: &mut RunRecord,
    ready_within: Duration,
) -> Result<crate::lifecycle::TenantStatus, HibernateError> {
    let state = &engine.state;
    state.set_tenant_status(name, WAKING).await?;
    let memory = remembered(state, name).await?;

    let starts = memory
        .rds
        .iter()
        .map(|id| aws::rds_to(&engine.backends.aws.rds, id, false, aws::RDS_WITHIN));
    let databases = futures::future::join_all(starts);
    let rest = async {
        let mut errors = Vec::new();
        for g in &memory.asgs {
            if let Err(e) = aws::asg_resize(
                &engine.backends.aws.autoscaling,
                &g.name,
                g.min,
                g.max,
                g.desired,
            )
            .await
            {
                errors.push((format!("autoscaling {}", g.name), e));
            }
        }
        if !memory.deployments.is_empty() || !memory.hpas.is_empty() {
            let up = async {
                let c = engine
                    .backends
                    .kube
                    .get()
                    .await
                    .map_err(|e| e.to_string())?;
                kube::restore(&c, &memory).await?;
                kube::wait_ready(&c, &memory, ready_within).await
            };
            if let Err(e) = up.await {
                errors.push(("kubernetes".to_string(), e));
            }
        }
        errors
    };
    let (db_results, errors) = tokio::join!(databases, rest);
    for (id, result) in memory.rds.iter().zip(db_results) {
        if let Err(e) = result {
            run.error(&format!("rds {id}"), e);
        }
    }
    for (step, e) in errors {
        run.error(&step, e);
    }
    Ok(if run.errors.is_empty() {
        state
            .close_hibernation_period(name, &jiff::Timestamp::now().to_string())
            .await?;
        state.set_hibernation_memory(name, None).await?;
        crate::lifecycle::TenantStatus::Ready
    } else {
        // Left `waking`: wake again picks it up; the memory is kept.
        WAKING
    })
}

/// For a hibernated tenant: stops again each of its RDS instances found
/// `available` (AWS starts a stopped instance after 7 days). Returns the
/// identifiers it stopped.
pub async fn keep_hibernated(engine: &Engine, tenant: &str) -> Result<Vec<String>, String> {
    let memory = remembered(&engine.state, tenant)
        .await
        .map_err(|e| e.to_string())?;
    aws::keep_stopped(&engine.backends.aws.rds, &memory.rds).await
}

/// A hibernate or wake run as the state records it: started, its step
/// errors, finished with a report like a create's (no nodes).
struct RunRecord {
    id: String,
    tenant: String,
    operation: Operation,
    stack: String,
    environment: String,
    started_at: jiff::Timestamp,
    started: Instant,
    errors: Vec<(String, String)>,
}

impl RunRecord {
    async fn start(
        engine: &Engine,
        row: &TenantRow,
        run_id: &str,
        operation: Operation,
    ) -> Result<Self, HibernateError> {
        engine.state.start_run(run_id, &row.name, operation).await?;
        Ok(Self {
            id: run_id.into(),
            tenant: row.name.clone(),
            operation,
            stack: row.stack_name.clone(),
            environment: row.environment.clone(),
            started_at: jiff::Timestamp::now(),
            started: Instant::now(),
            errors: Vec::new(),
        })
    }

    fn error(&mut self, step: &str, message: String) {
        tracing::warn!(tenant = %self.tenant, run = %self.id, step, error = %message, "{} step failed", self.operation);
        self.errors.push((step.into(), message));
    }

    async fn finish(self, engine: &Engine) -> Result<Report, HibernateError> {
        let total_ms = self.started.elapsed().as_millis() as u64;
        let report = Report {
            tenant: self.tenant,
            run_id: self.id.clone(),
            operation: self.operation.to_string(),
            stack: self.stack,
            environment: self.environment,
            started_at: self.started_at.to_string(),
            budget_ms: 0,
            total_ms,
            verdict: if self.errors.is_empty() {
                Verdict::WithinBudget
            } else {
                Verdict::Failed
            },
            nodes: Vec::new(),
            critical_path: Vec::new(),
            critical_path_ms: 0,
            errors: self.errors,
        };
        let status = if report.verdict == Verdict::Failed {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        let json = serde_json::to_string(&report).expect("a report serializes");
        engine.state.finish_run(&self.id, status, &json).await?;
        Ok(report)
    }
}
