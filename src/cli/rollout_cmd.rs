//! `rollout` (start one), `rollout status|pause|resume|abort`, `get
//! rollouts`: the input checked before anything is recorded, the driver's
//! events printed as they come (stderr), the report at the end (stdout).

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::args::{
    GetRolloutsArgs, Global, RolloutArgs, RolloutCmd, RolloutCommand, RolloutIdArgs,
    RolloutStatusArgs,
};
use super::output::{self, Format};
use super::{BadInput, RunFailed, setup};
use crate::lifecycle::{RolloutStatus, RolloutTenantStatus};
use crate::release::Snapshot;
use crate::release::rollout::{self, Batch, Driver, RolloutError, RolloutEvent, Spec, Summary};
use crate::state::StateStore;

pub async fn rollout(global: &Global, a: RolloutCmd) -> anyhow::Result<()> {
    match a.command {
        None => start(global, a.start).await,
        Some(RolloutCommand::Status(s)) => status(global, s).await,
        Some(RolloutCommand::Pause(s)) => pause(global, s).await,
        Some(RolloutCommand::Resume(s)) => resume(global, s).await,
        Some(RolloutCommand::Abort(s)) => abort(global, s).await,
    }
}

/// The spec of `a` and the tenants it selects, every bad input found
/// before anything is recorded.
async fn checked(
    global: &Global,
    a: &RolloutArgs,
    state: &StateStore,
) -> anyhow::Result<(Spec, Vec<String>)> {
    if a.stack.is_none() && a.catalog.is_none() && a.service.is_none() {
        return Err(BadInput(
            "rollout: say what to roll out: --stack stacks/tenant.yaml (one stack for all), \
             or --catalog DIR and/or --service NAME --tag T (into each tenant's own stack)"
                .into(),
        )
        .into());
    }
    let selector = match (&a.tenants, a.all) {
        (Some(t), false) => t.clone(),
        (None, true) => "--all".to_string(),
        _ => {
            return Err(BadInput(
                "rollout: say which tenants: --tenants acme,shop-* (names or globs) or --all"
                    .into(),
            )
            .into());
        }
    };
    let batch = Batch::parse(&a.batch).map_err(BadInput)?;
    let soak = setup::duration("--soak", &a.soak)?;
    let http_check = match &a.http_check {
        Some(url) => Some(
            rollout::http_check::HttpCheck::new(
                url,
                setup::duration("--http-check-timeout", &a.http_check_timeout)?,
            )
            .map_err(|e| BadInput(format!("--http-check: {e}")))?,
        ),
        None => None,
    };
    let builtins = setup::builtins(global);
    if let Some(env) = &a.environment {
        crate::envapi::check_environment(env)
            .map_err(|e| BadInput(format!("--environment: {e}")))?;
    }
    let (stack, content_json, change) = match &a.stack {
        Some(stack_path) => {
            let stack = crate::stack::load_file_in(stack_path, &builtins)
                .map_err(|e| BadInput(e.to_string()))?;
            for id in &a.allow_replace {
                if stack.resource(id).is_none() {
                    return Err(BadInput(format!(
                        "--allow-replace {id}: {} has no resource '{id}'",
                        stack_path.display()
                    ))
                    .into());
                }
            }
            let env = a.environment.clone().unwrap_or(stack.environment.clone());
            let content = Snapshot::of(&stack, &env).map_err(BadInput)?;
            let absolute = std::path::absolute(stack_path)
                .map_err(|e| BadInput(format!("--stack {}: {e}", stack_path.display())))?;
            (Some(absolute), content.to_json(), None)
        }
        None => {
            if let Some(id) = a.allow_replace.first() {
                return Err(BadInput(format!(
                    "--allow-replace {id}: a --catalog or --service rollout changes only services, which hold no data; \
                     --allow-replace goes with --stack"
                ))
                .into());
            }
            (None, String::new(), Some(tenant_change(a)?))
        }
    };
    let known = rollout::rollable(state).await?;
    let tenants = if a.all {
        if known.is_empty() {
            return Err(BadInput(format!(
                "rollout --all: the state store {} holds no tenant with a recorded revision",
                state.location()
            ))
            .into());
        }
        known
    } else {
        rollout::plan::select(&selector, &known).map_err(BadInput)?
    };
    if let Some(change) = &change {
        let mut latest = Vec::new();
        for t in &tenants {
            latest.extend(state.revision(t, None).await?);
        }
        rollout::change::check(change, &latest, a.environment.as_deref(), &builtins)
            .map_err(|e| BadInput(format!("rollout: {e}")))?;
    }
    Ok((
        Spec {
            stack,
            change,
            environment: a.environment.clone(),
            selector,
            canary: a.canary,
            batch,
            max_failures: a.max_failures,
            max_unavailable: a.max_unavailable.map(|n| n as usize),
            soak_ms: soak.as_millis() as u64,
            http_check,
            allow_replace: a.allow_replace.clone(),
            domain: builtins.domain,
            content_json,
        },
        tenants,
    ))
}

