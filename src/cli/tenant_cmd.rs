//! `create`, `plan`, `destroy`, `get tenants`, `get costs`, `describe tenant`,
//! `report tenant`. (`history`, `diff`, `pin` are `release_cmd`'s.)

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::args::{
    CreateArgs, DestroyArgs, GetCostsArgs, GetTenantsArgs, Global, NamedArgs, PlanArgs, ReportArgs,
    StackArgs,
};
use super::output::{self, Format, duration};
use super::{BadInput, RunFailed, setup};
use crate::budget::{ExpectedDurations, Report, Verdict, svg};
use crate::engine::{CreateRequest, DestroyRequest};
use crate::graph::Graph;
use crate::journal;
use crate::lifecycle::TenantStatus;
use crate::preflight::{self, PreflightClients, PreflightCx, PreflightReport};
use crate::stack::{self, Stack};
use crate::tenant::TenantName;

/// Loads and validates the stack and the tenant name: every bad input is
/// found here, before anything is created.
pub(super) fn load(
    global: &Global,
    args: &StackArgs,
) -> anyhow::Result<(TenantName, Stack, String)> {
    let tenant = setup::tenant(&args.name)?;
    let stack = stack::load_file_in(&args.stack, &setup::builtins(global))
        .map_err(|e| BadInput(e.to_string()))?;
    let environment = args
        .environment
        .clone()
        .unwrap_or_else(|| stack.environment.clone());
    crate::envapi::check_environment(&environment)
        .map_err(|e| BadInput(format!("--environment: {e}")))?;
    Ok((tenant, stack, environment))
}

#[derive(Serialize)]
struct Plan {
    tenant: String,
    stack: String,
    environment: String,
    budget_ms: u64,
    waves: Vec<Vec<PlanNode>>,
    critical_path: Vec<String>,
    eta_ms: u64,
    within_budget: bool,
    /// What preflight found (absent with --skip-preflight).
    #[serde(skip_serializing_if = "Option::is_none")]
    preflight: Option<PreflightReport>,
    /// For a tenant with a recorded revision: what create would change.
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<super::release_cmd::TenantChanges>,
}

#[derive(Serialize)]
struct PlanNode {
    id: String,
    kind: String,
    expected_ms: u64,
}

async fn make_plan(
    global: &Global,
    tenant: &TenantName,
    stack: &Stack,
    environment: &str,
    budget: Duration,
    preflight: Option<PreflightReport>,
) -> anyhow::Result<Plan> {
    let graph =
        Graph::build(stack).map_err(|e| BadInput(format!("{}: {e}", stack.path.display())))?;
    // Learned durations when a state store is already there; plan never
    // creates one.
    // A pooled node whose pool has a member for it weighs its claim.
    let (learned, hits) = match &global.state {
        Some(loc) if std::path::Path::new(loc.trim_start_matches("sqlite://")).exists() => {
            let s = setup::state(global).await?;
            let learned = s
                .recent_durations(crate::budget::expected::LEARN_WINDOW)
                .await?
                .into_iter()
                .filter_map(|(k, v)| crate::budget::expected::learn(&v).map(|d| (k, d)))
                .collect();
            let hits = crate::pool::claim::expected_hits(&s, stack, tenant.as_str()).await?;
            (learned, hits)
        }
        _ => Default::default(),
    };
    let expected = ExpectedDurations::new(&stack.expected, &learned);
    let weight = |id: &str| expected.node_weight(graph.kind_of(id), hits.contains(id));
    let of = |id: &str| weight(id).total;
    let (critical_path, eta) = graph.critical_path_split(&weight);
    Ok(Plan {
        tenant: tenant.to_string(),
        stack: stack.name.clone(),
        environment: environment.into(),
        budget_ms: budget.as_millis() as u64,
        waves: graph
            .waves()
            .into_iter()
            .map(|w| {
                w.into_iter()
                    .map(|id| PlanNode {
                        kind: graph.kind_of(&id).to_string(),
                        expected_ms: of(&id).as_millis() as u64,
                        id,
                    })
                    .collect()
            })
            .collect(),
        critical_path,
        eta_ms: eta.as_millis() as u64,
        within_budget: eta <= budget,
        preflight,
        changes: None,
    })
}

