//! `history tenant`, `diff tenant`, `pin tenant`, `unpin tenant`,
//! `rollback tenant`, and the diff `plan tenant` shows for a tenant that
//! already has a revision.

use std::path::PathBuf;

use serde::Serialize;

use super::args::{DiffArgs, Global, NamedArgs, PinArgs, RollbackArgs, StackArgs};
use super::output;
use super::{BadInput, ChangesPending, setup};
use crate::release::{self, Diff, Snapshot};
use crate::state::{RevisionRow, StateStore};
use crate::tenant::TenantName;

/// The state store when it already exists; `None` for a SQLite file that
/// is not there yet (reading commands never create one).
pub(super) async fn existing_state(global: &Global) -> anyhow::Result<Option<StateStore>> {
    let location = setup::state_location(global);
    let is_url = location.contains("://") && !location.starts_with("sqlite://");
    if !is_url && !std::path::Path::new(location.trim_start_matches("sqlite://")).exists() {
        return Ok(None);
    }
    setup::state(global).await.map(Some)
}

/// The state store holding tenant `name`'s revisions; a missing state file
/// is an unknown tenant (reading commands never create one).
async fn tenant_state(global: &Global, name: &TenantName) -> anyhow::Result<StateStore> {
    match existing_state(global).await? {
        Some(state) => Ok(state),
        None => {
            let location = setup::state_location(global);
            Err(unknown_tenant(name, &crate::state::redact(&location)))
        }
    }
}

/// A revision's stored content, decoded.
fn content(row: &RevisionRow) -> anyhow::Result<Snapshot> {
    release::reapply::content(row).map_err(anyhow::Error::msg)
}

/// One line of `history`.
#[derive(Serialize)]
struct HistoryEntry {
    #[serde(flatten)]
    row: RevisionRow,
    pinned: bool,
    /// Against the revision before it (absent for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Counts>,
}

#[derive(Serialize)]
struct Counts {
    to_add: usize,
    to_change: usize,
    to_replace: usize,
    to_destroy: usize,
}

impl Counts {
    fn of(d: &Diff) -> Counts {
        Counts {
            to_add: d.to_add,
            to_change: d.to_change,
            to_replace: d.to_replace,
            to_destroy: d.to_destroy,
        }
    }

    fn words(&self) -> String {
        if self.to_add + self.to_change + self.to_replace + self.to_destroy == 0 {
            return "no change".into();
        }
        format!(
            "{} added, {} changed, {} replaced, {} destroyed",
            self.to_add, self.to_change, self.to_replace, self.to_destroy
        )
    }
}

fn unknown_tenant(name: &TenantName, location: &str) -> anyhow::Error {
    BadInput(format!(
        "tenant {name} has no recorded revision in the state store {location}: revisions are \
         recorded by each successful `envctl create tenant {name}` (see `envctl get tenants`)"
    ))
    .into()
}

pub async fn history(global: &Global, a: NamedArgs) -> anyhow::Result<()> {
    let name = setup::tenant(&a.name)?;
    let state = tenant_state(global, &name).await?;
    let rows = state.revisions(name.as_str()).await?;
    if rows.is_empty() {
        return Err(unknown_tenant(&name, state.location()));
    }
    let pin = state.pinned(name.as_str()).await?;
    let mut entries = Vec::new();
    let mut before: Option<Snapshot> = None;
    for row in rows {
        let snap = content(&row)?;
        let changes = before
            .as_ref()
            .map(|b| Counts::of(&release::diff(b, &snap)));
        before = Some(snap);
        entries.push(HistoryEntry {
            pinned: pin.as_ref().is_some_and(|p| p.revision == row.revision),
            row,
            changes,
        });
    }
    output::print(a.output, &entries, || {
        let rows = entries
            .iter()
            .map(|e| {
                let r = &e.row;
                vec![
                    format!("{}{}", r.revision, if e.pinned { " (pinned)" } else { "" }),
                    r.applied_at.clone(),
                    r.applied_by.clone().unwrap_or_else(|| "-".into()),
                    r.stack_name.clone(),
                    r.environment.clone(),
                    r.run_id.clone(),
                    e.changes
                        .as_ref()
                        .map_or("first revision".into(), Counts::words),
                ]
            })
            .collect();
        let mut text = output::table(
            &[
                "revision",
                "applied",
                "by",
                "stack",
                "environment",
                "run",
                "changes",
            ],
            rows,
        );
        if let Some(p) = &pin {
            text.push_str(&format!(
                "\ntenant {name} is pinned at revision {} (by {}, {}): create refuses it and rollouts skip it until `envctl unpin tenant {name}`",
                p.revision,
                p.pinned_by.as_deref().unwrap_or("unknown"),
                p.pinned_at
            ));
        }
        text
    });
    Ok(())
}

