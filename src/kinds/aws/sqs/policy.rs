//! The queue-policy statements that let an SNS topic deliver to an SQS
//! queue it subscribes (`aws.sns.topic`'s subscriptions): queue ARNs, the
//! statement per topic, and adding or removing it under a per-queue lock.

use std::sync::LazyLock;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};

use super::{QUEUE_MISSING, queue_attributes, queue_url};
use crate::kinds::aws::call::deleted;
use crate::kinds::aws::classify;
use crate::kinds::{Cx, KindError};

/// How often a queue policy is re-read and rewritten when another writer
/// raced us (SQS has no conditional write).
const POLICY_ATTEMPTS: usize = 5;

/// The parts of an SQS queue ARN we need.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::kinds::aws) struct QueueArn<'a> {
    pub(in crate::kinds::aws) region: &'a str,
    pub(in crate::kinds::aws) account: &'a str,
    pub(in crate::kinds::aws) name: &'a str,
}

pub(in crate::kinds::aws) fn parse_queue_arn(arn: &str) -> Result<QueueArn<'_>, KindError> {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _partition, "sqs", region, account, name]
            if !region.is_empty() && !account.is_empty() && !name.is_empty() =>
        {
            Ok(QueueArn {
                region,
                account,
                name,
            })
        }
        _ => Err(KindError::Permanent(format!(
            "properties: subscriptions: '{arn}' is not an SQS queue ARN \
             (arn:aws:sqs:<region>:<account>:<name>); use a reference like ${{my-queue.arn}}"
        ))),
    }
}

fn sid(topic_arn: &str) -> String {
    format!("envctl-sns:{topic_arn}")
}

/// The statement that lets `topic_arn` send to `queue_arn`.
fn statement(topic_arn: &str, queue_arn: &str) -> Value {
    json!({
        "Sid": sid(topic_arn),
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    })
}

/// The statements of a policy document (a single statement may be given as
/// an object instead of a list).
fn statements(policy: &Value) -> Vec<Value> {
    match policy.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(v @ Value::Object(_)) => vec![v.clone()],
        _ => Vec::new(),
    }
}

fn parse_policy(queue: &str, text: Option<&String>) -> Result<Value, KindError> {
    match text.map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(json!({"Version": "2012-10-17", "Statement": []})),
        Some(s) => serde_json::from_str(s).map_err(|e| {
            KindError::Permanent(format!("queue {queue}: its Policy is not JSON: {e}"))
        }),
    }
}

/// `policy` with `stmt` in place of any statement of the same Sid; `None`
/// when it already holds exactly `stmt`.
fn with_statement(mut policy: Value, stmt: &Value) -> Option<Value> {
    let mut list = statements(&policy);
    if list.iter().any(|s| s == stmt) {
        return None;
    }
    list.retain(|s| s.get("Sid") != stmt.get("Sid"));
    list.push(stmt.clone());
    policy["Statement"] = Value::Array(list);
    if policy.get("Version").is_none() {
        policy["Version"] = json!("2012-10-17");
    }
    Some(policy)
}

/// `policy` without the statement `sid`; `None` when it has none. An empty
/// result is the empty string (which removes the policy).
fn without_statement(mut policy: Value, sid: &str) -> Option<String> {
    let mut list = statements(&policy);
    let before = list.len();
    list.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid));
    if list.len() == before {
        return None;
    }
    if list.is_empty() {
        return Some(String::new());
    }
    policy["Statement"] = Value::Array(list);
    Some(policy.to_string())
}

/// The URL of the queue behind an ARN, via GetQueueUrl (name + account).
pub(in crate::kinds::aws) async fn url_of(
    cx: &Cx,
    arn: &QueueArn<'_>,
) -> Result<Option<String>, KindError> {
    let sqs = &cx.backends.aws.sqs;
    let here = sqs.config().region().map(|r| r.as_ref().to_string());
    if here.as_deref().is_some_and(|h| h != arn.region) {
        return Err(KindError::Permanent(format!(
            "subscription to queue {} in {}: only queues in the stack's region ({}) are supported",
            arn.name,
            arn.region,
            here.unwrap_or_default()
        )));
    }
    queue_url(sqs, arn.name, Some(arn.account)).await
}