/// Runs the preflight checks of `stack` for `tenant`: reads only.
pub(super) async fn run_preflight(
    global: &Global,
    tenant: &TenantName,
    stack: &Stack,
) -> PreflightReport {
    let backends = setup::backends(global).await.map_err(|e| format!("{e:#}"));
    let clients = PreflightClients::from_env().await;
    let cx = PreflightCx::new(tenant.clone(), stack.clone(), backends, clients);
    preflight::run(&cx).await
}

/// The plan's preflight failures as bad input (exit 2), after the plan was
/// printed.
fn refuse(plan: &Plan) -> anyhow::Result<()> {
    match plan.preflight.as_ref().and_then(PreflightReport::refusal) {
        Some(why) => Err(BadInput(why).into()),
        None => Ok(()),
    }
}

fn print_plan(format: Format, plan: &Plan) {
    output::print(format, plan, || {
        let rows = plan
            .waves
            .iter()
            .enumerate()
            .flat_map(|(i, w)| {
                w.iter().map(move |n| {
                    vec![
                        i.to_string(),
                        n.id.clone(),
                        n.kind.clone(),
                        duration(Duration::from_millis(n.expected_ms)),
                        if plan.critical_path.contains(&n.id) {
                            "*".into()
                        } else {
                            String::new()
                        },
                    ]
                })
            })
            .collect();
        format!(
            "{}\nplan for tenant {} (stack {}, environment {}): {} nodes in {} waves\ncritical path: {}\nETA {} against a budget of {}: {}{}",
            output::table(&["wave", "id", "kind", "expected", "critical"], rows),
            plan.tenant,
            plan.stack,
            plan.environment,
            plan.waves.iter().map(Vec::len).sum::<usize>(),
            plan.waves.len(),
            plan.critical_path.join(" -> "),
            duration(Duration::from_millis(plan.eta_ms)),
            duration(Duration::from_millis(plan.budget_ms)),
            if plan.within_budget {
                "fits"
            } else {
                "OVER BUDGET"
            },
            plan.preflight
                .as_ref()
                .map(|p| format!("\n{}", p.render_text()))
                .unwrap_or_default()
        ) + &plan
            .changes
            .as_ref()
            .map(|c| format!("\n\n{}", c.render_text()))
            .unwrap_or_default()
    });
}

pub async fn plan(global: &Global, a: PlanArgs) -> anyhow::Result<()> {
    let (tenant, stack, environment) = load(global, &a.stack)?;
    let preflight = match a.skip_preflight {
        true => None,
        false => Some(run_preflight(global, &tenant, &stack).await),
    };
    let mut plan = make_plan(
        global,
        &tenant,
        &stack,
        &environment,
        stack.budget,
        preflight,
    )
    .await?;
    plan.changes =
        super::release_cmd::changes_for_plan(global, &tenant, &stack, &environment).await?;
    print_plan(a.output, &plan);
    refuse(&plan)
}

