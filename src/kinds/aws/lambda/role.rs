//! The IAM execution role of `aws.lambda.function`, `<name>-role`: created
//! or adopted with its tags, the basic execution policy and the inline
//! policy that reads the function's queue; deleted with its policies.

use aws_sdk_iam::error::ProvideErrorMetadata;

use super::props::Spec;
use super::tagging::RoleTagging;
use crate::kinds::aws::call::{carried, created, deleted, found, partition};
use crate::kinds::aws::classify;
use crate::kinds::aws::tags::{converge, sdk_tags};
use crate::kinds::{Cx, KindError};

/// Role names are at most 64 characters, `-role` included.
const MAX_ROLE_BASE: usize = 64 - ROLE_SUFFIX.len();
pub(super) const ROLE_SUFFIX: &str = "-role";

/// Inline policy that lets the function read its queue.
const SQS_POLICY: &str = "envctl-sqs-read";
const BASIC_EXECUTION: &str = "service-role/AWSLambdaBasicExecutionRole";
const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn role_name(cx: &Cx) -> String {
    format!("{}{ROLE_SUFFIX}", cx.physical_name(MAX_ROLE_BASE))
}

pub(super) fn role_name_of_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The role's tags: the tenant's, and its name.
fn role_tags_wanted(cx: &Cx, name: &str) -> Vec<(String, String)> {
    cx.tags()
        .into_iter()
        .chain([("Name".to_string(), name.to_string())])
        .collect()
}

/// Decodes `%XX` escapes (IAM returns policy documents URL-encoded).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An inline policy of a role as JSON; `None` when it does not exist.
async fn inline_policy(
    iam: &aws_sdk_iam::Client,
    role: &str,
    policy: &str,
) -> Result<Option<serde_json::Value>, KindError> {
    let answer = iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await;
    let what = format!("GetRolePolicy {role} {policy}");
    Ok(found(&what, answer, &["NoSuchEntity"])?.map(|out| {
        let raw = out.policy_document();
        let text = if raw.trim_start().starts_with('{') {
            raw.to_string()
        } else {
            percent_decode(raw)
        };
        // Unreadable: treat as different, so it is rewritten.
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }))
}

/// Finds or creates the execution role with its policies; returns its ARN.
pub(super) async fn ensure_role(cx: &Cx, spec: &Spec) -> Result<String, KindError> {
    let iam = &cx.backends.aws.iam;
    let name = role_name(cx);
    let answer = iam.get_role().role_name(&name).send().await;
    let role = match found(&format!("GetRole {name}"), answer, &["NoSuchEntity"])? {
        Some(out) => {
            let role = format!("IAM role {name}");
            let wanted = role_tags_wanted(cx, &name);
            converge(&RoleTagging(iam), cx, &role, &name, wanted).await?;
            out.role
        }
        None => {
            let what = format!("CreateRole {name}");
            let answer = iam
                .create_role()
                .role_name(&name)
                .assume_role_policy_document(TRUST_POLICY)
                .description(format!(
                    "envctl {}/{}: Lambda execution role",
                    cx.tenant, cx.resource_id
                ))
                .set_tags(Some(sdk_tags(role_tags_wanted(cx, &name))?))
                .send()
                .await;
            created(&what, answer, &["EntityAlreadyExists"])?.role
        }
    };
    let arn = carried(&format!("IAM role {name}"), role.map(|r| r.arn), "ARN")?;

    let region = cx
        .backends
        .aws
        .lambda
        .config()
        .region()
        .map(|r| r.as_ref().to_string());
    let basic = format!(
        "arn:{}:iam::aws:policy/{BASIC_EXECUTION}",
        partition(region.as_deref())
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name(&name)
        .send()
        .await
        .map_err(|e| classify(&format!("ListAttachedRolePolicies {name}"), e))?;
    if !attached
        .attached_policies()
        .iter()
        .any(|p| p.policy_arn() == Some(basic.as_str()))
    {
        iam.attach_role_policy()
            .role_name(&name)
            .policy_arn(&basic)
            .send()
            .await
            .map_err(|e| classify(&format!("AttachRolePolicy {name}"), e))?;
    }
    let current = inline_policy(iam, &name, SQS_POLICY).await?;
    match &spec.queue_arn {
        Some(queue) => {
            let policy = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": [
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueAttributes",
                        "sqs:ChangeMessageVisibility",
                    ],
                    "Resource": queue,
                }],
            });
            if current.as_ref() != Some(&policy) {
                iam.put_role_policy()
                    .role_name(&name)
                    .policy_name(SQS_POLICY)
                    .policy_document(policy.to_string())
                    .send()
                    .await
                    .map_err(|e| classify(&format!("PutRolePolicy {name}"), e))?;
            }
        }
        None if current.is_some() => {
            let answer = iam
                .delete_role_policy()
                .role_name(&name)
                .policy_name(SQS_POLICY)
                .send()
                .await;
            deleted(
                &format!("DeleteRolePolicy {name}"),
                answer,
                &["NoSuchEntity"],
            )?;
        }
        None => {}
    }
    Ok(arn)
}

/// Detaches and deletes every policy of the role, then the role.
pub(super) async fn delete_role(iam: &aws_sdk_iam::Client, name: &str) -> Result<(), KindError> {
    const GONE: &[&str] = &["NoSuchEntity"];
    let attached = iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let Some(attached) = found(&format!("ListAttachedRolePolicies {name}"), attached, GONE)? else {
        return Ok(());
    };
    for arn in attached.iter().filter_map(|p| p.policy_arn()) {
        let answer = iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await;
        deleted(&format!("DetachRolePolicy {name}"), answer, GONE)?;
    }
    let inline = iam
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let Some(inline) = found(&format!("ListRolePolicies {name}"), inline, GONE)? else {
        return Ok(());
    };
    for policy in inline {
        let answer = iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(&policy)
            .send()
            .await;
        deleted(&format!("DeleteRolePolicy {name}"), answer, GONE)?;
    }
    match iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("NoSuchEntity") => Ok(()),
        // A policy attached meanwhile: the engine retries.
        Err(e) if e.code() == Some("DeleteConflict") => Err(KindError::Transient(format!(
            "DeleteRole {name}: policies are still attached"
        ))),
        Err(e) => Err(classify(&format!("DeleteRole {name}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_are_url_decoded() {
        assert_eq!(
            percent_decode("%7B%22Version%22%3A%20%222012-10-17%22%7D"),
            r#"{"Version": "2012-10-17"}"#
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
