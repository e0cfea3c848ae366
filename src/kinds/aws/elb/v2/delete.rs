//! Deleting the load balancer (its rules and listeners first) and its
//! target group, leaving another tenant's alone.

use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;

use super::balancer::lb_by_arn;
use super::listeners::{delete_listener, listeners_of};
use crate::kinds::KindError;
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::foreign_owner;
use crate::kinds::aws::tags::tag_map;
use crate::kinds::aws::wait::poll_until;

/// How long one `delete` call waits for the load balancer to disappear
/// before it hands back to the engine (which retries it). Below the engine's
/// per-attempt limit.
const GONE_WAIT: Duration = Duration::from_secs(240);

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
    // Dependents first: rules, then listeners.
    if let Some(listeners) = listeners_of(elbv2, arn).await? {
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
    let gone = poll_until(GONE_WAIT, || async {
        Ok(lb_by_arn(elbv2, arn).await?.is_none().then_some(()))
    })
    .await?;
    if gone.is_some() {
        Ok(())
    } else {
        Err(KindError::Transient(format!(
            "load balancer {arn} is still being deleted"
        )))
    }
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
        Err(e) if e.code() == Some("ResourceInUse") => Err(KindError::Transient(format!(
            "DeleteTargetGroup {arn}: still in use by a listener or rule; retrying"
        ))),
        Err(e) => Err(classify(&format!("DeleteTargetGroup {arn}"), e)),
    }
}
