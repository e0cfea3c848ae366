//! The reads of `aws.ec2.network`: VPCs, subnets, internet gateways and
//! route tables by filter or id, and the region's default zones.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, InternetGateway, RouteTable, Subnet, Vpc};

use super::props::SUBNETS;
use crate::kinds::KindError;
use crate::kinds::aws::call::found;
use crate::kinds::aws::classify;
use crate::kinds::aws::ec2::filter;

pub(super) async fn describe_vpcs(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
) -> Result<Vec<Vpc>, KindError> {
    ec2.describe_vpcs()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| classify("DescribeVpcs", e))
}

/// One VPC by id; `None` when it does not exist.
pub(super) async fn vpc_by_id(
    ec2: &aws_sdk_ec2::Client,
    vpc_id: &str,
) -> Result<Option<Vpc>, KindError> {
    Ok(found(
        &format!("DescribeVpcs {vpc_id}"),
        ec2.describe_vpcs().vpc_ids(vpc_id).send().await,
        &["InvalidVpcID.NotFound"],
    )?
    .and_then(|out| out.vpcs().first().cloned()))
}

pub(super) async fn describe_subnets(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
) -> Result<Vec<Subnet>, KindError> {
    ec2.describe_subnets()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| classify("DescribeSubnets", e))
}

/// Subnets by id; a missing one is a permanent error naming it.
pub(super) async fn subnets_by_id(
    ec2: &aws_sdk_ec2::Client,
    ids: &[String],
) -> Result<Vec<Subnet>, KindError> {
    let found = match ec2
        .describe_subnets()
        .set_subnet_ids(Some(ids.to_vec()))
        .send()
        .await
    {
        Ok(out) => out.subnets().to_vec(),
        Err(e) if e.code() == Some("InvalidSubnetID.NotFound") => {
            return Err(KindError::Permanent(format!(
                "properties: subnet_ids: {}",
                e.message().unwrap_or("a subnet does not exist")
            )));
        }
        Err(e) => return Err(classify("DescribeSubnets", e)),
    };
    // Keep the order given.
    ids.iter()
        .map(|id| {
            found
                .iter()
                .find(|s| s.subnet_id() == Some(id))
                .cloned()
                .ok_or_else(|| {
                    KindError::Permanent(format!("properties: subnet_ids: {id} does not exist"))
                })
        })
        .collect()
}

pub(super) async fn describe_igws(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
) -> Result<Vec<InternetGateway>, KindError> {
    ec2.describe_internet_gateways()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| classify("DescribeInternetGateways", e))
}

pub(super) async fn describe_route_tables(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
) -> Result<Vec<RouteTable>, KindError> {
    ec2.describe_route_tables()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| classify("DescribeRouteTables", e))
}

/// The region's first two available zones (sorted by name; local and
/// wavelength zones left out).
pub(super) async fn default_zones(ec2: &aws_sdk_ec2::Client) -> Result<Vec<String>, KindError> {
    let out = ec2
        .describe_availability_zones()
        .filters(filter("state", "available"))
        .send()
        .await
        .map_err(|e| classify("DescribeAvailabilityZones", e))?;
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    zones.dedup();
    if zones.len() < SUBNETS {
        return Err(KindError::Permanent(format!(
            "the region has {} available zone(s); a network needs two",
            zones.len()
        )));
    }
    zones.truncate(SUBNETS);
    Ok(zones)
}