/// One lock per queue ARN for this process. A queue's policy is one JSON
/// document that SetQueueAttributes replaces whole, with no condition on
/// what was read: two topics of a run subscribing the same queue at once
/// could each read it, each write their own statement and each read it back
/// before the other's write — and one statement is lost. The read, write and
/// re-read of one queue's policy are serialized here (the same hazard is why
/// terraform-provider-aws keeps one `aws_sqs_queue_policy` per queue);
/// writers in other processes are still caught by the re-read.
fn policy_lock(queue_arn: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    static LOCKS: LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    > = LazyLock::new(Default::default);
    LOCKS
        .lock()
        .expect("policy locks")
        .entry(queue_arn.to_string())
        .or_default()
        .clone()
}

/// Adds (or repairs) the statement letting `topic_arn` send to the queue,
/// re-reading after each write so that a concurrent writer (another topic
/// subscribing the same queue) cannot silently drop it.
pub(in crate::kinds::aws) async fn allow_topic(
    cx: &Cx,
    queue_url: &str,
    queue_arn: &str,
    topic_arn: &str,
) -> Result<(), KindError> {
    let sqs = &cx.backends.aws.sqs;
    let stmt = statement(topic_arn, queue_arn);
    let lock = policy_lock(queue_arn);
    let _held = lock.lock().await;
    for _ in 0..POLICY_ATTEMPTS {
        let attributes = queue_attributes(sqs, queue_url).await?.ok_or_else(|| {
            KindError::Permanent(format!("queue {queue_arn} does not exist (subscription)"))
        })?;
        let policy = parse_policy(queue_arn, attributes.get(&QueueAttributeName::Policy))?;
        let Some(updated) = with_statement(policy, &stmt) else {
            return Ok(());
        };
        sqs.set_queue_attributes()
            .queue_url(queue_url)
            .attributes(QueueAttributeName::Policy, updated.to_string())
            .send()
            .await
            .map_err(|e| classify(&format!("SetQueueAttributes Policy {queue_arn}"), e))?;
    }
    Err(KindError::Transient(format!(
        "queue {queue_arn}: its policy kept changing while the statement for {topic_arn} was \
         being added"
    )))
}

/// Removes the topic's statement from a queue's policy; a missing queue is
/// fine.
pub(in crate::kinds::aws) async fn disallow_topic(
    cx: &Cx,
    queue_arn: &str,
    topic_arn: &str,
) -> Result<(), KindError> {
    let Ok(arn) = parse_queue_arn(queue_arn) else {
        return Ok(());
    };
    let url = match url_of(cx, &arn).await {
        Ok(Some(url)) => url,
        Ok(None) => return Ok(()),
        // A stale statement for a deleted topic is harmless; do not fail the
        // delete over it unless retrying may help.
        Err(e) if !e.is_transient() => return Ok(()),
        Err(e) => return Err(e),
    };
    let sqs = &cx.backends.aws.sqs;
    let lock = policy_lock(queue_arn);
    let _held = lock.lock().await;
    let Some(attributes) = queue_attributes(sqs, &url).await? else {
        return Ok(());
    };
    let policy = parse_policy(queue_arn, attributes.get(&QueueAttributeName::Policy))?;
    let Some(updated) = without_statement(policy, &sid(topic_arn)) else {
        return Ok(());
    };
    deleted(
        &format!("SetQueueAttributes Policy {queue_arn}"),
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::Policy, updated)
            .send()
            .await,
        QUEUE_MISSING,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_arns_are_parsed_and_checked() {
        assert_eq!(
            parse_queue_arn("arn:aws:sqs:us-east-1:123456789012:envctl-acme-orders").unwrap(),
            QueueArn {
                region: "us-east-1",
                account: "123456789012",
                name: "envctl-acme-orders"
            }
        );
        for bad in [
            "https://sqs.us-east-1.amazonaws.com/1/q",
            "arn:aws:sns:us-east-1:1:t",
            "",
        ] {
            assert!(parse_queue_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn statements_are_added_once_and_removed_alone() {
        let other = json!({"Sid": "theirs", "Effect": "Allow", "Action": "sqs:*"});
        let policy = json!({"Version": "2012-10-17", "Statement": other.clone()});
        let ours = statement("arn:aws:sns:r:1:t", "arn:aws:sqs:r:1:q");
        let added = with_statement(policy, &ours).unwrap();
        assert_eq!(statements(&added), vec![other.clone(), ours.clone()]);
        assert!(with_statement(added.clone(), &ours).is_none());
        let removed = without_statement(added, &sid("arn:aws:sns:r:1:t")).unwrap();
        let removed: Value = serde_json::from_str(&removed).unwrap();
        assert_eq!(statements(&removed), vec![other]);
        let only = json!({"Statement": [ours]});
        assert_eq!(
            without_statement(only, &sid("arn:aws:sns:r:1:t")).as_deref(),
            Some("")
        );
    }
}
