//! The `aws.ec2.security_group` kind: a VPC security group with the ingress
//! rules of the stack. Egress is AWS's default (all traffic allowed). Rules
//! are converged: missing ones are authorized; rules envctl added earlier
//! (tagged as this resource's) that the stack no longer lists are revoked;
//! rules added by hand are left alone.
//!
//! This module holds the [`Kind`] impl; [`props`] the properties and their
//! check, [`rule`] a rule as EC2 reports it, [`apply`] the group and rule
//! convergence, [`delete`] what goes before DeleteSecurityGroup.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;

use crate::kinds::aws::ec2::eni_holders::{Held, dependency_violation};
use crate::kinds::aws::ec2::sweep_filters;
use crate::kinds::aws::owner::managed_by;
use crate::kinds::aws::tags::tag_map;
use crate::kinds::aws::{classify, errors};
use crate::kinds::schema::PropSchema;
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, Props, Readiness, SweepCx, parse_props,
};
use crate::tenant::tags;

mod apply;
mod delete;
mod props;
mod rule;

use apply::{converge_rules, ensure_group};
use delete::revoke_references;
use props::{NAME, OUTPUTS, SCHEMA, SgProps, outputs};

/// Security group names are at most 255 characters.
const MAX_NAME: usize = 255;

pub struct SecurityGroup;

#[async_trait]
impl Kind for SecurityGroup {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "ec2"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// ~3 s: CreateSecurityGroup and one AuthorizeSecurityGroupIngress per
    /// rule, each well under a second, plus the lookups; a group is usable as
    /// soon as it is visible (EC2 API reference, "Eventual consistency in the
    /// Amazon EC2 API"). An estimate for the budget's default.
    fn expected(&self) -> Duration {
        Duration::from_secs(3)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(5 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: SgProps = parse_props(props)?;
        let wanted = p.rules()?;
        let name = cx.physical_name(MAX_NAME);
        let description = p
            .description
            .clone()
            .unwrap_or_else(|| format!("envctl {}/{}", cx.tenant, cx.resource_id));
        let group_id = ensure_group(cx, &name, &p.vpc_id, &description).await?;
        converge_rules(cx, &name, &group_id, &wanted).await?;
        Ok(outputs(&group_id, &name, &p.vpc_id))
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let group_id = out.require("group_id")?;
        match cx
            .backends
            .aws
            .ec2
            .describe_security_groups()
            .group_ids(group_id)
            .send()
            .await
        {
            Ok(o) if !o.security_groups().is_empty() => Ok(Readiness::Ready),
            Ok(_) => Ok(Readiness::Pending(format!(
                "group {group_id} not visible yet"
            ))),
            Err(e) if e.code() == Some("InvalidGroup.NotFound") => Ok(Readiness::Pending(format!(
                "group {group_id} not visible yet"
            ))),
            Err(e) => Err(classify(&format!("DescribeSecurityGroups {group_id}"), e)),
        }
    }

    /// Revokes the rules that tie this group to the tenant's other groups
    /// (theirs naming it, its own naming them), then deletes it; so groups
    /// that name each other go in any order, as after state loss, when the
    /// sweep finds them in list order. terraform-provider-aws does the same
    /// with `revoke_rules_on_delete` (`ec2/vpc_security_group.go`,
    /// `forceRevokeSecurityGroupRules`). A DependencyViolation left after
    /// that is put down to what holds the group ([`eni_holders`](super::eni_holders)).
    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let group_id = out.require("group_id")?;
        let ec2 = &cx.backends.aws.ec2;
        let vpc_id = out
            .get("vpc_id")
            .map(|v| v.expose())
            .filter(|v| !v.is_empty());
        let foreign = match vpc_id {
            Some(vpc) => revoke_references(cx, vpc, group_id).await?,
            None => Vec::new(),
        };
        let what = format!("DeleteSecurityGroup {group_id}");
        match ec2.delete_security_group().group_id(group_id).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("InvalidGroup.NotFound") => Ok(()),
            Err(e) if e.code() == Some("DependencyViolation") => {
                let message = errors::describe(&what, &e);
                if !foreign.is_empty() {
                    return Err(KindError::Permanent(format!(
                        "{message}; rules of {} name this group, and they are not tenant '{}''s, \
                         so waiting would not help: remove those rules, then run destroy again",
                        foreign.join(", "),
                        cx.tenant
                    )));
                }
                Err(dependency_violation(
                    ec2,
                    &cx.tenant,
                    Held::Group(group_id),
                    message,
                    "the network interfaces or rules that use it",
                )
                .await)
            }
            Err(e) => Err(classify(&what, e)),
        }
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let ec2 = &cx.backends.aws.ec2;
        let mut found = Vec::new();
        let mut items = ec2
            .describe_security_groups()
            .set_filters(Some(sweep_filters(&cx.tenant)))
            .into_paginator()
            .items()
            .send();
        while let Some(g) = items.next().await {
            let g = g.map_err(|e| classify("DescribeSecurityGroups", e))?;
            let t = tag_map(g.tags());
            let (Some(resource_id), Some(id)) = (t.get(tags::RESOURCE), g.group_id()) else {
                continue;
            };
            if !managed_by(&t, cx.tenant.as_str()) {
                continue;
            }
            found.push(Found {
                resource_id: resource_id.clone(),
                outputs: outputs(
                    id,
                    g.group_name().unwrap_or_default(),
                    g.vpc_id().unwrap_or_default(),
                ),
            });
        }
        Ok(found)
    }
}
