//! How `aws.ec2.network` deletes a network it created: route tables,
//! internet gateway, subnets, then the VPC, each DependencyViolation put
//! down to what still holds it
//! ([`eni_holders`](crate::kinds::aws::ec2::eni_holders)).

use std::time::Duration;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::InternetGateway;

use super::lookups::{describe_igws, describe_route_tables, describe_subnets, vpc_by_id};
use crate::kinds::aws::ec2::eni_holders::{Held, dependency_violation};
use crate::kinds::aws::ec2::{filter, ours_filters};
use crate::kinds::aws::owner::managed_by;
use crate::kinds::aws::tags::tag_map;
use crate::kinds::aws::{classify, errors, unanswered};
use crate::kinds::{Cx, KindError};
use crate::tenant::TenantName;

/// What besides network interfaces still holds a VPC (its security groups
/// other than the default one), for the message of a DependencyViolation.
async fn vpc_dependents(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> String {
    let groups: Vec<String> = match ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
    {
        Ok(out) => out
            .security_groups()
            .iter()
            .filter(|g| g.group_name() != Some("default"))
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect(),
        Err(_) => Vec::new(),
    };
    if groups.is_empty() {
        "the VPC's remaining dependencies".into()
    } else {
        format!("security groups {}", groups.join(", "))
    }
}

async fn delete_igw(
    ec2: &aws_sdk_ec2::Client,
    tenant: &TenantName,
    igw: &InternetGateway,
) -> Result<(), KindError> {
    let Some(id) = igw.internet_gateway_id() else {
        return Ok(());
    };
    for a in igw.attachments() {
        let Some(vpc) = a.vpc_id() else { continue };
        match ec2
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.code(),
                    Some("Gateway.NotAttached" | "InvalidInternetGatewayID.NotFound")
                ) => {}
            // Public addresses still mapped in the VPC (API reference,
            // DetachInternetGateway: "The VPC must not contain any running
            // instances with Elastic IP addresses or public IPv4
            // addresses"): they go with their instances or load balancers.
            Err(e) if e.code() == Some("DependencyViolation") => {
                let message = errors::describe(&format!("DetachInternetGateway {id}"), &e);
                return Err(dependency_violation(
                    ec2,
                    tenant,
                    Held::Vpc(vpc),
                    message,
                    "the public addresses mapped in the VPC",
                )
                .await);
            }
            Err(e) => return Err(classify(&format!("DetachInternetGateway {id}"), e)),
        }
    }
    match ec2
        .delete_internet_gateway()
        .internet_gateway_id(id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("InvalidInternetGatewayID.NotFound") => Ok(()),
        Err(e) if e.code() == Some("DependencyViolation") => Err(KindError::waiting(
            errors::describe(&format!("DeleteInternetGateway {id}"), &e),
            "the gateway's detachment to take effect",
            Duration::from_secs(5 * 60),
        )),
        Err(e) => Err(classify(&format!("DeleteInternetGateway {id}"), e)),
    }
}

/// Deletes the network a `Create` apply made: route tables, gateway,
/// subnets, then the VPC.
pub(super) async fn delete_created(cx: &Cx, vpc_id: Option<&str>) -> Result<(), KindError> {
    let ec2 = &cx.backends.aws.ec2;
    if let Some(vpc_id) = vpc_id
        && let Some(vpc) = vpc_by_id(ec2, vpc_id).await?
    {
        let t = tag_map(vpc.tags());
        if !managed_by(&t, cx.tenant.as_str()) {
            return Err(KindError::Permanent(format!(
                "refusing to delete VPC {vpc_id}: it is not tagged as a managed resource of \
                 tenant '{}'",
                cx.tenant
            )));
        }
        // Route tables other than the main one: associations first.
        for table in describe_route_tables(ec2, vec![filter("vpc-id", vpc_id)]).await? {
            let Some(table_id) = table.route_table_id() else {
                continue;
            };
            if table.associations().iter().any(|a| a.main() == Some(true)) {
                continue;
            }
            for a in table.associations() {
                let Some(assoc) = a.route_table_association_id() else {
                    continue;
                };
                match ec2
                    .disassociate_route_table()
                    .association_id(assoc)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.code() == Some("InvalidAssociationID.NotFound") => {}
                    Err(e) => return Err(classify(&format!("DisassociateRouteTable {assoc}"), e)),
                }
            }
            match ec2
                .delete_route_table()
                .route_table_id(table_id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("InvalidRouteTableID.NotFound") => {}
                Err(e) if e.code() == Some("DependencyViolation") => {
                    return Err(KindError::Transient(format!(
                        "DeleteRouteTable {table_id}: still associated"
                    )));
                }
                Err(e) => return Err(classify(&format!("DeleteRouteTable {table_id}"), e)),
            }
        }
        for igw in describe_igws(ec2, vec![filter("attachment.vpc-id", vpc_id)]).await? {
            delete_igw(ec2, &cx.tenant, &igw).await?;
        }
        for subnet in describe_subnets(ec2, vec![filter("vpc-id", vpc_id)]).await? {
            let Some(id) = subnet.subnet_id() else {
                continue;
            };
            match ec2.delete_subnet().subnet_id(id).send().await {
                Ok(_) => {}
                Err(e) if e.code() == Some("InvalidSubnetID.NotFound") => {}
                Err(e) if e.code() == Some("DependencyViolation") => {
                    let message = errors::describe(&format!("DeleteSubnet {id}"), &e);
                    return Err(dependency_violation(
                        ec2,
                        &cx.tenant,
                        Held::Subnet(id),
                        message,
                        "what still uses the subnet",
                    )
                    .await);
                }
                Err(e) => return Err(classify(&format!("DeleteSubnet {id}"), e)),
            }
        }
        match ec2.delete_vpc().vpc_id(vpc_id).send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("InvalidVpcID.NotFound") => {}
            Err(e) if e.code() == Some("DependencyViolation") => {
                let message = errors::describe(&format!("DeleteVpc {vpc_id}"), &e);
                let other = vpc_dependents(ec2, vpc_id).await;
                return Err(dependency_violation(
                    ec2,
                    &cx.tenant,
                    Held::Vpc(vpc_id),
                    message,
                    &other,
                )
                .await);
            }
            Err(e) => return Err(classify(&format!("DeleteVpc {vpc_id}"), e)),
        }
    }
    // A gateway made by a run that crashed before attaching it.
    for igw in describe_igws(ec2, ours_filters(&cx.tenant, &cx.resource_id)).await? {
        delete_igw(ec2, &cx.tenant, &igw).await?;
    }
    unanswered::forget(cx);
    Ok(())
}
