//! The warm pools of the stacks on offer: their levels (for `/api/pools`
//! and `/metrics`), and the background refill: every configured stack with
//! pooled resources is filled (`pool::fill`, as `envctl pool fill`) when
//! the server starts, after every claim (a create that took a member), and
//! every [`EVERY`] (members past `max_age` are replaced then).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::app::App;
use crate::pool::fill::{Pooler, pooled};
use crate::pool::status::{PoolLevel, levels};
use crate::state::StateError;

/// The level of every pool of the stacks on offer, by pool name (two names
/// on offer for one stack file share its pools: listed once).
pub async fn offered_levels(app: &App) -> Result<Vec<PoolLevel>, StateError> {
    let members = app.state.pool_members(None).await?;
    let claims = app.state.pool_claims().await?;
    let now = jiff::Timestamp::now();
    let mut seen = BTreeSet::new();
    let mut pools: Vec<PoolLevel> = app
        .config
        .stacks
        .values()
        .flat_map(|stack| levels(stack, &members, &claims, &app.config.cost.table, now))
        .filter(|level| seen.insert(level.pool.clone()))
        .collect();
    pools.sort_by(|a, b| a.pool.cmp(&b.pool));
    Ok(pools)
}

/// How often the pools are topped up when no claim asks for it sooner.
pub const EVERY: Duration = Duration::from_secs(5 * 60);

/// One refill of every configured stack's pools; returns the members made.
pub async fn pass(app: &App) -> usize {
    let engine = app.jobs.engine();
    let pooler = Pooler {
        backends: engine.backends.clone(),
        state: app.state.clone(),
        policy: engine.policy.clone(),
        cancel: engine.cancel.clone(),
    };
    let mut made = 0;
    for (name, stack) in &app.config.stacks {
        if pooled(stack, None).is_empty() {
            continue;
        }
        match pooler.fill(stack, None).await {
            Ok(outcomes) => {
                for o in outcomes {
                    made += o.created.len();
                    for (member, error) in &o.failed {
                        tracing::error!(stack = %name, pool = %o.pool, %member, %error, "pool refill: a member failed");
                    }
                }
            }
            Err(e) => {
                tracing::error!(stack = %name, error = %e, "pool refill: the state store failed")
            }
        }
    }
    made
}

/// Runs [`pass`] at start, after every claim and every [`EVERY`].
pub async fn run(app: Arc<App>) {
    if !app
        .config
        .stacks
        .values()
        .any(|s| !pooled(s, None).is_empty())
    {
        return;
    }
    loop {
        let made = pass(&app).await;
        tracing::info!(members = made, "pool refill done");
        tokio::select! {
            _ = crate::pool::claim::CLAIMED.notified() => {}
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