/// `--catalog` and `--service/--tag` as a change of each tenant's stack.
fn tenant_change(a: &RolloutArgs) -> Result<rollout::change::TenantChange, BadInput> {
    let catalog = a
        .catalog
        .as_deref()
        .map(rollout::change::NewCatalog::read)
        .transpose()
        .map_err(BadInput)?;
    let service_tag = match (&a.service, &a.tag) {
        (Some(service), Some(tag)) => Some(rollout::change::ServiceTag {
            service: service.clone(),
            tag: tag.clone(),
        }),
        _ => None,
    };
    Ok(rollout::change::TenantChange {
        catalog,
        service_tag,
    })
}

async fn start(global: &Global, a: RolloutArgs) -> anyhow::Result<()> {
    // A state store that does not exist holds no tenant: bad input, and
    // none is created.
    let state = super::release_cmd::existing_state(global)
        .await?
        .ok_or_else(|| {
            BadInput(format!(
                "rollout: the state store {} does not exist: there is no tenant to roll out to",
                crate::state::redact(&setup::state_location(global))
            ))
        })?;
    let (spec, tenants) = checked(global, &a, &state).await?;
    let id = rollout::record(&state, &spec, &tenants, Some(&setup::os_user())).await?;
    let waves = rollout::plan::waves(&tenants, spec.canary, spec.batch)
        .last()
        .map_or(0, |t| t.wave);
    eprintln!(
        "rollout {id}: {} tenant(s) of {}, canary {}, batch {}, max failures {}, max unavailable {}, soak {}; last wave {waves}",
        tenants.len(),
        spec.what(),
        spec.canary,
        spec.batch,
        spec.max_failures,
        spec.max_unavailable
            .map_or("the wave".to_string(), |n| n.to_string()),
        humantime::format_duration(spec.soak()),
    );
    drive(global, state, &id, a.output).await
}

/// Runs the driver with its events printed, then the report.
async fn drive(global: &Global, state: StateStore, id: &str, format: Format) -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    let rid = id.to_string();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "interrupted: tenants under way stop; continue with `envctl rollout resume {rid}`"
            );
            on_signal.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let (events, mut rx) = tokio::sync::broadcast::channel(1024);
    let printer = tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match rx.recv().await {
                Ok(e) => eprintln!("{}", line(&e)),
                Err(RecvError::Lagged(n)) => eprintln!("({n} progress lines dropped)"),
                Err(RecvError::Closed) => break,
            }
        }
    });
    let for_backends = global.clone();
    let make: rollout::BackendsFactory = std::sync::Arc::new(move || {
        let global = for_backends.clone();
        Box::pin(async move { setup::backends(&global).await.map_err(|e| format!("{e:#}")) })
    });
    let driver = Driver::new(make, state.clone(), events, cancel);
    let result = rollout::run(&driver, id).await;
    drop(driver);
    let _ = printer.await;
    let summary = result.map_err(|e| match e {
        RolloutError::Refused(why) => anyhow::Error::new(BadInput(why)),
        RolloutError::NotFound(_) => anyhow::Error::new(BadInput(e.to_string())),
        other => anyhow::Error::new(RunFailed(other.to_string())),
    })?;
    report(format, &summary);
    verdict(&summary)
}

