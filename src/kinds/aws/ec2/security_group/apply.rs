//! How `aws.ec2.security_group` applies: find the group by name in its VPC
//! or create it, converge its tags, then converge its ingress rules.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{ResourceType, SecurityGroup as Ec2Group, SecurityGroupRule};

use super::rule::Rule;
use crate::kinds::aws::classify;
use crate::kinds::aws::ec2::{configure_error, filter, named_tags, tag_spec};
use crate::kinds::aws::owner::{managed_by, refuse_foreign};
use crate::kinds::aws::tags::{missing, sdk_tags, tag_map};
use crate::kinds::{Cx, KindError};
use crate::tenant::tags;

async fn group_by_name(
    ec2: &aws_sdk_ec2::Client,
    vpc_id: &str,
    name: &str,
) -> Result<Option<Ec2Group>, KindError> {
    let out = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("group-name", name))
        .send()
        .await
        .map_err(|e| classify(&format!("DescribeSecurityGroups {name}"), e))?;
    Ok(out.security_groups().first().cloned())
}

pub(super) async fn group_rules(
    ec2: &aws_sdk_ec2::Client,
    group_id: &str,
) -> Result<Vec<SecurityGroupRule>, KindError> {
    ec2.describe_security_group_rules()
        .filters(filter("group-id", group_id))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| configure_error(&format!("DescribeSecurityGroupRules {group_id}"), e))
}

/// Finds the group by name in the VPC, or creates it; adds missing tags.
pub(super) async fn ensure_group(
    cx: &Cx,
    name: &str,
    vpc_id: &str,
    description: &str,
) -> Result<String, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let existing = match group_by_name(ec2, vpc_id, name).await? {
        Some(g) => g,
        None => {
            match ec2
                .create_security_group()
                .group_name(name)
                .description(description)
                .vpc_id(vpc_id)
                .tag_specifications(tag_spec(ResourceType::SecurityGroup, cx, name))
                .send()
                .await
            {
                Ok(out) => {
                    return out.group_id().map(str::to_string).ok_or_else(|| {
                        KindError::Permanent("CreateSecurityGroup: no group id in answer".into())
                    });
                }
                // Made meanwhile, or by an earlier create whose answer was
                // lost (CreateSecurityGroup has no ClientToken, but a name is
                // unique in a VPC): adopt it once the lookup shows it, which
                // EC2's eventual consistency may delay.
                Err(e) if e.code() == Some("InvalidGroup.Duplicate") => {
                    group_by_name(ec2, vpc_id, name).await?.ok_or_else(|| {
                        KindError::waiting(
                            format!(
                                "CreateSecurityGroup {name}: InvalidGroup.Duplicate, but the \
                                 lookup does not show the group yet"
                            ),
                            format!("security group {name} to become visible"),
                            Duration::from_secs(5 * 60),
                        )
                    })?
                }
                Err(e) if e.code() == Some("InvalidVpcID.NotFound") => {
                    return Err(KindError::Permanent(format!(
                        "properties: vpc_id: VPC {vpc_id} does not exist"
                    )));
                }
                Err(e) => return Err(classify(&format!("CreateSecurityGroup {name}"), e)),
            }
        }
    };
    let group_id = existing
        .group_id()
        .ok_or_else(|| KindError::Permanent("security group without id".into()))?
        .to_string();
    let have = tag_map(existing.tags());
    refuse_foreign(&format!("security group {name} ({group_id})"), &have, cx)?;
    let lacking = missing(&have, named_tags(cx, name));
    if !lacking.is_empty() {
        ec2.create_tags()
            .resources(&group_id)
            .set_tags(Some(sdk_tags(lacking)?))
            .send()
            .await
            .map_err(|e| configure_error(&format!("CreateTags {group_id}"), e))?;
    }
    Ok(group_id)
}

/// Authorizes the wanted rules that are missing and revokes the rules this
/// resource added earlier that are no longer wanted.
pub(super) async fn converge_rules(
    cx: &Cx,
    name: &str,
    group_id: &str,
    wanted: &[(Rule, Option<String>)],
) -> Result<(), KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let rules = group_rules(ec2, group_id).await?;
    let have: BTreeSet<Rule> = rules.iter().filter_map(Rule::of).collect();
    for (rule, description) in wanted {
        if have.contains(rule) {
            continue;
        }
        match ec2
            .authorize_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(rule.permission(description.as_deref()))
            .tag_specifications(tag_spec(ResourceType::SecurityGroupRule, cx, name))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("InvalidPermission.Duplicate") => {}
            Err(e) if e.code() == Some("InvalidGroup.NotFound") => {
                let msg = e.message().unwrap_or_default().to_string();
                if msg.contains(group_id) {
                    return Err(KindError::Transient(format!(
                        "AuthorizeSecurityGroupIngress {group_id}: the new group is not visible yet"
                    )));
                }
                return Err(KindError::Permanent(format!(
                    "AuthorizeSecurityGroupIngress {group_id}: a source_group does not exist: {msg}"
                )));
            }
            Err(e) => {
                return Err(classify(
                    &format!("AuthorizeSecurityGroupIngress {group_id}"),
                    e,
                ));
            }
        }
    }
    let wanted: BTreeSet<&Rule> = wanted.iter().map(|(r, _)| r).collect();
    let stale: Vec<String> = rules
        .iter()
        .filter(|r| {
            let t = tag_map(r.tags());
            managed_by(&t, cx.tenant.as_str())
                && t.get(tags::RESOURCE) == Some(&cx.resource_id)
                && Rule::of(r).is_some_and(|rule| !wanted.contains(&rule))
        })
        .filter_map(|r| r.security_group_rule_id().map(str::to_string))
        .collect();
    if !stale.is_empty() {
        match ec2
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_security_group_rule_ids(Some(stale))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("InvalidPermission.NotFound") => {}
            Err(e) => {
                return Err(classify(
                    &format!("RevokeSecurityGroupIngress {group_id}"),
                    e,
                ));
            }
        }
    }
    Ok(())
}
