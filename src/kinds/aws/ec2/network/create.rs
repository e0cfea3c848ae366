//! How `aws.ec2.network` creates a network (or adopts the one an earlier
//! run of this resource made): the VPC with DNS support and hostnames, two
//! subnets, the internet gateway and the public route table.

use std::time::Duration;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, InternetGateway, ResourceType, Subnet, Vpc, VpcAttributeName,
};

use super::lookups::{
    default_zones, describe_igws, describe_route_tables, describe_subnets, describe_vpcs, vpc_by_id,
};
use super::props::{SUBNETS, outputs};
use crate::kinds::aws::call::client_token;
use crate::kinds::aws::ec2::{configure_error, filter, ours_filters, tag_spec};
use crate::kinds::aws::{classify, unanswered};
use crate::kinds::{Cx, KindError, Outputs};

/// Longest `Name` tag value we write (EC2 allows 256 characters).
const MAX_NAME: usize = 128;

/// Finds the VPC tagged as this resource, or creates it.
async fn ensure_vpc(cx: &Cx, name: &str, cidr: &str) -> Result<String, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let what = format!("CreateVpc {cidr}");
    let mut found = describe_vpcs(ec2, ours_filters(&cx.tenant, &cx.resource_id)).await?;
    if found.is_empty()
        && let Some(id) = unanswered::remembered(cx, &what)
    {
        // This process made it: read it by id, never make a second one.
        found.push(
            vpc_by_id(ec2, &id)
                .await?
                .ok_or_else(|| unanswered::not_visible_yet(&what, &id, "the VPC"))?,
        );
    }
    let vpc = match found.as_slice() {
        [] => {
            // CreateVpc takes no ClientToken (API reference: no such
            // parameter; terraform-provider-aws ec2/vpc_.go creates without
            // one). The tags on create make a VPC from a crashed run
            // findable by the lookup above, once EC2's eventual consistency
            // lets it; an unanswered create holds the next one back until
            // then (see `unanswered`), and the SDK does not resend it.
            unanswered::may_create(cx, &what, "the VPC")?;
            let out = match ec2
                .create_vpc()
                .cidr_block(cidr)
                .tag_specifications(tag_spec(ResourceType::Vpc, cx, name))
                .customize()
                .config_override(unanswered::sdk_retries_off())
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    unanswered::record_if_ambiguous(cx, &what, &e);
                    return Err(classify(&what, e));
                }
            };
            let vpc = out
                .vpc()
                .cloned()
                .ok_or_else(|| KindError::Permanent("CreateVpc: no VPC in answer".into()))?;
            if let Some(id) = vpc.vpc_id() {
                unanswered::remember(cx, &what, id);
            }
            vpc
        }
        [one] => one.clone(),
        many => {
            let ids: Vec<&str> = many.iter().filter_map(Vpc::vpc_id).collect();
            return Err(KindError::Permanent(format!(
                "{} VPCs are tagged as resource '{}' of tenant '{}' ({}); delete the extra ones \
                 (they were not made by envctl's apply, which adopts before creating)",
                ids.len(),
                cx.resource_id,
                cx.tenant,
                ids.join(", ")
            )));
        }
    };
    let vpc_id = vpc
        .vpc_id()
        .ok_or_else(|| KindError::Permanent("VPC without id".into()))?
        .to_string();
    if vpc.cidr_block() != Some(cidr) {
        return Err(KindError::Permanent(format!(
            "VPC {vpc_id} exists with CIDR {} but cidr is {cidr}; a VPC's primary block cannot \
             change: set cidr back, or destroy the network and create it again",
            vpc.cidr_block().unwrap_or("?")
        )));
    }
    // Instances and load balancers need DNS names inside the VPC (support
    // first: hostnames require it). One attribute per call (an EC2 rule);
    // read first so that an apply with nothing to do changes nothing.
    for attribute in [
        VpcAttributeName::EnableDnsSupport,
        VpcAttributeName::EnableDnsHostnames,
    ] {
        let now = ec2
            .describe_vpc_attribute()
            .vpc_id(&vpc_id)
            .attribute(attribute.clone())
            .send()
            .await
            .map_err(|e| configure_error(&format!("DescribeVpcAttribute {vpc_id}"), e))?;
        let enabled = match attribute {
            VpcAttributeName::EnableDnsSupport => now.enable_dns_support(),
            _ => now.enable_dns_hostnames(),
        }
        .and_then(AttributeBooleanValue::value)
        .unwrap_or(false);
        if enabled {
            continue;
        }
        let on = AttributeBooleanValue::builder().value(true).build();
        let call = ec2.modify_vpc_attribute().vpc_id(&vpc_id);
        let call = match attribute {
            VpcAttributeName::EnableDnsSupport => call.enable_dns_support(on),
            _ => call.enable_dns_hostnames(on),
        };
        call.send()
            .await
            .map_err(|e| configure_error(&format!("ModifyVpcAttribute {vpc_id}"), e))?;
    }
    Ok(vpc_id)
}