pub async fn create(global: &Global, a: CreateArgs) -> anyhow::Result<()> {
    let (tenant, stack, environment) = load(global, &a.stack)?;
    if let Some(note) = &a.note {
        crate::tenant::check_note(note).map_err(|e| BadInput(format!("--{e}")))?;
    }
    let budget = match &a.budget {
        Some(b) => setup::duration("--budget", b)?,
        None => stack.budget,
    };
    let ttl = match &a.ttl {
        Some(t) => Some(setup::duration("--ttl", t)?),
        None => stack.ttl,
    };
    let limits = setup::limits(&a.limits)?;
    // Before anything is created (the state store included): a failure is
    // bad input, exit 2.
    let preflight = match a.skip_preflight {
        true => None,
        false => Some(run_preflight(global, &tenant, &stack).await),
    };
    if a.dry_run {
        let plan = make_plan(global, &tenant, &stack, &environment, budget, preflight).await?;
        print_plan(a.output, &plan);
        return refuse(&plan);
    }
    if let Some(report) = &preflight {
        if let Some(why) = report.refusal() {
            return Err(BadInput(why).into());
        }
        eprintln!(
            "preflight: account {}, region {}: {} checks passed",
            report.account.as_deref().unwrap_or("unknown"),
            report.region.as_deref().unwrap_or("none"),
            report.checks.len()
        );
    }
    let expires_at = ttl
        .map(|t| {
            jiff::SignedDuration::try_from(t)
                .ok()
                .and_then(|d| jiff::Timestamp::now().checked_add(d).ok())
                .ok_or_else(|| {
                    BadInput(format!(
                        "--ttl: {} is too long",
                        humantime::format_duration(t)
                    ))
                })
        })
        .transpose()?;
    let state = setup::state(global).await?;
    let before = state
        .revision(tenant.as_str(), None)
        .await?
        .map(|r| r.revision);
    let (engine, renderer) = setup::engine(global, state.clone(), limits, a.parallelism).await?;
    let name = tenant.clone();
    let pools: Vec<(String, u32)> = crate::pool::fill::pooled(&stack, None)
        .iter()
        .map(|r| {
            let size = r.pool.as_ref().map_or(0, |p| p.size);
            (crate::pool::key(&stack.name, &r.id), size)
        })
        .collect();
    let stack_path = stack.path.clone();
    let req = CreateRequest {
        tenant,
        stack,
        environment,
        budget,
        expires_at,
        rollback_on_failure: a.rollback_on_failure,
        owner: Some(a.owner.unwrap_or_else(setup::os_user)),
        note: a.note,
        run_id: None,
    };
    let result = engine.create(&req).await;
    let concluded = conclude(engine, renderer, result, a.output).await;
    // A claim leaves its pool one short: say how to refill it (`envctl
    // serve` refills by itself).
    for (pool, size) in &pools {
        let available = state
            .pool_members(Some(pool))
            .await?
            .iter()
            .filter(|m| m.status == crate::state::MemberStatus::Available)
            .count();
        if available < *size as usize {
            eprintln!(
                "pool {pool}: {available} of {size} members available; refill it with `envctl \
                 pool fill --stack {}`",
                stack_path.display()
            );
        }
    }
    concluded?;
    if let Some(r) = state.revision(name.as_str(), None).await?
        && Some(r.revision) != before
    {
        eprintln!(
            "tenant {name}: revision {} recorded (see `envctl history tenant {name}`)",
            r.revision
        );
    }
    Ok(())
}

/// Waits for the progress output to drain, prints the report and turns the
/// verdict into the command's outcome.
pub(super) async fn conclude(
    engine: crate::engine::Engine,
    renderer: tokio::task::JoinHandle<()>,
    result: Result<Report, crate::engine::EngineError>,
    format: Format,
) -> anyhow::Result<()> {
    drop(engine);
    let _ = renderer.await;
    let report = result.map_err(|e| match e {
        crate::engine::EngineError::Lock(l) => anyhow::Error::new(RunFailed(l.to_string())),
        other => anyhow::Error::new(other),
    })?;
    print_report(format, &report);
    finish(&report)
}

fn finish(report: &Report) -> anyhow::Result<()> {
    match report.verdict {
        Verdict::WithinBudget | Verdict::OverBudget => Ok(()),
        Verdict::Cancelled => Err(RunFailed(format!(
            "{} of tenant {} was cancelled; run the same command again to resume",
            report.operation, report.tenant
        ))
        .into()),
        Verdict::Failed => Err(RunFailed(format!(
            "{} of tenant {} failed ({} errors above); fix the cause and run it again to resume",
            report.operation,
            report.tenant,
            report.errors.len()
        ))
        .into()),
    }
}

fn print_report(format: Format, report: &Report) {
    output::print(format, report, || report.render_text());
}

pub async fn destroy(global: &Global, a: DestroyArgs) -> anyhow::Result<()> {
    let tenant = setup::tenant(&a.name)?;
    if let Some(env) = &a.environment {
        crate::envapi::EnvKey::new(
            env,
            Some(tenant.as_str()),
            crate::envapi::Level::Tenant,
            "X",
        )
        .map_err(|e| BadInput(format!("--environment: {e}")))?;
    }
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            return Err(BadInput(format!(
                "destroy tenant {tenant} removes every resource and value of it; pass --yes to confirm"
            ))
            .into());
        }
        eprint!(
            "Destroy tenant {tenant} and everything tagged with it? Type the tenant name to confirm: "
        );
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim() != tenant.as_str() {
            return Err(BadInput("not confirmed; nothing was touched".into()).into());
        }
    }
    let state = setup::state(global).await?;
    if let Some(t) = state.tenant(tenant.as_str()).await?
        && t.protected
    {
        return Err(BadInput(format!("tenant {tenant} is protected; unprotect it first")).into());
    }
    let (engine, renderer) = setup::engine(
        global,
        state,
        Default::default(),
        crate::engine::limits::DEFAULT_PARALLELISM,
    )
    .await?;
    let result = engine
        .destroy(&DestroyRequest {
            tenant,
            environment: a.environment.clone(),
            run_id: None,
        })
        .await;
    conclude(engine, renderer, result, a.output).await
}

