//! The `aws.ec2.network` kind: a VPC with two public subnets in two zones, an
//! internet gateway and a route table sending 0.0.0.0/0 to it; or an
//! existing network adopted read-only (`vpc_id`, `subnet_ids`, `vpc_name`,
//! or `shared_from` another tenant's network: see [`ADOPTING_PROPS`]), which
//! envctl never changes nor deletes. This module holds the [`Kind`] impl;
//! [`props`] the properties and the plan, [`create`], [`existing`] and
//! [`delete`] the jobs, [`lookups`] the reads they share.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{SubnetState, VpcState};

use crate::kinds::aws::classify;
use crate::kinds::aws::ec2::{filter, sweep_filters};
use crate::kinds::aws::props::refusal;
use crate::kinds::aws::tags::tag_map;
use crate::kinds::schema::PropSchema;
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, Props, Readiness, SweepCx, parse_props,
};
use crate::tenant::tags;

mod create;
mod delete;
mod existing;
mod lookups;
mod props;

pub use props::ADOPTING_PROPS;
pub(crate) use props::parse_cidr;

use create::apply_create;
use delete::delete_created;
use existing::apply_existing;
use lookups::{describe_igws, describe_subnets, describe_vpcs, vpc_by_id};
use props::{NAME, NetworkProps, OUTPUTS, Plan, SCHEMA, outputs};

pub struct Network;

#[async_trait]
impl Kind for Network {
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

    /// ~30 s: about ten EC2 calls (VPC, two DNS attributes, two subnets,
    /// gateway and attachment, route table, route, two associations), each
    /// answering in about a second; VPCs and subnets go `pending` ->
    /// `available` within seconds, and the EC2 API reference ("Eventual
    /// consistency in the Amazon EC2 API") warns that new resources may not
    /// be visible at once, which costs retries. The figure is an estimate
    /// for the budget's default (the budget learns real ones from past runs).
    fn expected(&self) -> Duration {
        Duration::from_secs(30)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(10 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: NetworkProps = parse_props(props)?;
        match p.plan().map_err(refusal)? {
            Plan::Create {
                cidr,
                subnet_cidrs,
                zones,
            } => apply_create(cx, &cidr, &subnet_cidrs, zones).await,
            Plan::Existing {
                vpc,
                subnet_ids,
                zones,
            } => apply_existing(cx, vpc, subnet_ids, zones).await,
        }
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let ec2 = &cx.backends.aws.ec2;
        let vpc_id = out.require("vpc_id")?;
        let Some(vpc) = vpc_by_id(ec2, vpc_id).await? else {
            return Ok(Readiness::Pending(format!("VPC {vpc_id} not visible yet")));
        };
        if vpc.state() != Some(&VpcState::Available) {
            return Ok(Readiness::Pending(format!(
                "VPC {vpc_id} is {}",
                vpc.state().map_or("in an unknown state", |s| s.as_str())
            )));
        }
        let ids: Vec<String> = out
            .require("subnet_ids")?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let subnets = match ec2
            .describe_subnets()
            .set_subnet_ids(Some(ids.clone()))
            .send()
            .await
        {
            Ok(o) => o.subnets().to_vec(),
            Err(e) if e.code() == Some("InvalidSubnetID.NotFound") => {
                return Ok(Readiness::Pending("subnets not visible yet".into()));
            }
            Err(e) => return Err(classify("DescribeSubnets", e)),
        };
        for id in &ids {
            match subnets.iter().find(|s| s.subnet_id() == Some(id)) {
                None => return Ok(Readiness::Pending(format!("subnet {id} not visible yet"))),
                Some(s) if s.state() != Some(&SubnetState::Available) => {
                    return Ok(Readiness::Pending(format!(
                        "subnet {id} is {}",
                        s.state().map_or("in an unknown state", |s| s.as_str())
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(Readiness::Ready)
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        if out.get("created").map(|v| v.expose()) == Some("false") {
            // An existing network: not ours to delete.
            return Ok(());
        }
        let vpc_id = out
            .get("vpc_id")
            .map(|v| v.expose())
            .filter(|v| !v.is_empty());
        if vpc_id.is_none() && out.get("internet_gateway_id").is_none() {
            return Err(KindError::Permanent("output 'vpc_id' is missing".into()));
        }
        delete_created(cx, vpc_id).await
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let ec2 = &cx.backends.aws.ec2;
        let mut found = Vec::new();
        let mut resources = BTreeSet::new();
        for vpc in describe_vpcs(ec2, sweep_filters(&cx.tenant)).await? {
            let t = tag_map(vpc.tags());
            let (Some(resource_id), Some(vpc_id)) = (t.get(tags::RESOURCE), vpc.vpc_id()) else {
                continue;
            };
            let mut subnets: Vec<(String, String)> =
                describe_subnets(ec2, vec![filter("vpc-id", vpc_id)])
                    .await?
                    .iter()
                    .filter_map(|s| Some((s.cidr_block()?.to_string(), s.subnet_id()?.to_string())))
                    .collect();
            subnets.sort();
            let ids: Vec<String> = subnets.into_iter().map(|(_, id)| id).collect();
            resources.insert(resource_id.clone());
            found.push(Found {
                resource_id: resource_id.clone(),
                outputs: outputs(vpc_id, &ids, vpc.cidr_block().unwrap_or_default(), true),
            });
        }
        // Gateways left by a run that crashed between creating and attaching.
        for igw in describe_igws(ec2, sweep_filters(&cx.tenant)).await? {
            let t = tag_map(igw.tags());
            let (Some(resource_id), Some(id)) = (t.get(tags::RESOURCE), igw.internet_gateway_id())
            else {
                continue;
            };
            if igw.attachments().is_empty() && resources.insert(resource_id.clone()) {
                found.push(Found {
                    resource_id: resource_id.clone(),
                    outputs: Outputs::new()
                        .plain("internet_gateway_id", id)
                        .plain("created", "true"),
                });
            }
        }
        Ok(found)
    }
}
