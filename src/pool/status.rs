//! The level of each pool of a stack: members by status, how many a fill
//! would replace, and what the idle (available and creating) members cost
//! per day from the price table (`crate::cost`). Pure: the rows of `envctl
//! pool status`, `envctl get pools` and `/metrics`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::{fingerprint, key, plan};
use crate::cost::PriceTable;
use crate::cost::estimate::{Item, estimate};
use crate::stack::Stack;
use crate::state::{MemberStatus, PoolMember};

/// One pool's level.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PoolLevel {
    pub pool: String,
    pub kind: String,
    pub size: u32,
    /// Seconds.
    #[serde(serialize_with = "seconds")]
    #[schema(value_type = u64)]
    pub max_age: Duration,
    pub available: usize,
    pub creating: usize,
    pub claimed: usize,
    pub deleting: usize,
    /// Members the next fill deletes (past `max_age`, other properties).
    pub stale: usize,
    /// Creates that claimed a member, and that found none (every process).
    pub hits: i64,
    pub misses: i64,
    /// What the members no tenant holds (available, creating) cost per day.
    pub idle_cost_per_day: f64,
    pub currency: String,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// The level of every pool of `stack`, from `members` (every pool's).
pub fn levels(
    stack: &Stack,
    members: &[PoolMember],
    claims: &BTreeMap<(String, String), i64>,
    prices: &PriceTable,
    now: jiff::Timestamp,
) -> Vec<PoolLevel> {
    super::fill::pooled(stack, None)
        .into_iter()
        .map(|r| {
            let spec = r.pool.as_ref().expect("pooled");
            let pool = key(&stack.name, &r.id);
            let mine: Vec<PoolMember> =
                members.iter().filter(|m| m.pool == pool).cloned().collect();
            let count = |s: MemberStatus| mine.iter().filter(|m| m.status == s).count();
            let p = plan(&mine, spec.size, spec.max_age, &fingerprint(r), now);
            let stale = p
                .retire
                .iter()
                .filter(|n| {
                    mine.iter()
                        .any(|m| &m.member == *n && m.status != MemberStatus::Deleting)
                })
                .count();
            let hourly = estimate(
                prices,
                &[Item {
                    id: &r.id,
                    kind: &r.kind,
                    props: Some(&r.properties),
                    workload: None,
                }],
            )
            .running_hourly();
            let idle = count(MemberStatus::Available) + count(MemberStatus::Creating);
            PoolLevel {
                hits: claims
                    .get(&(pool.clone(), "hit".to_string()))
                    .copied()
                    .unwrap_or(0),
                misses: claims
                    .get(&(pool.clone(), "miss".to_string()))
                    .copied()
                    .unwrap_or(0),
                pool,
                kind: r.kind.clone(),
                size: spec.size,
                max_age: spec.max_age,
                available: count(MemberStatus::Available),
                creating: count(MemberStatus::Creating),
                claimed: count(MemberStatus::Claimed),
                deleting: count(MemberStatus::Deleting),
                stale,
                idle_cost_per_day: hourly * 24.0 * idle as f64,
                currency: prices.currency.clone(),
            }
        })
        .collect()
}
