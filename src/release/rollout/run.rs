//! The rollout driver: takes a recorded rollout and moves each of its
//! tenants through the intent log, wave by wave, writing every transition
//! before acting on it:
//!
//! - `pending`: pinned → `skipped`; the new content equal to its latest
//!   revision → `unchanged` (no engine run, no AWS or Kubernetes call); a
//!   replacement of a data-bearing resource not allowed → `failed`;
//!   otherwise `applying` (with the revision it runs, `from_revision`).
//! - `applying`: when a revision newer than `from_revision` already holds
//!   the new content (a driver died after the apply), → `gating`;
//!   otherwise the normal create path applies it (a half-done create
//!   resumes, skipping finished nodes) and records a revision → `gating`,
//!   or `rolling_back` when it failed.
//! - `gating`: the health gate ([`super::gate`]) → `succeeded`, or
//!   `rolling_back`.
//! - `rolling_back`: when a revision newer than `from_revision` already
//!   holds `from_revision`'s content → `rolled_back`; otherwise that
//!   revision is re-applied (as `envctl rollback tenant` does) →
//!   `rolled_back` or `rollback_failed`.
//!
//! A final state is never touched again, so a resumed rollout upgrades no
//! tenant twice and skips none. One driver per rollout: it holds the lock
//! `rollout/<id>` of the state store's lock table (a dead driver's lock is
//! taken over as a dead run's is: at once on the same host, after the lease
//! elsewhere), and each create holds its tenant's lock.
//!
//! Between tenants the driver reads the rollout's status: `paused` or
//! `aborted` (set by `envctl rollout pause|abort`) start no further tenant;
//! those already started finish their step.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::change::{Derived, Wanted};
use super::gate::{self, DeploymentRef};
use super::{RolloutError, RolloutEvent, Spec, Summary, safety, spec_of};
use crate::budget::Verdict;
use crate::engine::{Engine, EngineError, ProgressSink, RetryPolicy};
use crate::kinds::Backends;
use crate::lifecycle::{RolloutStatus, RolloutTenantStatus as T};
use crate::release::{Snapshot, diff, reapply};
use crate::stack::Stack;
use crate::stack::expand::SERVICE_KIND;
use crate::state::{RevisionRow, RolloutTenantRow, StateStore, TenantMove};
use crate::tenant::TenantName;

/// Makes the backends (AWS clients, value store, Kubernetes client) when a
/// tenant first needs them: a rollout whose tenants are all unchanged,
/// skipped or refused never makes them, so it calls no API at all.
pub type BackendsFactory = Arc<
    dyn Fn() -> futures::future::BoxFuture<'static, Result<Arc<Backends>, String>> + Send + Sync,
>;

/// What a driver needs: how to reach the backends its creates and gates
/// use, the store, where its events go, and a token that stops it (Ctrl-C,
/// server shutdown).
#[derive(Clone)]
pub struct Driver {
    make_backends: BackendsFactory,
    backends: Arc<tokio::sync::OnceCell<Arc<Backends>>>,
    pub state: StateStore,
    /// Every transition is sent here too (no receiver is fine).
    pub events: broadcast::Sender<RolloutEvent>,
    /// Cancelling stops starting tenants and cancels running creates; the
    /// rollout stays `running` for a resume.
    pub cancel: CancellationToken,
}

impl Driver {
    /// A driver whose backends are made by `make` on first use.
    pub fn new(
        make: BackendsFactory,
        state: StateStore,
        events: broadcast::Sender<RolloutEvent>,
        cancel: CancellationToken,
    ) -> Driver {
        Driver {
            make_backends: make,
            backends: Arc::new(tokio::sync::OnceCell::new()),
            state,
            events,
            cancel,
        }
    }

    /// A driver on backends made already (the server's).
    pub fn with_backends(
        backends: Arc<Backends>,
        state: StateStore,
        events: broadcast::Sender<RolloutEvent>,
        cancel: CancellationToken,
    ) -> Driver {
        let made = backends.clone();
        let mut d = Driver::new(
            Arc::new(move || {
                let b = made.clone();
                Box::pin(async move { Ok(b) })
            }),
            state,
            events,
            cancel,
        );
        d.backends = Arc::new(tokio::sync::OnceCell::new_with(Some(backends)));
        d
    }

    async fn backends(&self) -> Result<Arc<Backends>, RolloutError> {
        self.backends
            .get_or_try_init(|| (self.make_backends)())
            .await
            .cloned()
            .map_err(RolloutError::Backends)
    }
}

