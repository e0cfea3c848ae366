//! How `aws.ec2.network` adopts an existing network read-only (`vpc_id`,
//! `subnet_ids`, `vpc_name` or `shared_from`): find the VPC and two subnets
//! in two zones, refuse another tenant's unless shared on purpose, change
//! nothing.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, Subnet, Vpc};

use super::lookups::{describe_subnets, describe_vpcs, subnets_by_id, vpc_by_id};
use super::props::{SUBNETS, VpcLookup, outputs, parse_cidr};
use crate::kinds::aws::ec2::filter;
use crate::kinds::aws::owner::refuse_foreign;
use crate::kinds::aws::tags::tag_map;
use crate::kinds::{Cx, KindError, Outputs};
use crate::tenant::tags;

/// The one VPC `filters` match, or a permanent error saying what `wanted`
/// found instead.
async fn one_vpc(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
    wanted: &str,
    fix: &str,
) -> Result<String, KindError> {
    let found = describe_vpcs(ec2, filters).await?;
    let ids: Vec<&str> = found.iter().filter_map(Vpc::vpc_id).collect();
    match ids.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(KindError::Permanent(format!(
            "properties: no VPC is {wanted} in this account and region; {fix}"
        ))),
        many => Err(KindError::Permanent(format!(
            "properties: {} VPCs are {wanted} ({}); give vpc_id to pick one",
            many.len(),
            many.join(", ")
        ))),
    }
}

/// Adopts an existing network: reads it, creates nothing, and never
/// deletes, re-tags or changes it (`created` is "false", so `delete` leaves
/// it, and it carries no tags of this tenant, so the sweep never finds it).
pub(super) async fn apply_existing(
    cx: &Cx,
    lookup: VpcLookup,
    subnet_ids: Option<Vec<String>>,
    zones: Option<Vec<String>>,
) -> Result<Outputs, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let subnets = match &subnet_ids {
        Some(ids) => subnets_by_id(ec2, ids).await?,
        None => Vec::new(),
    };
    // Another tenant's network may only be used when the stack says so.
    let shared = matches!(lookup, VpcLookup::Shared { .. });
    let vpc_id = match lookup {
        VpcLookup::Id(Some(v)) => Some(v),
        VpcLookup::Id(None) => None,
        VpcLookup::Name(n) => Some(
            one_vpc(
                ec2,
                vec![filter("tag:Name", n.as_str())],
                &format!("named '{n}' (tag Name)"),
                "check vpc_name, or give vpc_id",
            )
            .await?,
        ),
        VpcLookup::Shared { tenant, resource } => Some(
            one_vpc(
                ec2,
                vec![
                    filter(&format!("tag:{}", tags::TENANT), tenant.as_str()),
                    filter(&format!("tag:{}", tags::RESOURCE), resource.as_str()),
                    filter(&format!("tag:{}", tags::MANAGED), "true"),
                ],
                &format!("the network '{resource}' of tenant '{tenant}'"),
                &format!(
                    "create the shared network first (e.g. envctl create tenant {tenant} \
                     --stack stacks/shared-network.yaml)"
                ),
            )
            .await?,
        ),
    };
    let vpc_id = match vpc_id {
        Some(v) => v,
        None => subnets
            .first()
            .and_then(Subnet::vpc_id)
            .map(str::to_string)
            .ok_or_else(|| KindError::Permanent("properties: subnet_ids: no VPC".into()))?,
    };
    if let Some(s) = subnets.iter().find(|s| s.vpc_id() != Some(vpc_id.as_str())) {
        return Err(KindError::Permanent(format!(
            "properties: subnet {} is in VPC {}, not in {vpc_id}; all subnet_ids must be in one VPC",
            s.subnet_id().unwrap_or("?"),
            s.vpc_id().unwrap_or("?")
        )));
    }
    let vpc = vpc_by_id(ec2, &vpc_id).await?.ok_or_else(|| {
        KindError::Permanent(format!("properties: vpc_id: VPC {vpc_id} does not exist"))
    })?;
    if !shared {
        refuse_foreign(&format!("VPC {vpc_id}"), &tag_map(vpc.tags()), cx).map_err(|e| {
            KindError::Permanent(format!(
                "{e}; to share another tenant's network on purpose, use shared_from: \
                 <tenant>/<resource>"
            ))
        })?;
    }

    let chosen: Vec<String> = match subnet_ids {
        Some(ids) => ids,
        None => {
            // One subnet per zone (the lowest CIDR block), in the zones asked
            // for or the first two zones that have subnets.
            let all = describe_subnets(ec2, vec![filter("vpc-id", &vpc_id)]).await?;
            let mut by_zone: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
            for s in &all {
                let (Some(zone), Some(id)) = (s.availability_zone(), s.subnet_id()) else {
                    continue;
                };
                let start = s
                    .cidr_block()
                    .and_then(|c| parse_cidr(c).ok())
                    .map_or(u32::MAX, |(a, _)| u32::from(a));
                by_zone
                    .entry(zone.to_string())
                    .or_default()
                    .push((start, id.to_string()));
            }
            let order: Vec<String> = match &zones {
                Some(z) => z.clone(),
                None => by_zone.keys().cloned().collect(),
            };
            let picked: Vec<String> = order
                .iter()
                .filter_map(|z| {
                    by_zone
                        .get(z)
                        .and_then(|v| v.iter().min())
                        .map(|(_, id)| id.clone())
                })
                .take(SUBNETS)
                .collect();
            if picked.len() < SUBNETS {
                return Err(KindError::Permanent(format!(
                    "VPC {vpc_id} has subnets in {} of the zones wanted ({}); a network needs \
                     subnets in two zones: give subnet_ids, or other availability_zones",
                    picked.len(),
                    order.join(", ")
                )));
            }
            picked
        }
    };
    Ok(outputs(
        &vpc_id,
        &chosen,
        vpc.cidr_block().unwrap_or_default(),
        false,
    ))
}
