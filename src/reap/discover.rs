//! What carries envctl's tags, read from the Resource Groups Tagging API (any
//! service, one call per page) and from the cluster's namespaces. Only reads.
//!
//! moto 5.2.5 lists S3 buckets, SQS queues, SNS topics, EC2 VPCs, subnets,
//! internet gateways and security groups, ACM certificates, ELB and ELBv2
//! load balancers and target groups, RDS instances, Auto Scaling groups and
//! Lambda functions; not Route 53 zones, IAM roles or EC2 launch templates.
//! Those are still removed by destroy's per-kind sweeps (which take only
//! `envctl:managed=true` resources), but the reaper cannot check their
//! environment and stack tags beforehand.

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::TagFilter;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};

use super::ReapError;
use super::ownership::{NamespaceInfo, TaggedResource};
use crate::kinds::KindError;
use crate::kinds::aws::AwsClients;
use crate::tenant::tags;

/// Most ARNs one `GetResources` call may name.
const ARNS_PER_CALL: usize = 100;

fn filter(key: &str, value: &str) -> TagFilter {
    TagFilter::builder().key(key).values(value).build()
}

/// Every resource tagged `envctl:tenant=<tenant>`, managed or not.
pub async fn tagged_with_tenant(
    aws: &AwsClients,
    tenant: &str,
) -> Result<Vec<TaggedResource>, ReapError> {
    get_resources(aws, vec![filter(tags::TENANT, tenant)], Vec::new()).await
}

/// Every resource tagged `envctl:managed=true`, of any tenant.
pub async fn managed(aws: &AwsClients) -> Result<Vec<TaggedResource>, ReapError> {
    get_resources(aws, vec![filter(tags::MANAGED, "true")], Vec::new()).await
}

/// The tags of the given resources (those that still exist and carry tags).
pub async fn by_arn(aws: &AwsClients, arns: &[String]) -> Result<Vec<TaggedResource>, ReapError> {
    let mut out = Vec::new();
    for chunk in arns.chunks(ARNS_PER_CALL) {
        out.extend(get_resources(aws, Vec::new(), chunk.to_vec()).await?);
    }
    Ok(out)
}

async fn get_resources(
    aws: &AwsClients,
    filters: Vec<TagFilter>,
    arns: Vec<String>,
) -> Result<Vec<TaggedResource>, ReapError> {
    let mut pages = aws
        .tagging
        .get_resources()
        .set_tag_filters((!filters.is_empty()).then_some(filters))
        .set_resource_arn_list((!arns.is_empty()).then_some(arns))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            ReapError::Discovery(crate::kinds::aws::classify("tagging API GetResources", e))
        })?;
        for m in page.resource_tag_mapping_list() {
            let Some(arn) = m.resource_arn() else {
                continue;
            };
            out.push(TaggedResource {
                arn: arn.to_string(),
                tags: m
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            });
        }
    }
    Ok(out)
}

/// Every namespace of the cluster with its labels; `None` when no cluster is
/// configured at all (no kubeconfig, not in a pod).
pub async fn namespaces(
    kube: &crate::kinds::k8s::KubeClient,
) -> Result<Option<Vec<NamespaceInfo>>, ReapError> {
    let client = match kube.get().await {
        Ok(c) => c,
        Err(KindError::Unconfigured(_)) => return Ok(None),
        Err(e) => return Err(ReapError::Kubernetes(e.to_string())),
    };
    let list = Api::<Namespace>::all(client)
        .list(&ListParams::default())
        .await
        .map_err(|e| ReapError::Kubernetes(format!("list namespaces: {e}")))?;
    Ok(Some(
        list.items
            .into_iter()
            .filter_map(|n| {
                Some(NamespaceInfo {
                    name: n.metadata.name?,
                    labels: n
                        .metadata
                        .labels
                        .unwrap_or_default()
                        .into_iter()
                        .collect::<BTreeMap<_, _>>(),
                })
            })
            .collect(),
    ))
}
