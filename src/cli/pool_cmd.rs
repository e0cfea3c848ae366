//! `envctl pool fill|status|drain` and `envctl get pools`: load the stack,
//! hand its pools to `crate::pool`, print what came back.

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::args::{Global, PoolArgs};
use super::output::{self, Format};
use super::{BadInput, RunFailed, setup};
use crate::engine::RetryPolicy;
use crate::pool::fill::{PoolOutcome, Pooler, pooled};
use crate::pool::status::{PoolLevel, levels};
use crate::stack::{self, Stack};

/// The stack, refused (exit 2) when it has no pool (of `--resource`).
fn load(global: &Global, a: &PoolArgs) -> anyhow::Result<Stack> {
    let stack = stack::load_file_in(&a.stack, &setup::builtins(global))
        .map_err(|e| BadInput(e.to_string()))?;
    if pooled(&stack, a.resource.as_deref()).is_empty() {
        let what = match &a.resource {
            Some(r) => format!("has no pooled resource '{r}'"),
            None => "has no pooled resource".into(),
        };
        return Err(BadInput(format!(
            "{}: the stack {what}; add `pool: {{size: N, max_age: 7d}}` to a resource of a kind \
             that can be pooled ({}), or pick another stack with --stack",
            a.stack.display(),
            crate::pool::poolable_kinds().join(", ")
        ))
        .into());
    }
    Ok(stack)
}

async fn pooler(global: &Global) -> anyhow::Result<Pooler> {
    let state = setup::state(global).await?;
    let backends = setup::backends(global).await?;
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    Ok(Pooler {
        backends,
        state,
        policy: RetryPolicy::from_env(),
        cancel,
    })
}

fn print_outcomes(format: Format, outcomes: &[PoolOutcome]) -> anyhow::Result<()> {
    for o in outcomes {
        if let Some(why) = &o.skipped {
            eprintln!("pool {}: left alone: {why}", o.pool);
        }
    }
    output::print(format, &outcomes, || {
        output::table(
            &["pool", "created", "deleted", "failed"],
            outcomes
                .iter()
                .map(|o| {
                    vec![
                        o.pool.clone(),
                        o.created.join(",").if_empty("-"),
                        o.deleted.join(",").if_empty("-"),
                        o.failed.len().to_string(),
                    ]
                })
                .collect(),
        )
    });
    let failed: Vec<String> = outcomes
        .iter()
        .flat_map(|o| {
            o.failed
                .iter()
                .map(move |(m, e)| format!("pool {} member {m}: {e}", o.pool))
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(RunFailed(format!(
            "{}; run the command again (members are adopted where they were left)",
            failed.join("; ")
        ))
        .into())
    }
}

trait IfEmpty {
    fn if_empty(self, dash: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, dash: &str) -> String {
        if self.is_empty() { dash.into() } else { self }
    }
}

pub async fn fill(global: &Global, a: PoolArgs) -> anyhow::Result<()> {
    let stack = load(global, &a)?;
    let p = pooler(global).await?;
    let outcomes = p
        .fill(&stack, a.resource.as_deref())
        .await
        .context("pool fill")?;
    print_outcomes(a.output, &outcomes)
}

pub async fn drain(global: &Global, a: PoolArgs) -> anyhow::Result<()> {
    let stack = load(global, &a)?;
    let p = pooler(global).await?;
    let outcomes = p
        .drain(&stack, a.resource.as_deref())
        .await
        .context("pool drain")?;
    print_outcomes(a.output, &outcomes)
}

pub async fn status(global: &Global, a: PoolArgs) -> anyhow::Result<()> {
    let stack = load(global, &a)?;
    let prices = crate::cost::prices::for_cli(global.prices.as_ref())
        .map_err(|e| BadInput(format!("--prices: {e}")))?;
    let state = setup::state(global).await?;
    let members = state.pool_members(None).await?;
    let claims = state.pool_claims().await?;
    let rows: Vec<PoolLevel> = levels(&stack, &members, &claims, &prices, jiff::Timestamp::now())
        .into_iter()
        .filter(|l| {
            a.resource
                .as_deref()
                .is_none_or(|r| l.pool == crate::pool::key(&stack.name, r))
        })
        .collect();
    output::print(a.output, &rows, || {
        output::table(
            &[
                "pool",
                "kind",
                "size",
                "available",
                "creating",
                "claimed",
                "stale",
                "hits",
                "misses",
                "idle/day",
            ],
            rows.iter()
                .map(|l| {
                    vec![
                        l.pool.clone(),
                        l.kind.clone(),
                        l.size.to_string(),
                        l.available.to_string(),
                        l.creating.to_string(),
                        l.claimed.to_string(),
                        l.stale.to_string(),
                        l.hits.to_string(),
                        l.misses.to_string(),
                        crate::cost::view::money(l.idle_cost_per_day, &l.currency),
                    ]
                })
                .collect(),
        )
    });
    Ok(())
}
