//! What `aws.ec2.security_group` does before DeleteSecurityGroup: revoke
//! the rules that tie the group to the tenant's other groups, and name the
//! groups of others whose rules still name it.

use std::collections::BTreeSet;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::IpPermission;

use super::apply::group_rules;
use crate::kinds::aws::classify;
use crate::kinds::aws::ec2::filter;
use crate::kinds::aws::owner::managed_by;
use crate::kinds::aws::tags::tag_map;
use crate::kinds::{Cx, KindError};

/// A revoke of a rule or group that is no longer there: nothing to do.
fn already_gone(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("InvalidPermission.NotFound" | "InvalidGroup.NotFound")
    )
}

/// The groups of `vpc_id` and their rules that name `group_id` (or that
/// `group_id` names): the tenant's are revoked; the others are returned, as
/// "sg-x (name)", for the error that says why the delete cannot succeed.
pub(super) async fn revoke_references(
    cx: &Cx,
    vpc_id: &str,
    group_id: &str,
) -> Result<Vec<String>, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let groups = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| classify(&format!("DescribeSecurityGroups in {vpc_id}"), e))?;
    let names = |p: &[IpPermission], id: &str| {
        p.iter()
            .flat_map(|p| p.user_id_group_pairs())
            .any(|pair| pair.group_id() == Some(id))
    };
    let mut foreign = Vec::new();
    for g in &groups {
        let Some(id) = g.group_id() else { continue };
        let this = id == group_id;
        let refers = if this {
            // Its own rules naming the tenant's other groups.
            groups.iter().any(|o| {
                o.group_id().is_some_and(|oid| {
                    oid != group_id
                        && managed_by(&tag_map(o.tags()), cx.tenant.as_str())
                        && (names(g.ip_permissions(), oid) || names(g.ip_permissions_egress(), oid))
                })
            })
        } else {
            names(g.ip_permissions(), group_id) || names(g.ip_permissions_egress(), group_id)
        };
        if !refers {
            continue;
        }
        if !this && !managed_by(&tag_map(g.tags()), cx.tenant.as_str()) {
            foreign.push(format!("{id} ({})", g.group_name().unwrap_or("?")));
            continue;
        }
        // The rules of `g` that name a group to let go of: for `g` itself,
        // the tenant's other groups; for another group, this one.
        let tenant_groups: BTreeSet<&str> = groups
            .iter()
            .filter(|o| managed_by(&tag_map(o.tags()), cx.tenant.as_str()))
            .filter_map(|o| o.group_id())
            .filter(|oid| *oid != group_id)
            .collect();
        let rules = group_rules(ec2, id).await?;
        let (mut ingress, mut egress) = (Vec::new(), Vec::new());
        for r in &rules {
            let Some(named) = r.referenced_group_info().and_then(|i| i.group_id()) else {
                continue;
            };
            let drop = if this {
                tenant_groups.contains(named)
            } else {
                named == group_id
            };
            if let (true, Some(rule_id)) = (drop, r.security_group_rule_id()) {
                if r.is_egress() == Some(true) {
                    egress.push(rule_id.to_string());
                } else {
                    ingress.push(rule_id.to_string());
                }
            }
        }
        if !ingress.is_empty() {
            match ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_security_group_rule_ids(Some(ingress))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if already_gone(e.code()) => {}
                Err(e) => return Err(classify(&format!("RevokeSecurityGroupIngress {id}"), e)),
            }
        }
        if !egress.is_empty() {
            match ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_security_group_rule_ids(Some(egress))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if already_gone(e.code()) => {}
                Err(e) => return Err(classify(&format!("RevokeSecurityGroupEgress {id}"), e)),
            }
        }
    }
    Ok(foreign)
}
