//! `extend`, `protect`, `unprotect` and `reap`: a tenant's time-to-live and
//! the reaper, from the command line.

use serde::Serialize;

use super::args::{ExtendArgs, Global, NamedArgs, ReapArgs};
use super::output;
use super::{BadInput, RunFailed, setup};
use crate::lifecycle::TenantStatus;
use crate::reap::{Action, ReapError, ReapOptions, ReapReport};
use crate::state::{StateStore, TenantRow};
use crate::ttl::TtlError;

/// The tenant's row, or bad input naming the state store.
async fn known_tenant(state: &StateStore, name: &str) -> anyhow::Result<TenantRow> {
    state.tenant(name).await?.ok_or_else(|| {
        BadInput(format!(
            "tenant {name} is not in the state store {}; see `envctl get tenants`",
            state.location()
        ))
        .into()
    })
}

#[derive(Serialize)]
struct Extended {
    tenant: String,
    previous_expires_at: Option<String>,
    expires_at: String,
    /// Resources and namespaces whose expiry tag or annotation was rewritten.
    restamped: usize,
    /// What could not be re-stamped (they keep the old expiry tag).
    restamp_errors: Vec<String>,
}

pub async fn extend(global: &Global, a: ExtendArgs) -> anyhow::Result<()> {
    let tenant = setup::tenant(&a.name)?;
    let by = setup::duration("--by", &a.by)?;
    let max_ttl = setup::duration("--max-ttl", &a.max_ttl)?;
    let state = setup::state(global).await?;
    let row = known_tenant(&state, tenant.as_str()).await?;
    if row.status == TenantStatus::Destroyed {
        return Err(BadInput(format!(
            "tenant {tenant} was destroyed; create it again with `envctl create tenant {tenant} --ttl ...`"
        ))
        .into());
    }
    let current = row
        .expires_at
        .as_deref()
        .map(str::parse::<jiff::Timestamp>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("tenant {tenant}: stored expiry is not a timestamp: {e}"))?;
    let wanted = crate::ttl::extend(
        tenant.as_str(),
        current,
        by,
        jiff::Timestamp::now(),
        max_ttl,
    )
    .map_err(|e| {
        BadInput(match e {
            TtlError::TooLong { .. } => format!(
                "--by {}: {e} (or pass a longer --max-ttl than {})",
                a.by, a.max_ttl
            ),
            _ => format!("--by {}: {e}", a.by),
        })
    })?;
    if !state
        .set_expiry(tenant.as_str(), Some(&wanted.to_string()))
        .await?
    {
        return Err(BadInput(format!("tenant {tenant} left the state store meanwhile")).into());
    }
    let backends = setup::backends(global).await?;
    let (restamped, restamp_errors) =
        match crate::reap::stamp_expiry(&backends, &tenant, wanted).await {
            Ok(n) => (n, Vec::new()),
            Err(ReapError::Restamp { stamped, failed }) => (stamped, failed),
            Err(e) => (0, vec![e.to_string()]),
        };
    for e in &restamp_errors {
        eprintln!("warning: expiry tag not re-stamped: {e}");
    }
    let result = Extended {
        tenant: tenant.to_string(),
        previous_expires_at: row.expires_at,
        expires_at: wanted.to_string(),
        restamped,
        restamp_errors,
    };
    output::print(a.output, &result, || {
        format!(
            "tenant {} now expires at {} (was {}); envctl:expires-at re-stamped on {} resources{}",
            result.tenant,
            result.expires_at,
            result.previous_expires_at.as_deref().unwrap_or("never"),
            result.restamped,
            if result.restamp_errors.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} could not be; the state, which the reaper goes by, has the new expiry)",
                    result.restamp_errors.len()
                )
            }
        )
    });
    Ok(())
}

#[derive(Serialize)]
struct Protection {
    tenant: String,
    protected: bool,
}