/// What the tenants of one run share.
struct Target {
    id: String,
    spec: Spec,
    /// The stack applied to every tenant; `None` when each gets its own
    /// (`spec.change`).
    stack: Option<Stack>,
    /// Cancelled with the driver; the engines' token.
    cancel: CancellationToken,
    /// The Deployments' rollout timeout: the stack's for `k8s.service`, or
    /// the kind's.
    rollout_timeout: Duration,
    failures: AtomicUsize,
    stop: AtomicBool,
}

/// Runs (or continues) rollout `id` until it ends, is paused or aborted,
/// or stops on failures; returns its summary as the store then has it.
pub async fn run(driver: &Driver, id: &str) -> Result<Summary, RolloutError> {
    let row = driver
        .state
        .rollout(id)
        .await?
        .ok_or_else(|| RolloutError::NotFound(id.to_string()))?;
    if row.status != RolloutStatus::Running {
        return summary(&driver.state, id).await;
    }
    let lock_name = format!("rollout/{id}");
    let lock = driver
        .state
        .lock_tenant(&lock_name, &crate::engine::new_run_id())
        .await
        .map_err(|e| match e {
            crate::state::LockHeld::Busy { host, pid, .. } => RolloutError::Busy(format!(
                "rollout {id} is being driven by pid {pid} on {host}; wait for it, or stop that process and run `envctl rollout resume {id}`"
            )),
            crate::state::LockHeld::State(s) => RolloutError::State(s),
        })?;
    let result = drive(driver, id).await;
    lock.release().await?;
    result
}

async fn summary(state: &StateStore, id: &str) -> Result<Summary, RolloutError> {
    Summary::load(state, id)
        .await?
        .ok_or_else(|| RolloutError::NotFound(id.to_string()))
}

/// The stack a rollout applies to all its tenants, loaded as at its start
/// (a stack file or catalog changed since is refused); `None` for a
/// rollout of a change into each tenant's own stack.
pub fn load_stack(id: &str, spec: &Spec) -> Result<Option<Stack>, RolloutError> {
    let Some(path) = &spec.stack else {
        return Ok(None);
    };
    let stack = crate::stack::load_file_in(path, &spec.builtins()).map_err(|e| {
        RolloutError::Refused(format!(
            "rollout {id}: the stack no longer loads: {e}; restore it, or abort the rollout with `envctl rollout abort {id}`"
        ))
    })?;
    let env = spec.environment.as_deref().unwrap_or(&stack.environment);
    let now = Snapshot::of(&stack, env).map_err(RolloutError::Refused)?;
    let then = Snapshot::from_json(&spec.content_json).map_err(RolloutError::Refused)?;
    if !diff(&then, &now).is_empty() {
        return Err(RolloutError::Refused(format!(
            "rollout {id}: {} or its catalog changed since the rollout started; a rollout applies one content to all its tenants: \
             restore the file, or abort this rollout (`envctl rollout abort {id}`) and start a new one",
            path.display()
        )));
    }
    Ok(Some(stack))
}

