//! The Auto Scaling group of `aws.autoscaling.group`: found by name,
//! created, or brought to the spec (sizes, subnets, template, tags, target
//! groups), and why its instances do not come.

use std::collections::BTreeSet;

use aws_sdk_autoscaling::types::{AutoScalingGroup, LaunchTemplateSpecification, Tag as AsgTag};
use aws_sdk_ec2::error::ProvideErrorMetadata;

use super::props::Spec;
use super::template::TEMPLATE_VERSION;
use crate::kinds::aws::classify;
use crate::kinds::aws::ec2::named_tags;
use crate::kinds::aws::owner::Tags;
use crate::kinds::aws::tags::missing;
use crate::kinds::{Cx, KindError};

/// The group called `name`; `None` when there is none.
pub(super) async fn group_by_name(
    asg: &aws_sdk_autoscaling::Client,
    name: &str,
) -> Result<Option<AutoScalingGroup>, KindError> {
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|e| classify(&format!("DescribeAutoScalingGroups {name}"), e))?;
    Ok(out.auto_scaling_groups().first().cloned())
}

/// The group's tags as a map.
pub(super) fn group_tags(g: &AutoScalingGroup) -> Tags {
    g.tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// `pairs` as tags of group `name`, propagated to its instances.
fn asg_tags(name: &str, pairs: Vec<(String, String)>) -> Vec<AsgTag> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            AsgTag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(k)
                .value(v)
                .propagate_at_launch(true)
                .build()
        })
        .collect()
}

fn template_spec(template_id: &str) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder()
        .launch_template_id(template_id)
        .version(TEMPLATE_VERSION)
        .build()
}

pub(super) fn being_deleted(g: &AutoScalingGroup) -> bool {
    g.status()
        .is_some_and(|s| s.to_ascii_lowercase().contains("delete"))
}

/// Brings an existing group to `spec`: sizes, subnets, template, tags and
/// target groups.
pub(super) async fn converge_group(
    cx: &Cx,
    name: &str,
    g: &AutoScalingGroup,
    spec: &Spec,
    template_id: &str,
) -> Result<(), KindError> {
    let asg = &cx.backends.aws.autoscaling;
    let subnets: BTreeSet<&str> = g
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let wanted_subnets: BTreeSet<&str> = spec.subnets.iter().map(String::as_str).collect();
    let template_ok = g.launch_template().is_some_and(|t| {
        t.launch_template_id() == Some(template_id) && t.version() == Some(TEMPLATE_VERSION)
    });
    let desired_ok = spec.desired.is_none_or(|d| g.desired_capacity() == Some(d));
    if g.min_size() != Some(spec.min)
        || g.max_size() != Some(spec.max)
        || !desired_ok
        || subnets != wanted_subnets
        || !template_ok
    {
        asg.update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(spec.min)
            .max_size(spec.max)
            .set_desired_capacity(spec.desired)
            .vpc_zone_identifier(spec.subnets.join(","))
            .launch_template(template_spec(template_id))
            .send()
            .await
            .map_err(|e| classify(&format!("UpdateAutoScalingGroup {name}"), e))?;
    }
    let lacking = missing(&group_tags(g), named_tags(cx, name));
    if !lacking.is_empty() {
        asg.create_or_update_tags()
            .set_tags(Some(asg_tags(name, lacking)))
            .send()
            .await
            .map_err(|e| classify(&format!("CreateOrUpdateTags {name}"), e))?;
    }
    let attached: BTreeSet<&str> = g.target_group_arns().iter().map(String::as_str).collect();
    let to_attach: Vec<String> = spec
        .target_groups
        .iter()
        .filter(|t| !attached.contains(t.as_str()))
        .cloned()
        .collect();
    if !to_attach.is_empty() {
        asg.attach_load_balancer_target_groups()
            .auto_scaling_group_name(name)
            .set_target_group_arns(Some(to_attach))
            .send()
            .await
            .map_err(|e| classify(&format!("AttachLoadBalancerTargetGroups {name}"), e))?;
    }
    Ok(())
}

/// Creates group `name` from `spec` with our tags (Name included),
/// propagated to its instances.
pub(super) async fn create_group(
    cx: &Cx,
    name: &str,
    spec: &Spec,
    template_id: &str,
) -> Result<(), KindError> {
    let asg = &cx.backends.aws.autoscaling;
    match asg
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_template(template_spec(template_id))
        .min_size(spec.min)
        .max_size(spec.max)
        .desired_capacity(spec.desired.unwrap_or(spec.min))
        .vpc_zone_identifier(spec.subnets.join(","))
        .set_target_group_arns(if spec.target_groups.is_empty() {
            None
        } else {
            Some(spec.target_groups.clone())
        })
        .set_tags(Some(asg_tags(name, named_tags(cx, name))))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("AlreadyExists") => Err(KindError::Transient(format!(
            "CreateAutoScalingGroup {name}: created meanwhile; adopting it"
        ))),
        Err(e) => Err(classify(&format!("CreateAutoScalingGroup {name}"), e)),
    }
}

/// The latest failed scaling activity, to say why instances do not come.
pub(super) async fn last_failure(asg: &aws_sdk_autoscaling::Client, name: &str) -> Option<String> {
    let out = asg
        .describe_scaling_activities()
        .auto_scaling_group_name(name)
        .max_records(5)
        .send()
        .await
        .ok()?;
    out.activities()
        .iter()
        .find(|a| a.status_code().is_some_and(|s| s.as_str() == "Failed"))
        .map(|a| {
            a.status_message()
                .or(a.description())
                .unwrap_or("a launch failed")
                .to_string()
        })
}
