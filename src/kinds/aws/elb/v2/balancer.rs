//! The load balancer and its target group: found by name or created,
//! tagged, and converged in place where ELBv2 allows it.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancer as LbDescription, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum,
    TargetGroup, TargetTypeEnum,
};

use super::props::{LbType, Wanted};
use super::tagging::ElbV2Tagging;
use crate::kinds::aws::call::found;
use crate::kinds::aws::classify;
use crate::kinds::aws::tags::{converge, sdk_tags};
use crate::kinds::{Cx, KindError};

pub(super) fn sdk_type(t: LbType) -> LoadBalancerTypeEnum {
    match t {
        LbType::Application => LoadBalancerTypeEnum::Application,
        LbType::Network => LoadBalancerTypeEnum::Network,
    }
}

pub(super) async fn find_lb(
    elbv2: &Client,
    name: &str,
) -> Result<Option<LbDescription>, KindError> {
    Ok(found(
        &format!("DescribeLoadBalancers {name}"),
        elbv2.describe_load_balancers().names(name).send().await,
        &["LoadBalancerNotFound"],
    )?
    .and_then(|out| out.load_balancers().first().cloned()))
}

pub(super) async fn lb_by_arn(
    elbv2: &Client,
    arn: &str,
) -> Result<Option<LbDescription>, KindError> {
    Ok(found(
        &format!("DescribeLoadBalancers {arn}"),
        elbv2
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await,
        &["LoadBalancerNotFound"],
    )?
    .and_then(|out| out.load_balancers().first().cloned()))
}

/// Finds the load balancer or creates it, then converges what can change in
/// place (tags, subnets, security groups).
pub(super) async fn ensure_lb(
    elbv2: &Client,
    cx: &Cx,
    w: &Wanted,
) -> Result<LbDescription, KindError> {
    let name = &w.name;
    let lb = match find_lb(elbv2, name).await? {
        Some(lb) => lb,
        None => {
            let created = elbv2
                .create_load_balancer()
                .name(name)
                .set_subnets(Some(w.subnets.clone()))
                .set_security_groups(
                    (!w.security_groups.is_empty()).then(|| w.security_groups.clone()),
                )
                .scheme(LoadBalancerSchemeEnum::from(w.scheme.as_str()))
                .r#type(sdk_type(w.lb_type))
                .set_tags(Some(sdk_tags(cx.tags())?))
                .send()
                .await;
            match created {
                Ok(out) => out.load_balancers().first().cloned().ok_or_else(|| {
                    KindError::Permanent(format!(
                        "CreateLoadBalancer {name}: no load balancer in the answer"
                    ))
                })?,
                // Made meanwhile (with other settings): the retry adopts it.
                Err(e) if e.code() == Some("DuplicateLoadBalancerName") => {
                    return Err(KindError::Transient(format!(
                        "CreateLoadBalancer {name}: it was created meanwhile; adopting it next"
                    )));
                }
                Err(e) => return Err(classify(&format!("CreateLoadBalancer {name}"), e)),
            }
        }
    };
    let arn = lb
        .load_balancer_arn()
        .ok_or_else(|| KindError::Permanent(format!("load balancer {name}: no ARN")))?
        .to_string();
    converge(
        &ElbV2Tagging(elbv2),
        cx,
        &format!("load balancer {name}"),
        &arn,
        cx.tags(),
    )
    .await?;

    if lb.r#type() != Some(&sdk_type(w.lb_type)) {
        return Err(KindError::Permanent(format!(
            "load balancer {name} exists with type {}, not {:?}; the type cannot change: \
             destroy the resource first",
            lb.r#type().map(|t| t.as_str()).unwrap_or("?"),
            w.lb_type
        )));
    }
    if let Some(s) = lb.scheme()
        && s.as_str() != w.scheme.as_str()
    {
        return Err(KindError::Permanent(format!(
            "load balancer {name} exists with scheme {}, not {}; the scheme cannot change: \
             destroy the resource first",
            s.as_str(),
            w.scheme.as_str()
        )));
    }
    let have_subnets: BTreeSet<&str> = lb
        .availability_zones()
        .iter()
        .filter_map(|az| az.subnet_id())
        .collect();
    let want_subnets: BTreeSet<&str> = w.subnets.iter().map(String::as_str).collect();
    if !have_subnets.is_empty() && have_subnets != want_subnets {
        elbv2
            .set_subnets()
            .load_balancer_arn(&arn)
            .set_subnets(Some(w.subnets.clone()))
            .send()
            .await
            .map_err(|e| classify(&format!("SetSubnets {name}"), e))?;
    }
    if !w.security_groups.is_empty() {
        let have: BTreeSet<&str> = lb.security_groups().iter().map(String::as_str).collect();
        let want: BTreeSet<&str> = w.security_groups.iter().map(String::as_str).collect();
        if have != want {
            elbv2
                .set_security_groups()
                .load_balancer_arn(&arn)
                .set_security_groups(Some(w.security_groups.clone()))
                .send()
                .await
                .map_err(|e| classify(&format!("SetSecurityGroups {name}"), e))?;
        }
    }
    Ok(lb)
}

