//! How much room a shared load balancer has for a tenant's host rules, for
//! preflight (`crate::preflight::shared_edge`): its non-default rules over
//! every listener (the quota "Rules per Application Load Balancer
//! (excluding default rules)", default 100, counts them per load balancer:
//! elasticloadbalancing/latest/application/load-balancer-limits.html), and
//! the rules the tenant already holds there (a rerun adds none); and the
//! target groups it routes to ("Target Groups per Application Load
//! Balancer", 100, not adjustable: each tenant's rule forwards to a target
//! group of its own). Past either limit, which preflight reads, CreateRule
//! answers `TooManyRules` or `TooManyTargetGroups`.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::Client;

use super::super::listeners::listeners_of;
use super::props::SharedFrom;
use super::rules::rules_with_tags;
use super::shared::find_shared;
use crate::kinds::KindError;
use crate::kinds::aws::classify;
use crate::tenant::tags;

/// A shared load balancer's rules, and which of a tenant's it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    /// `<tenant>/<resource>`, as `shared_from` names it.
    pub load_balancer: String,
    /// Non-default rules on all its listeners.
    pub rules: u32,
    /// Target groups associated with it (DescribeTargetGroups by
    /// LoadBalancerArn: those its listeners' actions forward to).
    pub target_groups: u32,
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
    let target_groups = elbv2
        .describe_target_groups()
        .load_balancer_arn(&shared.lb_arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| classify(&format!("DescribeTargetGroups {}", shared.lb_arn), e))?
        .len() as u32;
    Ok(Room {
        load_balancer: shared_from.trim().to_string(),
        rules,
        target_groups,
        held,
    })
}
