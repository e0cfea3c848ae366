//! Hibernation in the server: runs hibernate and wake in the background
//! (for the API and the schedules), runs the sleep/wake schedules of stacks
//! and tenants, stops again the RDS instances AWS starts by itself after
//! 7 days while a tenant is hibernated, and closes the hibernated period of
//! a tenant destroyed while hibernated.

use super::api::hibernate::Op;
use super::app::App;
use super::notify::Event;
use crate::hibernate::{self, Due, HibernateError, Outcome, Schedule, ScheduleSpec};
use crate::lifecycle::TenantStatus;
use crate::state::TenantRow;
use crate::tenant::TenantName;

/// Starts a hibernate or wake run of `tenant` in the background; `reason`
/// (who or what asked) goes into its notification.
pub fn spawn_run(
    app: std::sync::Arc<App>,
    tenant: TenantName,
    op: Op,
    run_id: String,
    reason: String,
) {
    tokio::spawn(async move {
        let engine = app.jobs.engine().clone();
        let result = match op {
            Op::Hibernate => hibernate::hibernate(&engine, &tenant, Some(run_id.clone())).await,
            Op::Wake => {
                hibernate::wake(
                    &engine,
                    &tenant,
                    Some(run_id.clone()),
                    hibernate::DEFAULT_READY_WITHIN,
                )
                .await
            }
        };
        completed(&app, tenant.as_str(), op, &run_id, &reason, &result);
    });
}

/// Where every hibernate and wake run of the server ends: logs it and
/// sends `tenant.hibernated` / `tenant.woken` when it did what it was asked
/// (`run.failed` when a step failed; nothing when there was nothing to do).
pub fn completed(
    app: &App,
    tenant: &str,
    op: Op,
    run_id: &str,
    reason: &str,
    result: &Result<Outcome, HibernateError>,
) {
    let operation = op.as_str();
    match result {
        Ok(o) if o.failed() => {
            let errors = o
                .report
                .as_ref()
                .map(|r| r.errors.as_slice())
                .unwrap_or_default();
            tracing::warn!(tenant, operation, status = %o.status, errors = errors.len(), "run finished with errors");
            app.notify(Event::RunFailed {
                tenant: tenant.into(),
                run_id: run_id.into(),
                operation: operation.into(),
                error: crate::serve::jobs::first_errors(errors),
            });
        }
        Ok(o) if o.report.is_none() => {
            tracing::info!(tenant, operation, status = %o.status, "nothing to do");
        }
        Ok(o) => {
            tracing::info!(tenant, operation, status = %o.status, "run finished");
            let (tenant, at, reason) = (tenant.to_string(), run_id.to_string(), reason.to_string());
            app.notify(match op {
                Op::Hibernate => Event::Hibernated { tenant, at, reason },
                Op::Wake => Event::Woken { tenant, at, reason },
            });
        }
        Err(e) => {
            tracing::warn!(tenant, operation, error = %e, "run could not run");
            app.notify(Event::RunFailed {
                tenant: tenant.into(),
                run_id: run_id.into(),
                operation: operation.into(),
                error: e.to_string(),
            });
        }
    }
}

/// The schedule that applies to `t`: its own, else its stack's.
async fn schedule_of(app: &App, t: &TenantRow) -> Option<Schedule> {
    match app.state.hibernation_schedule(&t.name).await {
        Ok(Some(json)) => match serde_json::from_str::<ScheduleSpec>(&json).map(Schedule::parse) {
            Ok(Ok(s)) => return Some(s),
            _ => {
                tracing::warn!(tenant = %t.name, "the tenant's stored schedule is unreadable; set it again with `envctl hibernate tenant {} --sleep ...`", t.name);
                return None;
            }
        },
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(tenant = %t.name, error = %e, "cannot read the tenant's schedule");
            return None;
        }
    }
    app.config
        .stacks
        .get(&t.stack_name)
        .and_then(|s| s.hibernate.clone())
}

/// One look at every tenant for what fell due in `(since, now]`.
pub async fn pass(app: &std::sync::Arc<App>, since: jiff::Timestamp, now: jiff::Timestamp) {
    let tenants = match app.state.tenants().await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "hibernation schedules: cannot list tenants");
            return;
        }
    };
    for t in tenants {
        if t.status == TenantStatus::Destroyed {
            // Destroyed while hibernated: the period ends with it.
            if let Err(e) = app
                .state
                .close_hibernation_period(&t.name, &t.updated_at)
                .await
            {
                tracing::warn!(tenant = %t.name, error = %e, "cannot close the hibernated period");
            }
            continue;
        }
        if t.status == hibernate::HIBERNATED {
            match hibernate::keep_hibernated(app.jobs.engine(), &t.name).await {
                Ok(ids) if !ids.is_empty() => {
                    tracing::info!(tenant = %t.name, instances = ?ids, "stopped again the RDS instances AWS started");
                    app.audit(
                        Some(&scheduler()),
                        "restop",
                        &t.name,
                        "done",
                        Some(ids.join(",")),
                    )
                    .await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(tenant = %t.name, error = %e, "cannot check the tenant's stopped databases")
                }
            }
        }
        let Some(schedule) = schedule_of(app, &t).await else {
            continue;
        };
        let op = match (schedule.due(since, now), t.status) {
            (Some(Due::Sleep), TenantStatus::Ready) => Op::Hibernate,
            (Some(Due::Wake), hibernate::HIBERNATED) => Op::Wake,
            _ => continue,
        };
        if app.jobs.active_for(&t.name).is_some() {
            continue;
        }
        let Ok(tenant) = TenantName::parse(&t.name) else {
            continue;
        };
        let run_id = crate::engine::new_run_id();
        app.audit(
            Some(&scheduler()),
            op.as_str(),
            &t.name,
            "accepted",
            Some(format!("schedule run={run_id}")),
        )
        .await;
        spawn_run(app.clone(), tenant, op, run_id, "schedule".into());
    }
}

/// Runs [`pass`] every `hibernation.check_every` (default a minute), from
/// the server's start on.
pub async fn run(app: std::sync::Arc<App>) {
    let mut since = jiff::Timestamp::now();
    loop {
        tokio::time::sleep(app.config.hibernation_check_every).await;
        let now = jiff::Timestamp::now();
        pass(&app, since, now).await;
        since = now;
    }
}

/// Who the audit log names for what the schedules and the checks do.
fn scheduler() -> crate::serve::auth::Principal {
    crate::serve::auth::Principal {
        name: "schedule".into(),
        role: crate::serve::auth::Role::Operator,
    }
}