/// A tenant as `get tenants` lists it: its row, cost and URLs.
#[derive(Serialize)]
struct Listed {
    #[serde(flatten)]
    tenant: crate::state::TenantRow,
    cost: Option<crate::cost::CostView>,
    urls: Vec<crate::cost::TenantUrl>,
    /// The revision the tenant is pinned at, if it is.
    pinned_revision: Option<i64>,
}

/// The price table of `--prices`/ENVCTL_PRICES (bad input when unusable).
fn price_table(global: &Global) -> anyhow::Result<crate::cost::PriceTable> {
    crate::cost::prices::for_cli(global.prices.as_ref())
        .map_err(|e| BadInput(format!("--prices: {e}")).into())
}

pub async fn get_tenants(global: &Global, a: GetTenantsArgs) -> anyhow::Result<()> {
    let table = price_table(global)?;
    let state = setup::state(global).await?;
    let tenants: Vec<_> = state
        .tenants()
        .await?
        .into_iter()
        .filter(|t| a.all || t.status != TenantStatus::Destroyed)
        .collect();
    let book = crate::cost::CostBook::of_stack_files(table, &tenants, &setup::builtins(global));
    book.load(&state, None).await?;
    let pins: std::collections::BTreeMap<String, i64> = state
        .pins()
        .await?
        .into_iter()
        .map(|p| (p.tenant, p.revision))
        .collect();
    let listed: Vec<Listed> = tenants
        .into_iter()
        .map(|t| {
            let (cost, urls) = book.tenant(&t);
            Listed {
                pinned_revision: pins.get(&t.name).copied(),
                tenant: t,
                cost,
                urls,
            }
        })
        .collect();
    output::print(a.output, &listed, || {
        let money = |c: &Option<crate::cost::CostView>, f: fn(&crate::cost::CostView) -> f64| {
            c.as_ref()
                .map_or("-".into(), |c| crate::cost::view::money(f(c), &c.currency))
        };
        output::table(
            &[
                "name",
                "status",
                "environment",
                "stack",
                "created",
                "expires",
                "pinned",
                "cost/month",
                "accrued",
            ],
            listed
                .iter()
                .map(|l| {
                    let t = &l.tenant;
                    vec![
                        t.name.clone(),
                        t.status.to_string(),
                        t.environment.clone(),
                        t.stack_name.clone(),
                        t.created_at.clone(),
                        t.expires_at.clone().unwrap_or_else(|| "never".into()),
                        l.pinned_revision.map_or("-".into(), |r| format!("rev {r}")),
                        money(&l.cost, |c| c.monthly),
                        money(&l.cost, |c| c.accrued),
                    ]
                })
                .collect(),
        )
    });
    Ok(())
}

/// Totals per owner, from the same cost book as `get tenants` (every
/// tenant, destroyed ones included: they count in what was accrued).
pub async fn get_costs(global: &Global, a: GetCostsArgs) -> anyhow::Result<()> {
    let table = price_table(global)?;
    let state = setup::state(global).await?;
    let tenants = state.tenants().await?;
    let book = crate::cost::CostBook::of_stack_files(table, &tenants, &setup::builtins(global));
    book.load(&state, None).await?;
    let owners = book.owners(&tenants);
    output::print(a.output, &owners, || {
        let money = crate::cost::view::money;
        output::table(
            &["owner", "tenants", "hourly", "monthly", "accrued"],
            owners
                .iter()
                .map(|o| {
                    vec![
                        o.owner.clone(),
                        o.tenants.to_string(),
                        money(o.hourly, &o.currency),
                        money(o.monthly, &o.currency),
                        money(o.accrued, &o.currency),
                    ]
                })
                .collect(),
        )
    });
    Ok(())
}

#[derive(Serialize)]
struct Description {
    tenant: crate::state::TenantRow,
    nodes: Vec<DescribedNode>,
    runs: Vec<crate::state::RunRow>,
    cost: crate::cost::CostView,
    cost_breakdown: Vec<crate::cost::Line>,
    urls: Vec<crate::cost::TenantUrl>,
}

