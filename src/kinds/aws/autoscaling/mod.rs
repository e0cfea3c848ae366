//! The `aws.autoscaling.group` kind: a launch template and an Auto Scaling
//! group of EC2 instances from it, spread over the given subnets. Both carry
//! the tenant's tags; the group propagates them to its instances.
//!
//! This module holds the [`Kind`] impl; [`props`] the properties and the
//! checked spec, [`template`] the launch template, [`group`] the group.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::LifecycleState;
use aws_sdk_ec2::error::ProvideErrorMetadata;

use crate::kinds::aws::classify;
use crate::kinds::aws::ec2::sweep_filters;
use crate::kinds::aws::owner::{managed_by, refuse_foreign};
use crate::kinds::aws::props::refusal;
use crate::kinds::aws::tags::tag_map;
use crate::kinds::schema::PropSchema;
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, Props, Readiness, SweepCx, parse_props,
};
use crate::tenant::tags;

mod group;
mod props;
mod template;

use group::{being_deleted, converge_group, create_group, group_by_name, group_tags, last_failure};
use props::{GroupProps, NAME, OUTPUTS, SCHEMA, outputs};
use template::{delete_template, ensure_template, template_by_name};

/// Launch template names are at most 128 characters (group names 255); one
/// name serves both.
const MAX_NAME: usize = 128;
/// How long the group may take to terminate its instances and disappear
/// after DeleteAutoScalingGroup with ForceDelete (Auto Scaling API
/// reference: "deletes the group along with all instances associated with
/// the group, without waiting for all instances to be terminated"); its
/// launch template is deleted only after that.
const GROUP_GONE_WITHIN: Duration = Duration::from_secs(30 * 60);

pub struct Group;

#[async_trait]
impl Kind for Group {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "autoscaling"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// ~90 s: the template and group exist within seconds; readiness waits
    /// for the instances to be InService, i.e. launched (`pending` ->
    /// `running`, typically well under a minute for an EBS-backed Amazon
    /// Linux 2023 instance) and passing the EC2 status health check. No
    /// lifecycle hooks or ELB health checks are involved. An estimate for the
    /// budget's default.
    fn expected(&self) -> Duration {
        Duration::from_secs(90)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(15 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: GroupProps = parse_props(props)?;
        let spec = p.spec().map_err(refusal)?;
        let name = cx.physical_name(MAX_NAME);
        let asg = &cx.backends.aws.autoscaling;

        let existing = group_by_name(asg, &name).await?;
        if let Some(g) = &existing {
            refuse_foreign(&format!("auto scaling group {name}"), &group_tags(g), cx)?;
            if being_deleted(g) {
                return Err(KindError::Transient(format!(
                    "auto scaling group {name} is being deleted; waiting before creating it again"
                )));
            }
        }
        let template_id = ensure_template(cx, &name, &spec).await?;
        match existing {
            Some(g) => converge_group(cx, &name, &g, &spec, &template_id).await?,
            // moto 5.2 replaces an existing group on a second
            // CreateAutoScalingGroup instead of answering AlreadyExists, so
            // the lookup above is what keeps this idempotent there.
            None => create_group(cx, &name, &spec, &template_id).await?,
        }
        let g = group_by_name(asg, &name).await?.ok_or_else(|| {
            KindError::Transient(format!("auto scaling group {name} is not visible yet"))
        })?;
        let arn = g.auto_scaling_group_arn().unwrap_or_default();
        Ok(outputs(&name, arn, &template_id))
    }

    /// Ready when at least the desired number of instances (and at least
    /// `min`) are InService and Healthy, as DescribeAutoScalingGroups
    /// reports them. moto launches the instances at once as InService, so
    /// there the same check passes on the first poll.
    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let name = out.require("name")?;
        let asg = &cx.backends.aws.autoscaling;
        let Some(g) = group_by_name(asg, name).await? else {
            return Ok(Readiness::Pending(format!("group {name} not visible yet")));
        };
        let wanted = g
            .desired_capacity()
            .unwrap_or(0)
            .max(g.min_size().unwrap_or(0));
        let in_service = g
            .instances()
            .iter()
            .filter(|i| {
                i.lifecycle_state() == Some(&LifecycleState::InService)
                    && i.health_status()
                        .is_none_or(|h| h.eq_ignore_ascii_case("healthy"))
            })
            .count() as i32;
        if in_service >= wanted {
            return Ok(Readiness::Ready);
        }
        let why = match last_failure(asg, name).await {
            Some(f) => format!("; last launch failure: {f}"),
            None => String::new(),
        };
        Ok(Readiness::Pending(format!(
            "{in_service}/{wanted} instances InService{why}"
        )))
    }

