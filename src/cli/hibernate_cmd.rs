//! `envctl hibernate tenant NAME` and `envctl wake tenant NAME`: hand the
//! request to `crate::hibernate`, print the run's report, and set or clear a
//! tenant's own sleep/wake schedule.

use super::args::{Global, HibernateArgs, WakeArgs};
use super::output::{self, Format};
use super::{BadInput, RunFailed, setup};
use crate::hibernate::{self, HibernateError, Outcome, Schedule, ScheduleSpec};
use crate::tenant::TenantName;

pub async fn hibernate(global: &Global, a: HibernateArgs) -> anyhow::Result<()> {
    let tenant = setup::tenant(&a.name)?;
    if a.sleep.is_some() || a.no_schedule {
        return set_schedule(global, &tenant, a).await;
    }
    let (engine, renderer) = engine_for(global, &tenant).await?;
    let result = hibernate::hibernate(&engine, &tenant, None).await;
    drop(engine);
    let _ = renderer.await;
    conclude(result, a.output)
}

pub async fn wake(global: &Global, a: WakeArgs) -> anyhow::Result<()> {
    let tenant = setup::tenant(&a.name)?;
    let within = setup::duration("--timeout", &a.timeout)?;
    let (engine, renderer) = engine_for(global, &tenant).await?;
    let result = hibernate::wake(&engine, &tenant, None, within).await;
    drop(engine);
    let _ = renderer.await;
    conclude(result, a.output)
}

/// The engine, once the tenant is known to the state (bad input otherwise).
async fn engine_for(
    global: &Global,
    tenant: &TenantName,
) -> anyhow::Result<(crate::engine::Engine, tokio::task::JoinHandle<()>)> {
    let state = setup::state(global).await?;
    if state.tenant(tenant.as_str()).await?.is_none() {
        return Err(bad(HibernateError::NoTenant(tenant.to_string()).into()));
    }
    setup::engine(
        global,
        state,
        Default::default(),
        crate::engine::limits::DEFAULT_PARALLELISM,
    )
    .await
}

/// A missing tenant or a refused status is bad input (exit 2); anything
/// else is passed on.
fn bad(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<HibernateError>() {
        Ok(e @ (HibernateError::NoTenant(_) | HibernateError::Refused(_))) => {
            BadInput(e.to_string()).into()
        }
        Ok(HibernateError::Lock(l)) => RunFailed(l.to_string()).into(),
        Ok(other) => other.into(),
        Err(e) => e,
    }
}

fn conclude(result: Result<Outcome, HibernateError>, format: Format) -> anyhow::Result<()> {
    let outcome = result.map_err(|e| bad(e.into()))?;
    if let Some(why) = &outcome.nothing_to_do {
        output::print(
            format,
            &serde_json::json!({ "status": outcome.status, "message": why }),
            || format!("{why}; nothing to do\n"),
        );
        return Ok(());
    }
    let report = outcome
        .report
        .as_ref()
        .expect("a run that ran has a report");
    output::print(format, report, || {
        let mut text = format!(
            "{} of tenant {}: {} in {}\n",
            report.operation,
            report.tenant,
            outcome.status,
            crate::budget::fmt_ms(report.total_ms)
        );
        for (step, e) in &report.errors {
            text.push_str(&format!("  {step}: {e}\n"));
        }
        text
    });
    if outcome.failed() {
        return Err(RunFailed(format!(
            "{} of tenant {} failed ({} errors above); fix the cause and run it again: every step is safe to repeat",
            report.operation,
            report.tenant,
            report.errors.len()
        ))
        .into());
    }
    Ok(())
}

/// `--sleep/--wake/--time-zone` or `--no-schedule`: the tenant's own
/// schedule, checked before anything is stored.
async fn set_schedule(
    global: &Global,
    tenant: &TenantName,
    a: HibernateArgs,
) -> anyhow::Result<()> {
    let spec = match a.sleep {
        Some(sleep) => Some(ScheduleSpec {
            sleep,
            wake: a.wake,
            time_zone: a.time_zone,
        }),
        None => None,
    };
    if let Some(spec) = &spec {
        Schedule::parse(spec.clone())
            .map_err(|e| BadInput(format!("--{}: {}", e.field.replace('_', "-"), e.message)))?;
    }
    let state = setup::state(global).await?;
    if state.tenant(tenant.as_str()).await?.is_none() {
        return Err(BadInput(HibernateError::NoTenant(tenant.to_string()).to_string()).into());
    }
    let json = spec
        .as_ref()
        .map(|s| serde_json::to_string(s).expect("a schedule serializes"));
    state
        .set_hibernation_schedule(tenant.as_str(), json.as_deref())
        .await?;
    output::print(a.output, &spec, || match &spec {
        Some(s) => format!(
            "tenant {tenant} sleeps at \"{}\"{} ({}); `envctl serve` runs it\n",
            s.sleep,
            s.wake
                .as_ref()
                .map(|w| format!(" and wakes at \"{w}\""))
                .unwrap_or_else(|| " and wakes when asked".into()),
            s.time_zone.as_deref().unwrap_or("UTC")
        ),
        None => format!("tenant {tenant} has no schedule of its own now; its stack's applies\n"),
    });
    Ok(())
}