/// One progress line, like `kubectl rollout status`.
fn line(e: &RolloutEvent) -> String {
    match e {
        RolloutEvent::Started {
            rollout,
            tenants,
            waves,
        } => format!("rollout {rollout}: driving {tenants} tenant(s) in {waves} wave(s)"),
        RolloutEvent::WaveStarted { wave, tenants, .. } => {
            format!("wave {wave}: {}", tenants.join(", "))
        }
        RolloutEvent::Tenant {
            tenant,
            status,
            from_revision,
            to_revision,
            message,
            ..
        } => format!(
            "  tenant {tenant}: {status}{}{}",
            revisions(*from_revision, *to_revision, *status)
                .map(|r| format!(" (revision {r})"))
                .unwrap_or_default(),
            message
                .as_deref()
                .filter(|_| *status != RolloutTenantStatus::Applying)
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        RolloutEvent::Finished {
            rollout,
            status,
            message,
        } => format!(
            "rollout {rollout} {status}{}",
            message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
    }
}

fn revisions(from: Option<i64>, to: Option<i64>, status: RolloutTenantStatus) -> Option<String> {
    match (from, to) {
        (Some(f), Some(t)) if f == t => Some(f.to_string()),
        (Some(f), Some(t)) => Some(format!("{f} -> {t}")),
        (Some(f), None) if status == RolloutTenantStatus::Skipped => Some(f.to_string()),
        (Some(f), None) => Some(format!("{f} -> ?")),
        _ => None,
    }
}

fn report(format: Format, s: &Summary) {
    output::print(format, s, || {
        let rows = s
            .tenants
            .iter()
            .map(|t| {
                vec![
                    t.wave.to_string(),
                    t.tenant.clone(),
                    t.status.to_string(),
                    revisions(t.from_revision, t.to_revision, t.status).unwrap_or("-".into()),
                    t.message.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let counts: Vec<String> = RolloutTenantStatus::ALL
            .iter()
            .map(|st| (st, s.count(*st)))
            .filter(|(_, n)| *n > 0)
            .map(|(st, n)| format!("{n} {st}"))
            .collect();
        format!(
            "{}\nrollout {}: {}{} ({}); created {} by {}",
            output::table(&["wave", "tenant", "outcome", "revision", "reason"], rows),
            s.rollout.id,
            s.rollout.status,
            s.rollout
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default(),
            counts.join(", "),
            s.rollout.created_at,
            s.rollout.created_by.as_deref().unwrap_or("unknown"),
        )
    });
}

/// The command's outcome: 0 when the rollout succeeded, is paused or
/// still running (status of another driver's), 1 otherwise.
fn verdict(s: &Summary) -> anyhow::Result<()> {
    match s.rollout.status {
        RolloutStatus::Succeeded | RolloutStatus::Running => Ok(()),
        RolloutStatus::Paused => {
            eprintln!(
                "rollout {} is paused: continue it with `envctl rollout resume {}`",
                s.rollout.id, s.rollout.id
            );
            Ok(())
        }
        other => Err(RunFailed(format!(
            "rollout {} {other}: see the report above (`envctl rollout status {}`)",
            s.rollout.id, s.rollout.id
        ))
        .into()),
    }
}

async fn store(global: &Global) -> anyhow::Result<StateStore> {
    super::release_cmd::existing_state(global)
        .await?
        .ok_or_else(|| {
            BadInput(format!(
                "the state store {} does not exist: no rollout was recorded there",
                crate::state::redact(&setup::state_location(global))
            ))
            .into()
        })
}

async fn summary_of(state: &StateStore, id: &str) -> anyhow::Result<Summary> {
    Summary::load(state, id)
        .await?
        .ok_or_else(|| BadInput(RolloutError::NotFound(id.to_string()).to_string()).into())
}

async fn status(global: &Global, a: RolloutStatusArgs) -> anyhow::Result<()> {
    let state = store(global).await?;
    let id = match a.id {
        Some(id) => id,
        None => state
            .rollouts()
            .await?
            .into_iter()
            .next()
            .map(|r| r.id)
            .ok_or_else(|| BadInput("no rollout was recorded yet; start one with `envctl rollout --stack S --tenants …`".into()))?,
    };
    let s = summary_of(&state, &id).await?;
    report(a.output, &s);
    Ok(())
}

#[derive(Serialize)]
struct Moved {
    rollout: String,
    status: RolloutStatus,
}

async fn pause(global: &Global, a: RolloutIdArgs) -> anyhow::Result<()> {
    let state = store(global).await?;
    let s = summary_of(&state, &a.id).await?;
    if !state
        .move_rollout(
            &a.id,
            &[RolloutStatus::Running],
            RolloutStatus::Paused,
            Some(&format!("paused by {}", setup::os_user())),
        )
        .await?
    {
        return Err(BadInput(format!(
            "rollout {} is {}, not running: nothing to pause",
            a.id, s.rollout.status
        ))
        .into());
    }
    let m = Moved {
        rollout: a.id.clone(),
        status: RolloutStatus::Paused,
    };
    output::print(a.output, &m, || {
        format!(
            "rollout {} paused: its driver starts no further tenant (those under way finish their step); continue with `envctl rollout resume {}`",
            a.id, a.id
        )
    });
    Ok(())
}

async fn abort(global: &Global, a: RolloutIdArgs) -> anyhow::Result<()> {
    let state = store(global).await?;
    let s = summary_of(&state, &a.id).await?;
    if !state
        .move_rollout(
            &a.id,
            &[RolloutStatus::Running, RolloutStatus::Paused],
            RolloutStatus::Aborted,
            Some(&format!("aborted by {}", setup::os_user())),
        )
        .await?
    {
        return Err(BadInput(format!(
            "rollout {} is {} already: nothing to abort",
            a.id, s.rollout.status
        ))
        .into());
    }
    let m = Moved {
        rollout: a.id.clone(),
        status: RolloutStatus::Aborted,
    };
    output::print(a.output, &m, || {
        format!(
            "rollout {} aborted: no further tenant starts; tenants under way finish their step, pending ones stay as they are",
            a.id
        )
    });
    Ok(())
}

async fn resume(global: &Global, a: RolloutIdArgs) -> anyhow::Result<()> {
    let state = store(global).await?;
    let s = summary_of(&state, &a.id).await?;
    match s.rollout.status {
        RolloutStatus::Running => {}
        RolloutStatus::Paused => {
            state
                .move_rollout(
                    &a.id,
                    &[RolloutStatus::Paused],
                    RolloutStatus::Running,
                    Some(&format!("resumed by {}", setup::os_user())),
                )
                .await?;
        }
        other => {
            return Err(BadInput(format!(
                "rollout {} is {other}: it is over, nothing to resume; start a new one with `envctl rollout`",
                a.id
            ))
            .into());
        }
    }
    // Checked before driving: a stack changed since is refused as bad input.
    rollout::run::load_stack(&a.id, &s.spec).map_err(|e| BadInput(e.to_string()))?;
    eprintln!("rollout {}: resuming", a.id);
    drive(global, state, &a.id, a.output).await
}

pub async fn get_rollouts(global: &Global, a: GetRolloutsArgs) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Line {
        #[serde(flatten)]
        rollout: crate::state::RolloutRow,
        stack: String,
        tenants: usize,
        done: usize,
        failed: usize,
    }
    let Some(state) = super::release_cmd::existing_state(global).await? else {
        output::print(a.output, &Vec::<Line>::new(), || "no rollouts".into());
        return Ok(());
    };
    let mut lines = Vec::new();
    for r in state.rollouts().await? {
        let spec = rollout::spec_of(&r)?;
        let tenants = state.rollout_tenants(&r.id).await?;
        lines.push(Line {
            stack: spec.what(),
            tenants: tenants.len(),
            done: tenants.iter().filter(|t| t.status.is_final()).count(),
            failed: tenants.iter().filter(|t| t.status.is_failure()).count(),
            rollout: r,
        });
    }
    output::print(a.output, &lines, || {
        let rows = lines
            .iter()
            .map(|l| {
                vec![
                    l.rollout.id.clone(),
                    l.rollout.status.to_string(),
                    format!("{}/{}", l.done, l.tenants),
                    l.failed.to_string(),
                    l.stack.clone(),
                    l.rollout.created_at.clone(),
                    l.rollout.created_by.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        output::table(
            &["id", "status", "done", "failed", "stack", "created", "by"],
            rows,
        )
    });
    Ok(())
}
