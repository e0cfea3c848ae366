//! Re-stamping a tenant's expiry after an extend: the `envctl:expires-at` tag
//! on its managed cloud resources and the `envctl/expires-at` annotation on
//! its managed namespaces. The state is what the reaper goes by; the tags and
//! the annotation tell people (and other tools) looking at a resource.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, Patch, PatchParams};

use super::ReapError;
use super::discover;
use crate::kinds::aws::{AwsClients, classify};
use crate::kinds::k8s::{ANNOTATION_EXPIRES, LABEL_MANAGED, LABEL_TENANT};
use crate::kinds::{Backends, KindError};
use crate::tenant::{TenantName, tags};

/// Most ARNs one `TagResources` call may name.
const ARNS_PER_TAG_CALL: usize = 20;

/// Field manager of the annotation patch (a merge patch: it changes the one
/// annotation and leaves the labels and fields envctl applied alone).
const FIELD_MANAGER: &str = "envctl-reaper";

/// Stamps `at` on every managed resource of `tenant` the tagging API lists
/// (through `TagResources`, or the service's own call where the tagging API
/// cannot tag it: SQS queues and load balancers on moto) and on its managed
/// namespaces. Returns how many were stamped; fails listing the ones that
/// could not be.
///
/// Not re-stamped: what the tagging API does not list (on moto 5.2.5 Route 53
/// zones, IAM roles and EC2 launch templates) — they keep the expiry of the
/// create.
pub async fn stamp_expiry(
    backends: &Backends,
    tenant: &TenantName,
    at: jiff::Timestamp,
) -> Result<usize, ReapError> {
    let value = at.to_string();
    let aws = &backends.aws;
    let arns: Vec<String> = discover::tagged_with_tenant(aws, tenant.as_str())
        .await?
        .into_iter()
        .filter(|r| r.is_managed())
        .map(|r| r.arn)
        .collect();

    let mut stamped = 0;
    let mut failed: Vec<String> = Vec::new();
    for chunk in arns.chunks(ARNS_PER_TAG_CALL) {
        let out = aws
            .tagging
            .tag_resources()
            .set_resource_arn_list(Some(chunk.to_vec()))
            .tags(tags::EXPIRES_AT, &value)
            .send()
            .await
            .map_err(|e| ReapError::Discovery(classify("tagging API TagResources", e)))?;
        let refused = out.failed_resources_map().cloned().unwrap_or_default();
        stamped += chunk.len() - refused.len();
        for arn in refused.keys() {
            match tag_with_service(aws, arn, &value).await {
                Ok(()) => stamped += 1,
                Err(e) => failed.push(format!("{arn}: {e}")),
            }
        }
    }

    match stamp_namespaces(backends, tenant, &value).await {
        Ok(n) => stamped += n,
        Err(e) => failed.push(e),
    }
    if failed.is_empty() {
        Ok(stamped)
    } else {
        Err(ReapError::Restamp { stamped, failed })
    }
}

/// Tags one resource with its own service's call.
async fn tag_with_service(aws: &AwsClients, arn: &str, value: &str) -> Result<(), KindError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let (service, account, resource) = match parts.as_slice() {
        [_, _, service, _, account, resource] => (*service, *account, *resource),
        _ => return Err(KindError::Permanent(format!("'{arn}' is not an ARN"))),
    };
    match service {
        "sqs" => {
            let url = aws
                .sqs
                .get_queue_url()
                .queue_name(resource)
                .queue_owner_aws_account_id(account)
                .send()
                .await
                .map_err(|e| classify(&format!("GetQueueUrl {resource}"), e))?
                .queue_url()
                .unwrap_or_default()
                .to_string();
            aws.sqs
                .tag_queue()
                .queue_url(&url)
                .tags(tags::EXPIRES_AT, value)
                .send()
                .await
                .map_err(|e| classify(&format!("TagQueue {url}"), e))?;
            Ok(())
        }
        "elasticloadbalancing" => {
            match resource.strip_prefix("loadbalancer/") {
                // Classic load balancers: `loadbalancer/NAME`.
                Some(name) if !name.contains('/') => {
                    aws.elb
                        .add_tags()
                        .load_balancer_names(name)
                        .tags(
                            aws_sdk_elasticloadbalancing::types::Tag::builder()
                                .key(tags::EXPIRES_AT)
                                .value(value)
                                .build()
                                .map_err(|e| KindError::Permanent(e.to_string()))?,
                        )
                        .send()
                        .await
                        .map_err(|e| classify(&format!("AddTags {name}"), e))?;
                }
                _ => {
                    aws.elbv2
                        .add_tags()
                        .resource_arns(arn)
                        .tags(
                            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                                .key(tags::EXPIRES_AT)
                                .value(value)
                                .build(),
                        )
                        .send()
                        .await
                        .map_err(|e| classify(&format!("AddTags {arn}"), e))?;
                }
            }
            Ok(())
        }
        other => Err(KindError::Permanent(format!(
            "the tagging API cannot tag it and envctl has no {other} fallback"
        ))),
    }
}

/// Annotates the tenant's managed namespaces; none when no cluster is
/// configured.
async fn stamp_namespaces(
    backends: &Backends,
    tenant: &TenantName,
    value: &str,
) -> Result<usize, String> {
    let client = match backends.kube.get().await {
        Ok(c) => c,
        Err(KindError::Unconfigured(_)) => return Ok(0),
        Err(e) => return Err(e.to_string()),
    };
    let api: Api<Namespace> = Api::all(client);
    let selector = format!("{LABEL_TENANT}={tenant},{LABEL_MANAGED}=true");
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| format!("list namespaces: {e}"))?;
    let mut n = 0;
    for ns in list.items {
        let Some(name) = ns.metadata.name else {
            continue;
        };
        let patch = serde_json::json!({
            "metadata": { "annotations": BTreeMap::from([(ANNOTATION_EXPIRES, value)]) }
        });
        api.patch(
            &name,
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..Default::default()
            },
            &Patch::Merge(&patch),
        )
        .await
        .map_err(|e| format!("namespace/{name}: {e}"))?;
        n += 1;
    }
    Ok(n)
}