// ------------------------------------------------------- target group ----

pub(super) async fn find_tg(elbv2: &Client, name: &str) -> Result<Option<TargetGroup>, KindError> {
    match elbv2.describe_target_groups().names(name).send().await {
        Ok(out) => Ok(out.target_groups().first().cloned()),
        Err(e) if e.code() == Some("TargetGroupNotFound") => Ok(None),
        Err(e) => Err(classify(&format!("DescribeTargetGroups {name}"), e)),
    }
}

pub(super) fn tg_protocol(t: LbType) -> ProtocolEnum {
    match t {
        LbType::Application => ProtocolEnum::Http,
        LbType::Network => ProtocolEnum::Tcp,
    }
}

/// What a target group is made of: a load balancer's own, or a tenant's
/// on a shared one (`aws.elbv2.host_rule`).
pub(super) struct TgSpec<'a> {
    pub(super) name: &'a str,
    pub(super) lb_type: LbType,
    pub(super) target_port: u16,
    pub(super) health_check_path: &'a str,
}

/// Finds the target group or creates it; its port, protocol and VPC cannot
/// change, its health check path can.
pub(super) async fn ensure_tg(
    elbv2: &Client,
    cx: &Cx,
    w: &TgSpec<'_>,
    vpc: &str,
) -> Result<String, KindError> {
    let name = w.name;
    let protocol = tg_protocol(w.lb_type);
    let tg = match find_tg(elbv2, name).await? {
        Some(tg) => tg,
        None => {
            let created = elbv2
                .create_target_group()
                .name(name)
                .protocol(protocol.clone())
                .port(i32::from(w.target_port))
                .vpc_id(vpc)
                .target_type(TargetTypeEnum::Instance)
                .health_check_enabled(true)
                .health_check_protocol(ProtocolEnum::Http)
                .health_check_path(w.health_check_path)
                .set_tags(Some(sdk_tags(cx.tags())?))
                .send()
                .await;
            match created {
                Ok(out) => out.target_groups().first().cloned().ok_or_else(|| {
                    KindError::Permanent(format!(
                        "CreateTargetGroup {name}: no target group in the answer"
                    ))
                })?,
                Err(e) if e.code() == Some("DuplicateTargetGroupName") => {
                    return Err(KindError::Transient(format!(
                        "CreateTargetGroup {name}: it was created meanwhile; adopting it next"
                    )));
                }
                Err(e) => return Err(classify(&format!("CreateTargetGroup {name}"), e)),
            }
        }
    };
    let arn = tg
        .target_group_arn()
        .ok_or_else(|| KindError::Permanent(format!("target group {name}: no ARN")))?
        .to_string();
    converge(
        &ElbV2Tagging(elbv2),
        cx,
        &format!("target group {name}"),
        &arn,
        cx.tags(),
    )
    .await?;
    let immutable = [
        (
            "port",
            tg.port().map(|p| p.to_string()),
            w.target_port.to_string(),
        ),
        (
            "protocol",
            tg.protocol().map(|p| p.as_str().to_string()),
            protocol.as_str().to_string(),
        ),
        ("VPC", tg.vpc_id().map(str::to_string), vpc.to_string()),
    ];
    for (what, have, want) in immutable {
        if let Some(have) = have
            && have != want
        {
            return Err(KindError::Permanent(format!(
                "target group {name} exists with {what} {have}, not {want}; a target group's \
                 port, protocol and VPC cannot change: destroy the resource first"
            )));
        }
    }
    if tg.health_check_path() != Some(w.health_check_path) {
        elbv2
            .modify_target_group()
            .target_group_arn(&arn)
            .health_check_protocol(ProtocolEnum::Http)
            .health_check_path(w.health_check_path)
            .send()
            .await
            .map_err(|e| classify(&format!("ModifyTargetGroup {name}"), e))?;
    }
    Ok(arn)
}
