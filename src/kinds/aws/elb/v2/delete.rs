//! Deleting the load balancer (its rules and listeners first) and its
//! target group, leaving another tenant's alone, and refusing while other
//! tenants' host rules are on it.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::Listener;

use super::balancer::lb_by_arn;
use super::listeners::{delete_listener, listeners_of, rules_of};
use super::tagging::tags_of;
use crate::kinds::KindError;
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::foreign_owner;
use crate::kinds::aws::tags::tag_map;

/// How long a deleted load balancer may stay visible before its deletion
/// fails. terraform-provider-aws gives `aws_lb` a 10-minute delete timeout
/// (internal/service/elbv2/load_balancer.go); the ALB's network interfaces
/// are released in that window too.
const LB_GONE_WITHIN: Duration = Duration::from_secs(10 * 60);

/// How long a target group may answer `ResourceInUse` while the load
/// balancer's listeners that use it go away. terraform-provider-aws retries
/// DeleteTargetGroup on "ResourceInUse … is currently in use by a listener or
/// a rule" for 2 minutes (`targetGroupDeleteTimeout`,
/// internal/service/elbv2/target_group.go).
const TG_RELEASED_WITHIN: Duration = Duration::from_secs(2 * 60);

/// Whether the resource at `arn` is tagged for another tenant (`Ok(true)`
/// also when it is gone).
pub(super) async fn gone_or_foreign(
    elbv2: &Client,
    arn: &str,
    not_found: &str,
    tenant: &str,
) -> Result<bool, KindError> {
    match elbv2.describe_tags().resource_arns(arn).send().await {
        Ok(out) => Ok(out
            .tag_descriptions()
            .iter()
            .any(|d| foreign_owner(&tag_map(d.tags()), tenant).is_some())),
        Err(e) if e.code() == Some(not_found) => Ok(true),
        Err(e) => Err(classify(&format!("DescribeTags {arn}"), e)),
    }
}

pub(super) async fn delete_lb(elbv2: &Client, arn: &str, tenant: &str) -> Result<(), KindError> {
    if gone_or_foreign(elbv2, arn, "LoadBalancerNotFound", tenant).await? {
        return Ok(());
    }
    // Dependents first: rules, then listeners. A load balancer tenants
    // share is not deleted from under their host rules.
    if let Some(listeners) = listeners_of(elbv2, arn).await? {
        refuse_while_shared(elbv2, arn, &listeners, tenant).await?;
        for l in listeners.iter().filter_map(|l| l.listener_arn()) {
            delete_listener(elbv2, l).await?;
        }
    }
    match elbv2
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if e.code() == Some("LoadBalancerNotFound") => {}
        Err(e) => return Err(classify(&format!("DeleteLoadBalancer {arn}"), e)),
    }
    // DeleteLoadBalancer returns at once; the load balancer stays visible
    // (state "active" or gone-in-a-moment) while AWS tears it down. The wait
    // runs under the engine: `delete` is called again until it is gone, and
    // only then does the target group go.
    if lb_by_arn(elbv2, arn).await?.is_some() {
        return Err(KindError::waiting(
            format!("load balancer {arn} is still being deleted"),
            format!("load balancer {arn} to go before its target group"),
            LB_GONE_WITHIN,
        ));
    }
    Ok(())
}

/// Fails, naming them, when other tenants' rules (`aws.elbv2.host_rule`)
/// are on the load balancer's listeners: deleting the listeners would cut
/// those tenants off. Their destroy removes their rules; then this one can
/// go. (The shared network refuses the same way, from the network
/// interfaces still in it.)
pub(super) async fn refuse_while_shared(
    elbv2: &Client,
    lb_arn: &str,
    listeners: &[Listener],
    tenant: &str,
) -> Result<(), KindError> {
    let mut arns = Vec::new();
    for l in listeners.iter().filter_map(|l| l.listener_arn()) {
        if let Some(rules) = rules_of(elbv2, l).await? {
            arns.extend(
                rules
                    .iter()
                    .filter_map(|r| r.rule_arn().map(str::to_string)),
            );
        }
    }
    let tags = tags_of(elbv2, &arns).await?;
    let mut others: BTreeMap<&str, usize> = BTreeMap::new();
    for t in tags.values() {
        if let Some(owner) = foreign_owner(t, tenant) {
            *others.entry(owner).or_default() += 1;
        }
    }
    if others.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = others
        .iter()
        .map(|(t, n)| format!("{t} ({n} rule{})", if *n == 1 { "" } else { "s" }))
        .collect();
    let first = others.keys().next().copied().unwrap_or_default();
    Err(KindError::Permanent(format!(
        "load balancer {lb_arn} is shared: tenant(s) {} still have host rules on it; \
         destroy them first (envctl destroy tenant {first}, ...), then destroy this tenant again",
        list.join(", ")
    )))
}

pub(super) async fn delete_tg(elbv2: &Client, arn: &str, tenant: &str) -> Result<(), KindError> {
    if gone_or_foreign(elbv2, arn, "TargetGroupNotFound", tenant).await? {
        return Ok(());
    }
    match elbv2
        .delete_target_group()
        .target_group_arn(arn)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("TargetGroupNotFound") => Ok(()),
        // A load balancer that is going away still holds it for a moment.
        Err(e) if e.code() == Some("ResourceInUse") => Err(KindError::waiting(
            format!("DeleteTargetGroup {arn}: still in use by a listener or rule"),
            format!("target group {arn} to be released by its load balancer"),
            TG_RELEASED_WITHIN,
        )),
        Err(e) => Err(classify(&format!("DeleteTargetGroup {arn}"), e)),
    }
}

/// Whether the target group at `arn` can still be described.
pub(super) async fn tg_exists(elbv2: &Client, arn: &str) -> Result<bool, KindError> {
    match elbv2
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await
    {
        Ok(out) => Ok(!out.target_groups().is_empty()),
        Err(e) if e.code() == Some("TargetGroupNotFound") => Ok(false),
        Err(e) => Err(classify(&format!("DescribeTargetGroups {arn}"), e)),
    }
}
