//! The shared load balancer a host rule goes on, read only: found by the
//! name and tags its owner tenant gave it, and its serving listener
//! (HTTPS:443, else HTTP:80).

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, ProtocolEnum};

use super::super::super::MAX_NAME;
use super::super::balancer::find_lb;
use super::super::listeners::listeners_of;
use super::super::tagging::tags_of;
use super::props::SharedFrom;
use crate::kinds::KindError;
use crate::kinds::aws::owner::managed_by;
use crate::tenant::{physical_name, tags};

/// What a host rule needs of the shared load balancer.
pub(super) struct Shared {
    pub(super) lb_arn: String,
    pub(super) dns_name: String,
    pub(super) zone_id: String,
    pub(super) vpc_id: Option<String>,
    pub(super) listener_arn: String,
}

/// Finds `from`'s load balancer (named as its owner's `aws.elbv2.
/// load_balancer` named it, and tagged as that tenant's resource) and its
/// serving listener; a permanent error says what to create first.
pub(super) async fn find_shared(elbv2: &Client, from: &SharedFrom) -> Result<Shared, KindError> {
    let name = physical_name(&from.tenant, &from.resource, MAX_NAME);
    let what = format!(
        "the load balancer '{}' of tenant '{}' ({name})",
        from.resource, from.tenant
    );
    let create_first = format!(
        "create it first (e.g. envctl create tenant {} --stack stacks/shared-edge.yaml)",
        from.tenant
    );
    let Some(lb) = find_lb(elbv2, &name).await? else {
        return Err(KindError::Permanent(format!(
            "properties: shared_from: {what} does not exist; {create_first}"
        )));
    };
    let lb_arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let t = tags_of(elbv2, std::slice::from_ref(&lb_arn))
        .await?
        .remove(&lb_arn)
        .unwrap_or_default();
    if !managed_by(&t, from.tenant.as_str())
        || t.get(tags::RESOURCE).map(String::as_str) != Some(from.resource.as_str())
    {
        return Err(KindError::Permanent(format!(
            "properties: shared_from: load balancer {name} is not {what} (its tags {}={:?}, \
             {}={:?}); refusing to add rules to it: check shared_from",
            tags::TENANT,
            t.get(tags::TENANT),
            tags::RESOURCE,
            t.get(tags::RESOURCE)
        )));
    }
    let listeners = listeners_of(elbv2, &lb_arn)
        .await?
        .ok_or_else(|| KindError::Transient(format!("{what} vanished while it was being read")))?;
    // The listener that serves: HTTPS:443, else an HTTP:80 that does not
    // redirect (the load balancer kind's two shapes).
    let https = listeners
        .iter()
        .find(|l| l.port() == Some(443) && l.protocol() == Some(&ProtocolEnum::Https));
    let http = listeners.iter().find(|l| {
        l.port() == Some(80)
            && !l
                .default_actions()
                .iter()
                .any(|a| a.r#type() == Some(&ActionTypeEnum::Redirect))
    });
    let listener_arn = https
        .or(http)
        .and_then(|l| l.listener_arn())
        .ok_or_else(|| {
            KindError::Permanent(format!(
                "{what} has no HTTPS:443 listener nor a serving HTTP:80 one; give it \
                 certificate_arn (and unmatched: not-found) in its stack"
            ))
        })?
        .to_string();
    Ok(Shared {
        lb_arn,
        dns_name: lb.dns_name().unwrap_or_default().to_string(),
        zone_id: lb
            .canonical_hosted_zone_id()
            .unwrap_or_default()
            .to_string(),
        vpc_id: lb.vpc_id().map(str::to_string),
        listener_arn,
    })
}