async fn drive(driver: &Driver, id: &str) -> Result<Summary, RolloutError> {
    let row = driver
        .state
        .rollout(id)
        .await?
        .ok_or_else(|| RolloutError::NotFound(id.to_string()))?;
    let spec = spec_of(&row)?;
    let stack = load_stack(id, &spec)?;
    let rollout_timeout = stack
        .as_ref()
        .and_then(|s| s.timeouts.get(SERVICE_KIND).copied())
        .unwrap_or_else(|| {
            crate::kinds::kind_by_name(SERVICE_KIND)
                .map(|k| k.ready_timeout())
                .unwrap_or(Duration::from_secs(600))
        });
    let tenants = driver.state.rollout_tenants(id).await?;
    let target = Target {
        id: id.to_string(),
        cancel: driver.cancel.child_token(),
        spec,
        stack,
        rollout_timeout,
        failures: AtomicUsize::new(tenants.iter().filter(|t| t.status.is_failure()).count()),
        stop: AtomicBool::new(false),
    };
    let mut waves: BTreeMap<i64, Vec<RolloutTenantRow>> = BTreeMap::new();
    for t in tenants.iter().cloned() {
        waves.entry(t.wave).or_default().push(t);
    }
    let _ = driver.events.send(RolloutEvent::Started {
        rollout: id.to_string(),
        tenants: tenants.len(),
        waves: waves.len(),
    });
    for (wave, rows) in waves {
        if target.over_limit() {
            break;
        }
        let open: Vec<RolloutTenantRow> =
            rows.into_iter().filter(|t| !t.status.is_final()).collect();
        if open.is_empty() {
            continue;
        }
        if let Some(paused) = halted(driver, id).await? {
            return finished(driver, id, paused).await;
        }
        let _ = driver.events.send(RolloutEvent::WaveStarted {
            rollout: id.to_string(),
            wave,
            tenants: open.iter().map(|t| t.tenant.clone()).collect(),
        });
        // A wave's tenants run in parallel, at most `max_unavailable` of
        // them being changed at once.
        let size = open
            .len()
            .min(target.spec.max_unavailable.unwrap_or(usize::MAX))
            .max(1);
        let results: Vec<Result<(), RolloutError>> = futures::stream::iter(open)
            .map(|t| advance(driver, &target, t))
            .buffer_unordered(size)
            .collect()
            .await;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            return Err(e);
        }
        if driver.cancel.is_cancelled() {
            return Err(RolloutError::Interrupted(id.to_string()));
        }
        if let Some(paused) = halted(driver, id).await? {
            return finished(driver, id, paused).await;
        }
    }
    let failures = target.failures.load(Ordering::SeqCst);
    let (status, message) = if target.over_limit() {
        (
            RolloutStatus::Stopped,
            format!(
                "{failures} tenant(s) failed, more than --max-failures {}: no further tenant was started",
                target.spec.max_failures
            ),
        )
    } else if failures > 0 {
        (
            RolloutStatus::Failed,
            format!(
                "{failures} tenant(s) failed (within --max-failures {}); every other tenant was tried",
                target.spec.max_failures
            ),
        )
    } else {
        (
            RolloutStatus::Succeeded,
            "every tenant upgraded, unchanged or skipped".to_string(),
        )
    };
    driver
        .state
        .move_rollout(id, &[RolloutStatus::Running], status, Some(&message))
        .await?;
    let now = driver.state.rollout(id).await?.map_or(status, |r| r.status);
    finished(driver, id, now).await
}

/// The rollout's status when it is no longer `running` (paused, aborted).
async fn halted(driver: &Driver, id: &str) -> Result<Option<RolloutStatus>, RolloutError> {
    let status = driver
        .state
        .rollout(id)
        .await?
        .ok_or_else(|| RolloutError::NotFound(id.to_string()))?
        .status;
    Ok((status != RolloutStatus::Running).then_some(status))
}

async fn finished(
    driver: &Driver,
    id: &str,
    status: RolloutStatus,
) -> Result<Summary, RolloutError> {
    let s = summary(&driver.state, id).await?;
    let _ = driver.events.send(RolloutEvent::Finished {
        rollout: id.to_string(),
        status,
        message: s.rollout.message.clone(),
    });
    Ok(s)
}

impl Target {
    /// An engine for one create (the backends made on first use).
    async fn engine(&self, driver: &Driver) -> Result<Engine, RolloutError> {
        Ok(Engine {
            backends: driver.backends().await?,
            state: driver.state.clone(),
            policy: RetryPolicy::from_env(),
            cancel: self.cancel.clone(),
            progress: ProgressSink::discard(),
            limit_overrides: Default::default(),
            parallelism: crate::engine::limits::DEFAULT_PARALLELISM,
        })
    }

    fn over_limit(&self) -> bool {
        self.failures.load(Ordering::SeqCst) > self.spec.max_failures
    }

    /// What this rollout makes of a tenant at revision `from`: its new
    /// stack and content, or why it is left alone. An error is a sentence.
    fn wanted(&self, from: &RevisionRow) -> Result<Derived, String> {
        let environment = self.environment(from);
        match (&self.stack, &self.spec.change) {
            (Some(stack), _) => Ok(Derived::Apply(Box::new(Wanted::of_stack(
                stack.clone(),
                &environment,
            )?))),
            (None, Some(change)) => change.derive(from, &environment, &self.spec.builtins()),
            (None, None) => Err(format!(
                "rollout {} names neither a stack nor a change",
                self.id
            )),
        }
    }

    fn environment(&self, latest: &RevisionRow) -> String {
        self.spec
            .environment
            .clone()
            .unwrap_or_else(|| latest.environment.clone())
    }
}