pub async fn protect(global: &Global, a: NamedArgs, protected: bool) -> anyhow::Result<()> {
    let tenant = setup::tenant(&a.name)?;
    let state = setup::state(global).await?;
    known_tenant(&state, tenant.as_str()).await?;
    if !state.set_protected(tenant.as_str(), protected).await? {
        return Err(BadInput(format!("tenant {tenant} left the state store meanwhile")).into());
    }
    let result = Protection {
        tenant: tenant.to_string(),
        protected,
    };
    output::print(a.output, &result, || {
        if protected {
            format!("tenant {tenant} is protected: the reaper never destroys it")
        } else {
            format!(
                "tenant {tenant} is no longer protected: the reaper destroys it once it expires"
            )
        }
    });
    Ok(())
}

pub async fn reap(global: &Global, a: ReapArgs) -> anyhow::Result<()> {
    let state = setup::state(global).await?;
    let (engine, renderer) = setup::engine(
        global,
        state,
        Default::default(),
        crate::engine::limits::DEFAULT_PARALLELISM,
    )
    .await?;
    let opts = ReapOptions {
        dry_run: a.dry_run,
        orphans: a.orphans,
    };
    let result = crate::reap::reap(&engine, &opts).await;
    drop(engine);
    let _ = renderer.await;
    let report = result?;
    output::print(a.output, &report, || render(&report));
    if report.ok() {
        Ok(())
    } else {
        Err(RunFailed(format!(
            "reap: {} refused, {} failed (reasons above); nothing was touched for a refused tenant",
            report.refused, report.failed
        ))
        .into())
    }
}

fn action(a: Action) -> &'static str {
    match a {
        Action::Destroyed => "destroyed",
        Action::WouldDestroy => "would destroy",
        Action::Refused => "REFUSED",
        Action::Failed => "FAILED",
        Action::Busy => "busy",
        Action::ProtectedSkipped => "protected",
        Action::Skipped => "skipped",
        Action::Reported => "reported",
    }
}

fn render(r: &ReapReport) -> String {
    let mut out = Vec::new();
    if r.tenants.is_empty() {
        out.push("no expired tenant".to_string());
    } else {
        out.push(output::table(
            &["tenant", "expired at", "action", "why"],
            r.tenants
                .iter()
                .map(|t| {
                    vec![
                        t.tenant.clone(),
                        t.expires_at.clone().unwrap_or_default(),
                        action(t.action).into(),
                        t.reasons.join("\n"),
                    ]
                })
                .collect(),
        ));
    }
    if !r.orphans.is_empty() {
        out.push(format!(
            "\norphans (managed resources of tenants the state does not know){}:",
            if r.destroy_orphans {
                ""
            } else {
                "; --orphans destroys them"
            }
        ));
        out.push(output::table(
            &["tenant", "resources", "action", "why"],
            r.orphans
                .iter()
                .map(|o| {
                    vec![
                        o.tenant.clone(),
                        o.resources.join("\n"),
                        action(o.action).into(),
                        o.reasons.join("\n"),
                    ]
                })
                .collect(),
        ));
    }
    if !r.lookalikes.is_empty() {
        out.push("\nlookalikes (not managed by envctl; left untouched):".into());
        out.push(output::table(
            &["tenant", "resource", "why"],
            r.lookalikes
                .iter()
                .map(|l| vec![l.tenant.clone(), l.resource.clone(), l.why.clone()])
                .collect(),
        ));
    }
    for w in &r.warnings {
        out.push(format!("warning: {w}"));
    }
    out.push(format!(
        "\n{}{} destroyed, {} would be destroyed, {} refused, {} failed, {} busy, {} protected; {} orphans found, {} destroyed",
        if r.dry_run { "dry run: " } else { "" },
        r.destroyed,
        r.would_destroy,
        r.refused,
        r.failed,
        r.busy,
        r.protected_skipped,
        r.orphans_found,
        r.orphans_destroyed
    ));
    out.join("\n")
}
