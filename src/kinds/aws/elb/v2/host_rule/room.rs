//! How much room a shared load balancer has for a tenant's host rules, for
//! preflight (`crate::preflight::shared_edge`): its non-default rules over
//! every listener (the quota "Rules per Application Load Balancer
//! (excluding default rules)", default 100, counts them per load balancer:
//! elasticloadbalancing/latest/application/load-balancer-limits.html), the
//! rules the tenant already holds there (a rerun adds none), and the limit
//! as ELB's own DescribeAccountLimits answers it
//! (`rules-per-application-load-balancer`, the account's applied value;
//! API_Limit.html). Past the limit, CreateRule answers `TooManyRules`.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::Client;

use super::super::listeners::listeners_of;
use super::props::SharedFrom;
use super::rules::rules_with_tags;
use super::shared::find_shared;
use crate::kinds::KindError;
use crate::kinds::aws::classify;
use crate::tenant::tags;

/// The limit's name in DescribeAccountLimits.
pub const RULES_LIMIT: &str = "rules-per-application-load-balancer";

/// AWS's documented default, used when DescribeAccountLimits names no
/// value for it.
pub const DEFAULT_RULES_LIMIT: u32 = 100;

/// A shared load balancer's rules against its limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    /// `<tenant>/<resource>`, as `shared_from` names it.
    pub load_balancer: String,
    /// Non-default rules on all its listeners.
    pub rules: u32,
    pub limit: u32,
    /// Whether `limit` came from DescribeAccountLimits (else the default).
    pub limit_applied: bool,
    /// Of the asked resource ids, those whose rule the tenant already has.
    pub held: BTreeSet<String>,
}

/// The room on the load balancer `shared_from` (`<tenant>/<resource>`) for
/// `tenant`'s host rules `resources`. Errors read as the kind's own (a
/// missing load balancer says what to create first).
pub async fn room(
    elbv2: &Client,
    shared_from: &str,
    tenant: &str,
    resources: &[String],
) -> Result<Room, KindError> {
    let from = SharedFrom::parse(shared_from)
        .map_err(|issue| KindError::Permanent(format!("shared_from: {}", issue.message)))?;
    let shared = find_shared(elbv2, &from).await?;
    let mut rules = 0;
    let mut held = BTreeSet::new();
    for listener in listeners_of(elbv2, &shared.lb_arn)
        .await?
        .unwrap_or_default()
    {
        let Some(arn) = listener.listener_arn() else {
            continue;
        };
        for (_, t) in rules_with_tags(elbv2, arn).await?.unwrap_or_default() {
            rules += 1;
            if t.get(tags::TENANT).map(String::as_str) == Some(tenant)
                && let Some(r) = t.get(tags::RESOURCE)
                && resources.contains(r)
            {
                held.insert(r.clone());
            }
        }
    }
    let limits = elbv2
        .describe_account_limits()
        .send()
        .await
        .map_err(|e| classify("DescribeAccountLimits", e))?;
    let applied = limits
        .limits()
        .iter()
        .find(|l| l.name() == Some(RULES_LIMIT))
        .and_then(|l| l.max())
        .and_then(|m| m.trim().parse::<f64>().ok())
        .filter(|m| m.is_finite() && *m >= 0.0);
    Ok(Room {
        load_balancer: shared_from.trim().to_string(),
        rules,
        limit: applied.map_or(DEFAULT_RULES_LIMIT, |m| m as u32),
        limit_applied: applied.is_some(),
        held,
    })
}