/// Moves tenant `t` along the intent log until it is final (or another
/// driver moved it, or the rollout is halted before it started).
async fn advance(
    driver: &Driver,
    target: &Target,
    mut t: RolloutTenantRow,
) -> Result<(), RolloutError> {
    loop {
        let next = match t.status {
            s if s.is_final() => return Ok(()),
            T::Pending => {
                // Checked between tenants: a pause, an abort, the failure
                // limit or Ctrl-C start nothing new.
                if target.stop.load(Ordering::SeqCst)
                    || target.over_limit()
                    || driver.cancel.is_cancelled()
                    || halted(driver, &target.id).await?.is_some()
                {
                    return Ok(());
                }
                decide(driver, target, &t).await?
            }
            T::Applying => apply(driver, target, &t).await?,
            T::Gating => gate_step(driver, target, &t).await?,
            T::RollingBack => roll_back(driver, target, &t).await?,
            _ => unreachable!("final states return above"),
        };
        let Some((to, set)) = next else {
            return Ok(());
        };
        let moved = driver
            .state
            .move_rollout_tenant(&target.id, &t.tenant, t.status, to, &set.as_move())
            .await?;
        if !moved {
            // Another driver moved it: it is that driver's.
            return Ok(());
        }
        if to.is_failure() {
            let n = target.failures.fetch_add(1, Ordering::SeqCst) + 1;
            if n > target.spec.max_failures {
                target.stop.store(true, Ordering::SeqCst);
            }
        }
        t.status = to;
        t.from_revision = set.from_revision.or(t.from_revision);
        t.to_revision = set.to_revision.or(t.to_revision);
        t.message = set.message.clone().or(t.message.take());
        let _ = driver.events.send(RolloutEvent::Tenant {
            rollout: target.id.clone(),
            tenant: t.tenant.clone(),
            wave: t.wave,
            status: to,
            from_revision: t.from_revision,
            to_revision: t.to_revision,
            message: t.message.clone(),
        });
    }
}

/// What a step sets besides the status.
#[derive(Default)]
struct Set {
    from_revision: Option<i64>,
    to_revision: Option<i64>,
    message: Option<String>,
}

impl Set {
    fn as_move(&self) -> TenantMove<'_> {
        TenantMove {
            from_revision: self.from_revision,
            to_revision: self.to_revision,
            message: self.message.as_deref(),
        }
    }

    fn message(m: impl Into<String>) -> Set {
        Set {
            message: Some(m.into()),
            ..Default::default()
        }
    }
}

type Step = Option<(T, Set)>;

fn name_of(t: &RolloutTenantRow) -> Result<TenantName, RolloutError> {
    TenantName::parse(&t.tenant).map_err(|e| RolloutError::Refused(e.to_string()))
}

async fn latest(driver: &Driver, tenant: &str) -> Result<Option<RevisionRow>, RolloutError> {
    Ok(driver.state.revision(tenant, None).await?)
}

fn content(row: &RevisionRow) -> Result<Snapshot, RolloutError> {
    reapply::content(row).map_err(RolloutError::Refused)
}

/// `pending`: skipped, unchanged, refused, or started. Reads the store
/// only: no AWS or Kubernetes call.
async fn decide(
    driver: &Driver,
    target: &Target,
    t: &RolloutTenantRow,
) -> Result<Step, RolloutError> {
    let Some(last) = latest(driver, &t.tenant).await? else {
        return Ok(Some((
            T::Failed,
            Set::message(format!(
                "tenant {} has no recorded revision: create it first with `envctl create tenant {}`",
                t.tenant, t.tenant
            )),
        )));
    };
    if let Some(pin) = driver.state.pinned(&t.tenant).await? {
        return Ok(Some((
            T::Skipped,
            Set {
                from_revision: Some(last.revision),
                message: Some(format!(
                    "pinned at revision {} (by {}); `envctl unpin tenant {}` to include it",
                    pin.revision,
                    pin.pinned_by.as_deref().unwrap_or("unknown"),
                    t.tenant
                )),
                ..Default::default()
            },
        )));
    }
    let left = |to: T, why: String| {
        let set = Set {
            from_revision: Some(last.revision),
            message: Some(why),
            ..Default::default()
        };
        Ok(Some((to, set)))
    };
    let wanted = match target.wanted(&last) {
        Ok(Derived::Apply(w)) => w,
        Ok(Derived::Skip(why)) => return left(T::Skipped, why),
        Err(why) => return left(T::Failed, why),
    };
    let change = diff(&content(&last)?, &wanted.content);
    if change.is_empty() {
        return Ok(Some((
            T::Unchanged,
            Set {
                from_revision: Some(last.revision),
                to_revision: Some(last.revision),
                message: Some(format!(
                    "revision {} already holds this content",
                    last.revision
                )),
            },
        )));
    }
    if let Some(why) = safety::refusal(&change, &target.spec.allow_replace) {
        return Ok(Some((
            T::Failed,
            Set {
                from_revision: Some(last.revision),
                message: Some(why),
                ..Default::default()
            },
        )));
    }
    Ok(Some((
        T::Applying,
        Set {
            from_revision: Some(last.revision),
            message: Some(change.summary()),
            ..Default::default()
        },
    )))
}