/// Finds subnet `i` (by its CIDR block, unique in a VPC) or creates it.
async fn ensure_subnet(
    cx: &Cx,
    name: &str,
    vpc_id: &str,
    cidr: &str,
    zone: &str,
    zone_given: bool,
) -> Result<String, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let found = describe_subnets(
        ec2,
        vec![filter("vpc-id", vpc_id), filter("cidr-block", cidr)],
    )
    .await?;
    if let Some(s) = found.first() {
        let id = s.subnet_id().unwrap_or_default().to_string();
        if zone_given && s.availability_zone() != Some(zone) {
            return Err(KindError::Permanent(format!(
                "subnet {id} ({cidr}) exists in zone {} but availability_zones asks for {zone}; \
                 a subnet cannot move: restore availability_zones or recreate the network",
                s.availability_zone().unwrap_or("?")
            )));
        }
        return Ok(id);
    }
    // No ClientToken either, but a CIDR block is unique in a VPC: a second
    // CreateSubnet of the same block answers InvalidSubnet.Conflict, which
    // then means that the lookup above does not show ours yet.
    let what = format!("CreateSubnet {cidr} in {zone}");
    unanswered::may_create(cx, &what, "the subnet")?;
    let out = match ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(cidr)
        .availability_zone(zone)
        .tag_specifications(tag_spec(ResourceType::Subnet, cx, name))
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.code() == Some("InvalidSubnet.Conflict") => {
            return Err(KindError::waiting(
                format!("{what}: a subnet with this block exists but the lookup does not show it"),
                format!("subnet {cidr} to become visible (EC2 is eventually consistent)"),
                Duration::from_secs(5 * 60),
            ));
        }
        Err(e) => {
            unanswered::record_if_ambiguous(cx, &what, &e);
            return Err(configure_error(&what, e));
        }
    };
    out.subnet()
        .and_then(Subnet::subnet_id)
        .map(str::to_string)
        .ok_or_else(|| KindError::Permanent("CreateSubnet: no subnet in answer".into()))
}

/// The internet gateway attached to the VPC; else ours (tagged) attached
/// now; else a new one.
async fn ensure_igw(cx: &Cx, name: &str, vpc_id: &str) -> Result<String, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let attached = describe_igws(ec2, vec![filter("attachment.vpc-id", vpc_id)]).await?;
    if let Some(id) = attached
        .first()
        .and_then(InternetGateway::internet_gateway_id)
    {
        return Ok(id.to_string());
    }
    let tagged = describe_igws(ec2, ours_filters(&cx.tenant, &cx.resource_id)).await?;
    let what = format!("CreateInternetGateway for {vpc_id}");
    let made_here = unanswered::remembered(cx, &what);
    let id = match tagged
        .iter()
        .find(|g| g.attachments().is_empty())
        .and_then(InternetGateway::internet_gateway_id)
    {
        Some(id) => id.to_string(),
        // This process made it (the attach failed): read it by id.
        None if made_here.is_some() => {
            let id = made_here.unwrap_or_default();
            let by_id = describe_igws(ec2, vec![filter("internet-gateway-id", &id)]).await?;
            if by_id.is_empty() {
                return Err(unanswered::not_visible_yet(
                    &what,
                    &id,
                    "the internet gateway",
                ));
            }
            id
        }
        // No ClientToken (API reference), nothing unique: the tags on
        // create, the marker of an unanswered create and no SDK resend are
        // what keep it to one gateway.
        None => {
            unanswered::may_create(cx, &what, "the internet gateway")?;
            match ec2
                .create_internet_gateway()
                .tag_specifications(tag_spec(ResourceType::InternetGateway, cx, name))
                .customize()
                .config_override(unanswered::sdk_retries_off())
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    unanswered::record_if_ambiguous(cx, &what, &e);
                    return Err(classify(&what, e));
                }
            }
            .internet_gateway()
            .and_then(InternetGateway::internet_gateway_id)
            .map(str::to_string)
            .ok_or_else(|| {
                KindError::Permanent("CreateInternetGateway: no gateway in answer".into())
            })
            .inspect(|id| unanswered::remember(cx, &what, id))?
        }
    };
    match ec2
        .attach_internet_gateway()
        .internet_gateway_id(&id)
        .vpc_id(vpc_id)
        .send()
        .await
    {
        Ok(_) => Ok(id),
        // Attached meanwhile (a concurrent run): use what is attached now.
        Err(e) if e.code() == Some("Resource.AlreadyAssociated") => Err(KindError::Transient(
            format!("AttachInternetGateway {id}: the VPC got a gateway meanwhile; looking again"),
        )),
        Err(e) => Err(configure_error(
            &format!("AttachInternetGateway {id} to {vpc_id}"),
            e,
        )),
    }
}

