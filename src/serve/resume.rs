//! Resuming at start-up: runs that a previous server (or CLI) started and
//! never finished are run again from the intent log, once nobody alive holds
//! the tenant's lock (a dead holder's lease runs out after a minute).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::app::App;
use super::jobs::Work;
use crate::engine::{CreateRequest, DestroyRequest};
use crate::lifecycle::{Operation, Resume};
use crate::state::{LockHeld, RunRow};
use crate::tenant::TenantName;

/// How often to look again at runs whose lock is still held.
const RETRY: Duration = Duration::from_secs(10);

/// Resumes what can be resumed now; keeps trying the rest until their lock
/// is free or their lease has surely run out.
pub async fn resume_unfinished(app: Arc<App>) {
    // Three times the lock lease: a dead holder on another machine is surely gone by then.
    let give_up = Instant::now() + Duration::from_secs(180);
    loop {
        let pending = match app.state.unfinished_runs().await {
            Ok(runs) => runs,
            Err(e) => {
                tracing::error!(error = %e, "cannot list unfinished runs; nothing resumed");
                return;
            }
        };
        let mut waiting = 0;
        for run in pending {
            match resume_one(&app, &run).await {
                Ok(true) => {}
                Ok(false) => waiting += 1,
                Err(e) => {
                    tracing::warn!(run = %run.id, tenant = %run.tenant, error = %e, "cannot resume run")
                }
            }
        }
        if waiting == 0 || Instant::now() > give_up {
            return;
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// True when resumed (or nothing to do), false when its lock is still held.
async fn resume_one(app: &Arc<App>, run: &RunRow) -> anyhow::Result<bool> {
    if app.jobs.active_for(&run.tenant).is_some() {
        return Ok(true);
    }
    let tenant = TenantName::parse(&run.tenant)?;
    // Is the previous holder gone? Take the lock for a moment to find out.
    let probe = format!("resume-probe-{}", crate::engine::new_run_id());
    match app.state.lock_tenant(&run.tenant, &probe).await {
        Ok(lock) => lock.release().await?,
        Err(LockHeld::Busy { .. }) => return Ok(false),
        Err(LockHeld::State(e)) => return Err(e.into()),
    }
    // Whether (and as what) it runs again is the operation's and the
    // tenant's status's to say (`Operation::may_resume`).
    let row = app.state.tenant(&run.tenant).await?;
    let operation = match run.operation.may_resume(row.as_ref().map(|r| r.status)) {
        Resume::Again(op) => op,
        Resume::Close(why) => {
            app.state.abandon_run(&run.id).await?;
            tracing::info!(tenant = %run.tenant, interrupted = %run.id, operation = %run.operation, "not resuming an interrupted run: {why}");
            return Ok(true);
        }
    };
    // An interrupted hibernate or wake is run again (both are safe to
    // repeat), never taken for a destroy.
    if let Some(op) = crate::serve::api::hibernate::Op::of(operation) {
        app.state.abandon_run(&run.id).await?;
        let run_id = crate::engine::new_run_id();
        tracing::info!(tenant = %run.tenant, interrupted = %run.id, run = %run_id, operation = %run.operation, "resuming an interrupted run");
        crate::serve::hibernation::spawn_run(
            app.clone(),
            tenant,
            op,
            run_id,
            format!("resumed after run {} was interrupted", run.id),
        );
        return Ok(true);
    }
    let work = match operation {
        Operation::Create => {
            let row = row.ok_or_else(|| anyhow::anyhow!("the state has no tenant row"))?;
            let stack = crate::stack::load_file_in(
                std::path::Path::new(&row.stack_path),
                &app.config.builtins,
            )?;
            let expires_at = row
                .expires_at
                .as_deref()
                .map(str::parse::<jiff::Timestamp>)
                .transpose()?;
            Work::Create(Box::new(CreateRequest {
                tenant,
                budget: stack.budget,
                stack,
                environment: row.environment.clone(),
                expires_at,
                rollback_on_failure: false,
                owner: None,
                note: None,
                run_id: None,
            }))
        }
        // (hibernate and wake were handed to their runner above)
        Operation::Destroy | Operation::Hibernate | Operation::Wake => {
            Work::Destroy(DestroyRequest {
                tenant,
                environment: row.map(|r| r.environment),
                run_id: None,
            })
        }
    };
    app.state.abandon_run(&run.id).await?;
    let live = app.jobs.submit(work)?;
    tracing::info!(tenant = %run.tenant, interrupted = %run.id, run = %live.id, operation = %run.operation, "resuming an interrupted run");
    let server = crate::serve::auth::Principal {
        name: "server".into(),
        role: crate::serve::auth::Role::Operator,
    };
    app.audit(
        Some(&server),
        &format!("resume-{}", run.operation),
        &run.tenant,
        "accepted",
        Some(format!("interrupted={} run={}", run.id, live.id)),
    )
    .await;
    Ok(true)
}