    /// Starts deleting the group (ForceDelete terminates its instances); the
    /// group disappears when they are gone, and only then can the launch
    /// template go: while the group is still there this answers Waiting,
    /// and the engine calls it again.
    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let name = out.require("name")?;
        let asg = &cx.backends.aws.autoscaling;
        let ec2 = &cx.backends.aws.ec2;
        if let Some(g) = group_by_name(asg, name).await? {
            refuse_foreign(&format!("auto scaling group {name}"), &group_tags(&g), cx)?;
            if !being_deleted(&g) {
                match asg
                    .delete_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .force_delete(true)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e)
                        if e.code() == Some("ValidationError")
                            && e.message().is_some_and(|m| m.contains("not found")) => {}
                    Err(e)
                        if matches!(
                            e.code(),
                            Some("ResourceInUse" | "ScalingActivityInProgress")
                        ) =>
                    {
                        return Err(KindError::Transient(format!(
                            "DeleteAutoScalingGroup {name}: a scaling activity is in progress"
                        )));
                    }
                    Err(e) => return Err(classify(&format!("DeleteAutoScalingGroup {name}"), e)),
                }
            }
            // ForceDelete terminates the instances; the group disappears
            // when they are gone. Only then can the template go.
            if group_by_name(asg, name).await?.is_some() {
                return Err(KindError::waiting(
                    format!("auto scaling group {name} is still terminating its instances"),
                    format!("auto scaling group {name} to go before its launch template"),
                    GROUP_GONE_WITHIN,
                ));
            }
        }
        let template_id = out.get("launch_template_id").map(|v| v.expose());
        delete_template(ec2, template_id.filter(|t| !t.is_empty()), Some(name)).await
    }

    /// Gone when neither the group nor its launch template is found.
    async fn gone(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let name = out.require("name")?;
        if let Some(g) = group_by_name(&cx.backends.aws.autoscaling, name).await? {
            return Ok(Readiness::Pending(format!(
                "auto scaling group {name} is {}",
                g.status().unwrap_or("still there")
            )));
        }
        if template_by_name(&cx.backends.aws.ec2, name)
            .await?
            .is_some()
        {
            return Ok(Readiness::Pending(format!(
                "launch template {name} is still there"
            )));
        }
        Ok(Readiness::Ready)
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let asg = &cx.backends.aws.autoscaling;
        let ec2 = &cx.backends.aws.ec2;
        let mut found = Vec::new();
        let mut names = BTreeSet::new();
        let filters = [tags::TENANT, tags::MANAGED].map(|k| {
            let v = if k == tags::TENANT {
                cx.tenant.as_str()
            } else {
                "true"
            };
            aws_sdk_autoscaling::types::Filter::builder()
                .name(format!("tag:{k}"))
                .values(v)
                .build()
        });
        let mut items = asg
            .describe_auto_scaling_groups()
            .set_filters(Some(filters.to_vec()))
            .into_paginator()
            .items()
            .send();
        while let Some(g) = items.next().await {
            let g = g.map_err(|e| classify("DescribeAutoScalingGroups", e))?;
            let t = group_tags(&g);
            let (Some(resource_id), Some(name)) =
                (t.get(tags::RESOURCE), g.auto_scaling_group_name())
            else {
                continue;
            };
            if !managed_by(&t, cx.tenant.as_str()) {
                continue;
            }
            names.insert(name.to_string());
            let template_id = g
                .launch_template()
                .and_then(|l| l.launch_template_id())
                .unwrap_or_default();
            found.push(Found {
                resource_id: resource_id.clone(),
                outputs: outputs(
                    name,
                    g.auto_scaling_group_arn().unwrap_or_default(),
                    template_id,
                ),
            });
        }
        // Templates whose group was never made (or is gone).
        let mut items = ec2
            .describe_launch_templates()
            .set_filters(Some(sweep_filters(&cx.tenant)))
            .into_paginator()
            .items()
            .send();
        while let Some(lt) = items.next().await {
            let lt = lt.map_err(|e| classify("DescribeLaunchTemplates", e))?;
            let t = tag_map(lt.tags());
            let (Some(resource_id), Some(name), Some(id)) = (
                t.get(tags::RESOURCE),
                lt.launch_template_name(),
                lt.launch_template_id(),
            ) else {
                continue;
            };
            if managed_by(&t, cx.tenant.as_str()) && !names.contains(name) {
                found.push(Found {
                    resource_id: resource_id.clone(),
                    outputs: Outputs::new()
                        .plain("name", name)
                        .plain("launch_template_id", id),
                });
            }
        }
        Ok(found)
    }
}