#[derive(Serialize)]
struct DescribedNode {
    id: String,
    kind: String,
    state: journal::NodeState,
    outputs: std::collections::BTreeMap<String, String>,
    last_error: Option<String>,
}

pub async fn describe(global: &Global, a: NamedArgs) -> anyhow::Result<()> {
    let name = setup::tenant(&a.name)?;
    let table = price_table(global)?;
    let state = setup::state(global).await?;
    let tenant = state.tenant(name.as_str()).await?.ok_or_else(|| {
        BadInput(format!(
            "tenant {name} is not in the state store {}; see `envctl get tenants`",
            state.location()
        ))
    })?;
    let records = journal::replay(&state.events(name.as_str()).await?).context("intent log")?;
    let book = crate::cost::CostBook::of_stack_files(
        table,
        std::slice::from_ref(&tenant),
        &setup::builtins(global),
    );
    let cost = book.detail(&state, &tenant).await?;
    let d = Description {
        cost: cost.cost,
        cost_breakdown: cost.estimate.lines,
        urls: cost.urls,
        tenant,
        nodes: records
            .into_iter()
            .map(|(id, r)| DescribedNode {
                id,
                kind: r.kind,
                state: r.state,
                outputs: r.outputs,
                last_error: r.last_error,
            })
            .collect(),
        runs: state.runs(name.as_str()).await?,
    };
    output::print(a.output, &d, || {
        let t = &d.tenant;
        let head = format!(
            "tenant:      {}\nstatus:      {}\nenvironment: {}\nstack:       {} ({})\ncreated:     {}\nexpires:     {}\nprotected:   {}\nruns:        {}",
            t.name,
            t.status,
            t.environment,
            t.stack_name,
            t.stack_path,
            t.created_at,
            t.expires_at.as_deref().unwrap_or("never"),
            t.protected,
            d.runs.len()
        );
        let rows = d
            .nodes
            .iter()
            .map(|n| {
                let outs = n
                    .outputs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                vec![
                    n.id.clone(),
                    n.kind.clone(),
                    format!("{:?}", n.state).to_lowercase(),
                    outs,
                    n.last_error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let c = &d.cost;
        let m = |v: f64| crate::cost::view::money(v, &c.currency);
        let urls: Vec<String> = d
            .urls
            .iter()
            .map(|u| format!("{}={}", u.name, u.url))
            .collect();
        let head = format!(
            "{head}\nurls:        {}\ncost:        {}/hour, {}/month now; {}/month running, {}/month hibernated\naccrued:     {} since creation (prices as of {})",
            if urls.is_empty() {
                "none yet".into()
            } else {
                urls.join(" ")
            },
            m(c.hourly),
            m(c.monthly),
            m(c.running_monthly),
            m(c.hibernated_monthly),
            m(c.accrued),
            c.prices_as_of,
        );
        let hpm = book.table.hours_per_month;
        let costs = d
            .cost_breakdown
            .iter()
            .map(|l| {
                vec![
                    l.id.clone(),
                    l.kind.clone(),
                    l.basis.clone(),
                    m(l.running_hourly * hpm),
                    m(l.hibernated_hourly * hpm),
                    l.unpriced.clone().unwrap_or_default(),
                ]
            })
            .collect();
        format!(
            "{head}\n{}\n\n{}",
            output::table(&["node", "kind", "state", "outputs", "last error"], rows),
            output::table(
                &[
                    "node",
                    "kind",
                    "priced as",
                    "running/month",
                    "hibernated/month",
                    "unpriced"
                ],
                costs
            )
        )
    });
    Ok(())
}

pub async fn report(global: &Global, a: ReportArgs) -> anyhow::Result<()> {
    let name = setup::tenant(&a.name)?;
    let state = setup::state(global).await?;
    let run = state
        .last_report(name.as_str(), Some(a.operation))
        .await?
        .ok_or_else(|| {
            BadInput(format!(
                "tenant {name} has no finished {} run in {}",
                a.operation,
                state.location()
            ))
        })?;
    let report: Report = serde_json::from_str(run.report_json.as_deref().unwrap_or("{}"))
        .context("stored report")?;
    if let Some(path) = &a.svg {
        std::fs::write(path, svg::render(&report))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("timeline written to {}", path.display());
    }
    print_report(a.output, &report);
    Ok(())
}
