//! A create's side of warm pools: a pooled node takes a member of its pool
//! (the one its tenant already holds on a rerun, else the oldest available
//! one made from the same properties) through one atomic claim in the state
//! store, and its kind hands it over ([`crate::kinds::Poolable::claim`]); a
//! miss creates as usual. Hits and misses are counted in the state store
//! (`envctl get pools`) and, for `/metrics`
//! (`envctl_pool_claims_total{pool,outcome}`), in this process.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::{fingerprint, key};
use crate::kinds::Cx;
use crate::stack::Resource;
use crate::state::{MemberStatus, PoolMember, StateError, StateStore};

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

/// The pooled nodes of `stack` that should hit: their pool has an
/// available member made from the same properties, or `tenant` already
/// holds one (a rerun). A forecast, for the ETA and the critical path (a
/// concurrent create may take the last member first; the run corrects it
/// when its claim misses).
pub async fn expected_hits(
    state: &StateStore,
    stack: &crate::stack::Stack,
    tenant: &str,
) -> Result<BTreeSet<String>, StateError> {
    let mut hits = BTreeSet::new();
    for resource in super::fill::pooled(stack, None) {
        let pool = key(&stack.name, &resource.id);
        let print = fingerprint(resource);
        let members = state.pool_members(Some(&pool)).await?;
        let hit = members.iter().any(|m| {
            (m.status == MemberStatus::Available && m.fingerprint == print)
                || (m.status == MemberStatus::Claimed && m.claimed_by.as_deref() == Some(tenant))
        });
        if hit {
            hits.insert(resource.id.clone());
        }
    }
    Ok(hits)
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