/// What `diff` prints as data.
#[derive(Serialize)]
pub(super) struct TenantChanges {
    tenant: String,
    revision: i64,
    applied_at: String,
    applied_by: Option<String>,
    stack: String,
    stack_path: String,
    environment: String,
    #[serde(flatten)]
    diff: Diff,
}

impl TenantChanges {
    pub(super) fn render_text(&self) -> String {
        let head = format!(
            "tenant {}: stack {} ({}, environment {}) against revision {} (applied {} by {})",
            self.tenant,
            self.stack,
            self.stack_path,
            self.environment,
            self.revision,
            self.applied_at,
            self.applied_by.as_deref().unwrap_or("unknown")
        );
        if self.diff.is_empty() {
            format!(
                "{head}\nNo changes: the tenant runs what this stack and catalog say.\n{}",
                self.diff.summary()
            )
        } else {
            format!("{head}\n\n{}", self.diff.render_text())
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.diff.is_empty()
    }
}

/// The diff of `stack` (loaded) against the tenant's newest revision.
pub(super) fn changes(
    tenant: &TenantName,
    stack: &crate::stack::Stack,
    environment: &str,
    last: &RevisionRow,
) -> anyhow::Result<TenantChanges> {
    let new = Snapshot::of(stack, environment).map_err(BadInput)?;
    let old = content(last)?;
    Ok(TenantChanges {
        tenant: tenant.to_string(),
        revision: last.revision,
        applied_at: last.applied_at.clone(),
        applied_by: last.applied_by.clone(),
        stack: stack.name.clone(),
        stack_path: stack.path.display().to_string(),
        environment: environment.to_string(),
        diff: release::diff(&old, &new),
    })
}

/// For `plan`: the diff against the tenant's newest revision, when the
/// store exists and the tenant has one.
pub(super) async fn changes_for_plan(
    global: &Global,
    tenant: &TenantName,
    stack: &crate::stack::Stack,
    environment: &str,
) -> anyhow::Result<Option<TenantChanges>> {
    let Some(state) = existing_state(global).await? else {
        return Ok(None);
    };
    match state.revision(tenant.as_str(), None).await? {
        Some(last) => changes(tenant, stack, environment, &last).map(Some),
        None => Ok(None),
    }
}

pub async fn diff(global: &Global, a: DiffArgs) -> anyhow::Result<()> {
    let name = setup::tenant(&a.name)?;
    let state = tenant_state(global, &name).await?;
    let last = state
        .revision(name.as_str(), None)
        .await?
        .ok_or_else(|| unknown_tenant(&name, state.location()))?;
    if a.live {
        return live(global, &state, &last, a.output).await;
    }
    let stack_path = a
        .stack
        .clone()
        .unwrap_or_else(|| PathBuf::from(&last.stack_path));
    let (tenant, stack, environment) = super::tenant_cmd::load(
        global,
        &StackArgs {
            name: a.name.clone(),
            stack: stack_path,
            environment: a.environment.clone(),
        },
    )?;
    let changes = changes(&tenant, &stack, &environment, &last)?;
    output::print(a.output, &changes, || changes.render_text());
    if changes.is_empty() {
        Ok(())
    } else {
        Err(ChangesPending.into())
    }
}

/// `diff tenant NAME --live`: the drift of the tenant's newest revision
/// against what runs.
async fn live(
    global: &Global,
    state: &StateStore,
    last: &RevisionRow,
    format: output::Format,
) -> anyhow::Result<()> {
    let backends = setup::backends(global).await?;
    let report = release::drift::check(&backends, state, last).await?;
    output::print(format, &report, || {
        let head = format!(
            "tenant {}: what runs against revision {} (applied {} by {})",
            last.tenant,
            last.revision,
            last.applied_at,
            last.applied_by.as_deref().unwrap_or("unknown")
        );
        let body = if report.drifted {
            report.render_text()
        } else {
            format!(
                "No drift: what runs is what envctl applied.\n{}",
                report.render_text()
            )
        };
        format!("{head}\n\n{body}\n({})", release::drift::COMPARED)
    });
    if report.drifted {
        Err(ChangesPending.into())
    } else {
        Ok(())
    }
}

#[derive(Serialize)]
struct Pinned {
    tenant: String,
    revision: i64,
    latest: i64,
}

pub async fn pin(global: &Global, a: PinArgs) -> anyhow::Result<()> {
    let name = setup::tenant(&a.name)?;
    let state = setup::state(global).await?;
    let latest = state
        .revision(name.as_str(), None)
        .await?
        .ok_or_else(|| unknown_tenant(&name, state.location()))?;
    let revision = match a.revision {
        None => latest.revision,
        Some(n) => {
            state
                .revision(name.as_str(), Some(n))
                .await?
                .ok_or_else(|| {
                    BadInput(format!(
                        "--revision {n}: tenant {name} has revisions 1 to {}; see `envctl history tenant {name}`",
                        latest.revision
                    ))
                })?
                .revision
        }
    };
    state
        .pin(name.as_str(), revision, Some(&setup::os_user()))
        .await?;
    let p = Pinned {
        tenant: name.to_string(),
        revision,
        latest: latest.revision,
    };
    output::print(a.output, &p, || {
        let mut s = format!(
            "tenant {name} pinned at revision {revision}: create refuses it and rollouts skip it until `envctl unpin tenant {name}`"
        );
        if revision != latest.revision {
            s.push_str(&format!(
                "\nnote: it runs revision {}, not {revision}; pinning does not change what runs",
                latest.revision
            ));
        }
        s
    });
    Ok(())
}

pub async fn unpin(global: &Global, a: NamedArgs) -> anyhow::Result<()> {
    let name = setup::tenant(&a.name)?;
    let state = setup::state(global).await?;
    let was = state.pinned(name.as_str()).await?;
    state.unpin(name.as_str()).await?;
    #[derive(Serialize)]
    struct Unpinned {
        tenant: String,
        was_pinned_at: Option<i64>,
    }
    let u = Unpinned {
        tenant: name.to_string(),
        was_pinned_at: was.as_ref().map(|p| p.revision),
    };
    output::print(a.output, &u, || match &was {
        Some(p) => format!(
            "tenant {name} unpinned (was pinned at revision {})",
            p.revision
        ),
        None => format!("tenant {name} was not pinned; nothing changed"),
    });
    Ok(())
}

pub async fn rollback(global: &Global, a: RollbackArgs) -> anyhow::Result<()> {
    let name = setup::tenant(&a.name)?;
    let state = setup::state(global).await?;
    let latest = state
        .revision(name.as_str(), None)
        .await?
        .ok_or_else(|| unknown_tenant(&name, state.location()))?;
    let to = a.to.unwrap_or(latest.revision - 1);
    if to < 1 {
        return Err(BadInput(format!(
            "tenant {name} has only revision {}: there is no earlier one to roll back to",
            latest.revision
        ))
        .into());
    }
    let row = state
        .revision(name.as_str(), Some(to))
        .await?
        .ok_or_else(|| {
            BadInput(format!(
                "--to {to}: tenant {name} has revisions 1 to {}; see `envctl history tenant {name}`",
                latest.revision
            ))
        })?;
    if let Some(pin) = state.pinned(name.as_str()).await? {
        return Err(BadInput(release::pin::refusal(name.as_str(), pin.revision)).into());
    }
    let restored = release::reapply::restore(&row, &setup::builtins(global)).map_err(BadInput)?;
    let preflight = match a.skip_preflight {
        true => None,
        false => Some(super::tenant_cmd::run_preflight(global, &name, &restored.stack).await),
    };
    if let Some(why) = preflight.as_ref().and_then(|p| p.refusal()) {
        return Err(BadInput(why).into());
    }
    eprintln!(
        "tenant {name}: re-applying revision {to} (it runs revision {})",
        latest.revision
    );
    let (engine, renderer) = setup::engine(
        global,
        state.clone(),
        Default::default(),
        crate::engine::limits::DEFAULT_PARALLELISM,
    )
    .await?;
    let req = release::reapply::request(
        &state,
        &name,
        restored.stack.clone(),
        restored.environment.clone(),
    )
    .await?;
    let result = engine.create(&req).await;
    super::tenant_cmd::conclude(engine, renderer, result, a.output).await?;
    if let Some(r) = state.revision(name.as_str(), None).await?
        && r.revision != latest.revision
    {
        eprintln!(
            "tenant {name}: revision {} recorded, the content of revision {to} (see `envctl history tenant {name}`)",
            r.revision
        );
    }
    drop(restored);
    Ok(())
}