/// A newer revision than `from` whose content equals `want`: the newest.
async fn recorded_since(
    driver: &Driver,
    tenant: &str,
    from: i64,
    want: &Snapshot,
) -> Result<Option<i64>, RolloutError> {
    let Some(last) = latest(driver, tenant).await? else {
        return Ok(None);
    };
    Ok((last.revision > from && diff(&content(&last)?, want).is_empty()).then_some(last.revision))
}

/// The outcome of one create, as the intent log sees it.
enum Applied {
    /// Recorded as this revision.
    Ok(i64),
    /// Failed, with why.
    Failed(String),
    /// Refused before anything was done, with why.
    Refused(String),
}

async fn create(
    driver: &Driver,
    target: &Target,
    tenant: &TenantName,
    stack: Stack,
    environment: String,
) -> Result<Applied, RolloutError> {
    let req = reapply::request(&driver.state, tenant, stack, environment).await?;
    match target.engine(driver).await?.create(&req).await {
        Ok(report) => match report.verdict {
            Verdict::WithinBudget | Verdict::OverBudget => {
                let last = latest(driver, tenant.as_str()).await?.ok_or_else(|| {
                    RolloutError::Refused(format!(
                        "tenant {tenant}: create succeeded but no revision was recorded"
                    ))
                })?;
                Ok(Applied::Ok(last.revision))
            }
            Verdict::Cancelled => Err(RolloutError::Interrupted(target.id.clone())),
            Verdict::Failed => Ok(Applied::Failed(
                report
                    .errors
                    .iter()
                    .map(|(node, e)| format!("{node}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
        },
        Err(EngineError::Lock(held)) => Err(RolloutError::Busy(held.to_string())),
        Err(EngineError::Refused(why)) => Ok(Applied::Refused(why)),
        Err(other) => Err(other.into()),
    }
}

/// `applying`: gate what was already recorded, or apply the new content.
async fn apply(
    driver: &Driver,
    target: &Target,
    t: &RolloutTenantRow,
) -> Result<Step, RolloutError> {
    let tenant = name_of(t)?;
    let lost = || RolloutError::Refused(format!("tenant {tenant} lost its revisions"));
    let last = latest(driver, &t.tenant).await?.ok_or_else(lost)?;
    let from = t.from_revision.unwrap_or(last.revision);
    let from_row = driver
        .state
        .revision(&t.tenant, Some(from))
        .await?
        .ok_or_else(lost)?;
    let wanted = match target.wanted(&from_row) {
        Ok(Derived::Apply(w)) => w,
        // `decide` derived it from the same revision: only a state store
        // changed underneath gets here; the tenant is put back as it was.
        Ok(Derived::Skip(why)) | Err(why) => {
            return Ok(Some((
                T::RollingBack,
                Set::message(format!("apply: {why}")),
            )));
        }
    };
    if let Some(rev) = recorded_since(driver, &t.tenant, from, &wanted.content).await? {
        return Ok(Some((
            T::Gating,
            Set {
                to_revision: Some(rev),
                ..Default::default()
            },
        )));
    }
    Ok(Some(
        match create(
            driver,
            target,
            &tenant,
            wanted.stack.clone(),
            wanted.environment.clone(),
        )
        .await?
        {
            Applied::Ok(rev) => (
                T::Gating,
                Set {
                    to_revision: Some(rev),
                    ..Default::default()
                },
            ),
            Applied::Failed(why) => (T::RollingBack, Set::message(format!("apply failed: {why}"))),
            Applied::Refused(why) => (T::Failed, Set::message(format!("refused: {why}"))),
        },
    ))
}

/// The tenant's Deployments, from its journal (the outputs of its
/// `k8s.service` nodes).
async fn deployments(driver: &Driver, tenant: &str) -> Result<Vec<DeploymentRef>, RolloutError> {
    let events = driver.state.events(tenant).await?;
    let records = crate::journal::replay(&events).map_err(|e| {
        RolloutError::Refused(format!("tenant {tenant}: its journal does not replay: {e}"))
    })?;
    let mut out: Vec<DeploymentRef> = records
        .values()
        .filter(|r| r.kind == SERVICE_KIND)
        .filter_map(|r| {
            Some(DeploymentRef {
                namespace: r.outputs.get("namespace")?.clone(),
                name: r.outputs.get("deployment")?.clone(),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

async fn gate_on(
    driver: &Driver,
    found: &[DeploymentRef],
    rollout_timeout: Duration,
    soak: Duration,
) -> Result<Result<(), String>, RolloutError> {
    let backends = driver.backends().await?;
    Ok(gate::check(&backends.kube, found, rollout_timeout, soak).await)
}

/// `gating`: the health gate.
async fn gate_step(
    driver: &Driver,
    target: &Target,
    t: &RolloutTenantRow,
) -> Result<Step, RolloutError> {
    let found = deployments(driver, &t.tenant).await?;
    let soak = target.spec.soak();
    let gated = tokio::select! {
        r = gate_on(driver, &found, target.rollout_timeout, soak) => r?,
        _ = driver.cancel.cancelled() => return Err(RolloutError::Interrupted(target.id.clone())),
    };
    if let Err(why) = gated {
        return Ok(Some((
            T::RollingBack,
            Set::message(format!("health gate: {why}")),
        )));
    }
    let mut healthy = format!(
        "healthy: {} Deployment(s) complete and available for {}",
        found.len(),
        humantime::format_duration(soak)
    );
    if let Some(check) = &target.spec.http_check {
        let answered = tokio::select! {
            r = check.run(&t.tenant) => r,
            _ = driver.cancel.cancelled() => return Err(RolloutError::Interrupted(target.id.clone())),
        };
        match answered {
            Ok(()) => healthy.push_str(&format!(
                "; GET {} answered 2xx {} times in a row",
                check.url_for(&t.tenant),
                super::http_check::PASSES
            )),
            Err(why) => {
                return Ok(Some((
                    T::RollingBack,
                    Set::message(format!("health gate: {why}")),
                )));
            }
        }
    }
    Ok(Some((T::Succeeded, Set::message(healthy))))
}

/// `rolling_back`: the previous revision again.
async fn roll_back(
    driver: &Driver,
    target: &Target,
    t: &RolloutTenantRow,
) -> Result<Step, RolloutError> {
    let tenant = name_of(t)?;
    let reason = t.message.clone().unwrap_or_else(|| "failed".into());
    let Some(from) = t.from_revision else {
        return Ok(Some((
            T::RollbackFailed,
            Set::message(format!("{reason}; no revision to roll back to")),
        )));
    };
    let Some(row) = driver.state.revision(&t.tenant, Some(from)).await? else {
        return Ok(Some((
            T::RollbackFailed,
            Set::message(format!(
                "{reason}; revision {from} is not in the state store"
            )),
        )));
    };
    let before = content(&row)?;
    if let Some(rev) = recorded_since(driver, &t.tenant, from, &before).await? {
        return Ok(Some((
            T::RolledBack,
            Set {
                to_revision: Some(rev),
                message: Some(format!(
                    "{reason}; rolled back to revision {from} (recorded as {rev})"
                )),
                ..Default::default()
            },
        )));
    }
    let restored = match reapply::restore(&row, &target.spec.builtins()) {
        Ok(r) => r,
        Err(why) => {
            return Ok(Some((
                T::RollbackFailed,
                Set::message(format!("{reason}; rollback refused: {why}")),
            )));
        }
    };
    let applied = create(
        driver,
        target,
        &tenant,
        restored.stack.clone(),
        restored.environment.clone(),
    )
    .await?;
    drop(restored);
    Ok(Some(match applied {
        Applied::Ok(rev) => (
            T::RolledBack,
            Set {
                to_revision: Some(rev),
                message: Some(format!(
                    "{reason}; rolled back to revision {from} (recorded as {rev})"
                )),
                ..Default::default()
            },
        ),
        Applied::Failed(why) | Applied::Refused(why) => (
            T::RollbackFailed,
            Set::message(format!(
                "{reason}; the rollback to revision {from} failed too: {why}; look at it with `envctl describe tenant {tenant}`"
            )),
        ),
    }))
}
