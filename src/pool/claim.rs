//! A create's side of warm pools: a pooled node takes a member of its pool
//! (the one its tenant already holds on a rerun, else the oldest available
//! one made from the same properties) through one atomic claim in the state
//! store, and its kind hands it over ([`crate::kinds::Poolable::claim`]); a
//! miss creates as usual. Hits and misses are counted in the state store
//! (`envctl get pools`) and, for `/metrics`
//! (`envctl_pool_claims_total{pool,outcome}`), in this process.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{fingerprint, key};
use crate::kinds::Cx;
use crate::stack::Resource;
use crate::state::{PoolMember, StateError, StateStore};

/// The plain output a node taken from a pool carries: the member's name
/// (journaled with the node, shown by `describe`).
pub const MEMBER_OUTPUT: &str = "pool_member";

/// (pool, "hit" | "miss") → count, since this process started.
static CLAIMS: Mutex<BTreeMap<(String, &'static str), u64>> = Mutex::new(BTreeMap::new());

/// Told on every hit: `envctl serve`'s refill wakes up at once.
pub static CLAIMED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Takes a member of `resource`'s pool for `cx`'s tenant; `None` is a miss.
/// Without `pool:` (a revision re-applied by a rollback or a rollout does
/// not record it), only the member the tenant already holds, uncounted.
pub async fn take(
    state: &StateStore,
    cx: &Cx,
    resource: &Resource,
) -> Result<Option<PoolMember>, StateError> {
    let pool = key(&cx.stack, &resource.id);
    if resource.pool.is_none() {
        return state.held_pool_member(&pool, cx.tenant.as_str()).await;
    }
    let got = state
        .claim_pool_member(&pool, &fingerprint(resource), cx.tenant.as_str())
        .await?;
    let outcome = if got.is_some() {
        CLAIMED.notify_one();
        "hit"
    } else {
        "miss"
    };
    if let Err(e) = state.count_pool_claim(&pool, outcome).await {
        tracing::warn!(%pool, error = %e, "could not count a pool claim");
    }
    *CLAIMS
        .lock()
        .expect("claim counters")
        .entry((pool, outcome))
        .or_default() += 1;
    Ok(got)
}

/// Claims counted in this process: ((pool, outcome), count).
pub fn counts() -> Vec<((String, &'static str), u64)> {
    CLAIMS
        .lock()
        .expect("claim counters")
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}
