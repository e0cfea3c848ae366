//! The log group of a Lambda function, `/aws/lambda/<function>`: created by
//! envctl before the function first runs (tagged, with a retention), deleted
//! after the function, and found by a sweep. Left to Lambda, it would be
//! created on the first invocation without tags or retention (logs kept
//! forever) and outlive the tenant (Lambda developer guide, "Sending Lambda
//! function logs to CloudWatch Logs": the default log group is
//! `/aws/lambda/<function name>`; terraform-provider-aws's aws_lambda_function
//! documentation likewise recommends declaring that log group to control
//! its retention and deletion).

use std::collections::HashMap;

use crate::kinds::aws::call::{created, deleted, found};
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::{Tags, refuse_foreign, swept_resource};
use crate::kinds::aws::tags::missing;
use crate::kinds::{Cx, KindError};

/// The values PutRetentionPolicy accepts for `retentionInDays` (CloudWatch
/// Logs API reference, PutRetentionPolicy).
pub const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The default retention.
pub const DEFAULT_RETENTION_DAYS: i32 = 14;

const PREFIX: &str = "/aws/lambda/";

/// The log group Lambda writes the function's logs to.
pub fn log_group_name(function: &str) -> String {
    format!("{PREFIX}{function}")
}

/// The ARN to tag: DescribeLogGroups' `arn` ends with `:*`, which the
/// tagging calls do not take (API reference, ListTagsForResource: "do not
/// include the trailing :*"); `logGroupArn` is the form without it.
fn taggable_arn(group: &aws_sdk_cloudwatchlogs::types::LogGroup) -> Option<String> {
    group
        .log_group_arn()
        .map(str::to_string)
        .or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_string()))
}

/// The group named exactly `name`, if it exists.
async fn describe(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
) -> Result<Option<aws_sdk_cloudwatchlogs::types::LogGroup>, KindError> {
    let out = logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|e| classify(&format!("DescribeLogGroups {name}"), e))?;
    Ok(out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .cloned())
}

async fn tags_of(logs: &aws_sdk_cloudwatchlogs::Client, arn: &str) -> Result<Tags, KindError> {
    let answer = logs.list_tags_for_resource().resource_arn(arn).send().await;
    let what = format!("ListTagsForResource {arn}");
    Ok(found(&what, answer, &["ResourceNotFoundException"])?
        .and_then(|out| out.tags().map(|t| t.clone().into_iter().collect()))
        .unwrap_or_default())
}

/// Creates the function's log group with the tenant's tags, or adopts the
/// one that exists (refusing another tenant's), and sets its retention;
/// calls nothing that changes what is already right. CreateLogGroup takes
/// the tags (API reference, CreateLogGroup `tags`); an existing group (an
/// earlier run, or Lambda on an invocation) gets the missing tags with
/// TagResource. terraform-provider-aws (internal/service/logs/group.go)
/// creates with tags, then PutRetentionPolicy, the same way.
pub async fn ensure(cx: &Cx, function: &str, retention_days: i32) -> Result<String, KindError> {
    let logs = &cx.backends.aws.logs;
    let name = log_group_name(function);
    let ours: HashMap<String, String> = cx.tags().into_iter().collect();
    let retention = match describe(logs, &name).await? {
        None => {
            let answer = logs
                .create_log_group()
                .log_group_name(&name)
                .set_tags(Some(ours))
                .send()
                .await;
            // Made meanwhile (Lambda itself, on an invocation): adopt it
            // on the engine's next try.
            let what = format!("CreateLogGroup {name}");
            created(&what, answer, &["ResourceAlreadyExistsException"])?;
            None
        }
        Some(group) => {
            let arn = taggable_arn(&group)
                .ok_or_else(|| KindError::Permanent(format!("log group {name}: no ARN")))?;
            let have = tags_of(logs, &arn).await?;
            refuse_foreign(&format!("log group {name}"), &have, cx)?;
            let lacking = missing(&have, ours);
            if !lacking.is_empty() {
                logs.tag_resource()
                    .resource_arn(&arn)
                    .set_tags(Some(lacking.into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| classify(&format!("TagResource {name}"), e))?;
            }
            group.retention_in_days()
        }
    };
    if retention != Some(retention_days) {
        logs.put_retention_policy()
            .log_group_name(&name)
            .retention_in_days(retention_days)
            .send()
            .await
            .map_err(|e| classify(&format!("PutRetentionPolicy {name}"), e))?;
    }
    Ok(name)
}

/// Deletes the function's log group; one that is gone is fine
/// (DeleteLogGroup answers ResourceNotFoundException; terraform-provider-aws
/// logs/group.go ignores it too).
pub async fn delete(
    logs: &aws_sdk_cloudwatchlogs::Client,
    function: &str,
) -> Result<(), KindError> {
    let name = log_group_name(function);
    deleted(
        &format!("DeleteLogGroup {name}"),
        logs.delete_log_group().log_group_name(&name).send().await,
        &["ResourceNotFoundException"],
    )
}

/// The log groups of functions whose names start with `function_prefix`
/// that carry `tenant`'s managed tags: (function name, resource id).
pub async fn find(
    logs: &aws_sdk_cloudwatchlogs::Client,
    function_prefix: &str,
    tenant: &str,
) -> Result<Vec<(String, String)>, KindError> {
    let prefix = log_group_name(function_prefix);
    let mut groups = Vec::new();
    let mut pages = logs
        .describe_log_groups()
        .log_group_name_prefix(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify(&format!("DescribeLogGroups {prefix}"), e))?;
        for g in page.log_groups() {
            if let (Some(name), Some(arn)) = (g.log_group_name(), taggable_arn(g)) {
                groups.push((name.to_string(), arn));
            }
        }
    }
    let mut found = Vec::new();
    for (name, arn) in groups {
        let t = tags_of(logs, &arn).await?;
        if let (Some(resource), Some(function)) =
            (swept_resource(tenant, &t), name.strip_prefix(PREFIX))
        {
            found.push((function.to_string(), resource));
        }
    }
    Ok(found)
}