/// Our route table with 0.0.0.0/0 to the gateway, associated with the subnets.
async fn ensure_route_table(
    cx: &Cx,
    name: &str,
    vpc_id: &str,
    igw_id: &str,
    subnets: &[String],
) -> Result<(), KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let mut filters = ours_filters(&cx.tenant, &cx.resource_id);
    filters.push(filter("vpc-id", vpc_id));
    let found = describe_route_tables(ec2, filters).await?;
    let table = match found.into_iter().next() {
        Some(t) => t,
        None => ec2
            .create_route_table()
            .vpc_id(vpc_id)
            .client_token(client_token(&["route-table", vpc_id, name]))
            .tag_specifications(tag_spec(ResourceType::RouteTable, cx, name))
            .send()
            .await
            .map_err(|e| configure_error(&format!("CreateRouteTable in {vpc_id}"), e))?
            .route_table()
            .cloned()
            .ok_or_else(|| KindError::Permanent("CreateRouteTable: no table in answer".into()))?,
    };
    let table_id = table
        .route_table_id()
        .ok_or_else(|| KindError::Permanent("route table without id".into()))?
        .to_string();

    let default_route = table
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"));
    match default_route {
        Some(r) if r.gateway_id() == Some(igw_id) => {}
        Some(_) => {
            ec2.replace_route()
                .route_table_id(&table_id)
                .destination_cidr_block("0.0.0.0/0")
                .gateway_id(igw_id)
                .send()
                .await
                .map_err(|e| configure_error(&format!("ReplaceRoute in {table_id}"), e))?;
        }
        None => match ec2
            .create_route()
            .route_table_id(&table_id)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(igw_id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("RouteAlreadyExists") => {}
            Err(e) => return Err(configure_error(&format!("CreateRoute in {table_id}"), e)),
        },
    }

    for subnet in subnets {
        if table
            .associations()
            .iter()
            .any(|a| a.subnet_id() == Some(subnet))
        {
            continue;
        }
        match ec2
            .associate_route_table()
            .route_table_id(&table_id)
            .subnet_id(subnet)
            .send()
            .await
        {
            Ok(_) => {}
            // The subnet has another table: switch it to ours.
            Err(e) if e.code() == Some("Resource.AlreadyAssociated") => {
                let other =
                    describe_route_tables(ec2, vec![filter("association.subnet-id", subnet)])
                        .await?;
                let assoc = other
                    .iter()
                    .flat_map(|t| t.associations())
                    .find(|a| a.subnet_id() == Some(subnet))
                    .and_then(|a| a.route_table_association_id())
                    .ok_or_else(|| {
                        KindError::Transient(format!(
                            "subnet {subnet} is associated with a route table that cannot be found yet"
                        ))
                    })?;
                ec2.replace_route_table_association()
                    .association_id(assoc)
                    .route_table_id(&table_id)
                    .send()
                    .await
                    .map_err(|e| {
                        configure_error(&format!("ReplaceRouteTableAssociation {subnet}"), e)
                    })?;
            }
            Err(e) => {
                return Err(configure_error(
                    &format!("AssociateRouteTable {table_id} {subnet}"),
                    e,
                ));
            }
        }
    }
    Ok(())
}

pub(super) async fn apply_create(
    cx: &Cx,
    cidr: &str,
    subnet_cidrs: &[String; SUBNETS],
    zones: Option<Vec<String>>,
) -> Result<Outputs, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let name = cx.physical_name(MAX_NAME);
    let zone_given = zones.is_some();
    let zones = match zones {
        Some(z) => z,
        None => default_zones(ec2).await?,
    };
    let vpc_id = ensure_vpc(cx, &name, cidr).await?;
    let mut subnets = Vec::with_capacity(SUBNETS);
    for (i, (sub_cidr, zone)) in subnet_cidrs.iter().zip(&zones).enumerate() {
        let suffix = if i == 0 { "a" } else { "b" };
        let sub_name = format!("{name}-{suffix}");
        subnets.push(ensure_subnet(cx, &sub_name, &vpc_id, sub_cidr, zone, zone_given).await?);
    }
    let igw_id = ensure_igw(cx, &name, &vpc_id).await?;
    ensure_route_table(cx, &format!("{name}-public"), &vpc_id, &igw_id, &subnets).await?;
    Ok(outputs(&vpc_id, &subnets, cidr, true))
}
