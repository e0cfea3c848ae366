//! The `aws.sns.topic` kind: an SNS topic per tenant resource, with SQS
//! queue subscriptions and the queue-policy statements that let the topic
//! deliver to those queues.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::Tag;
use aws_sdk_sqs::types::QueueAttributeName;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::classify;
use super::sqs::{queue_attributes, queue_missing, queue_url};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};
use crate::tenant::tags;

/// Topic names are at most 256 characters, `.fifo` included.
const MAX_NAME: usize = 256;
const FIFO_SUFFIX: &str = ".fifo";
/// How often a queue policy is re-read and rewritten when another writer
/// raced us (SQS has no conditional write).
const POLICY_ATTEMPTS: usize = 5;

pub struct Topic;

/// An SNS topic (standard or FIFO) delivering to SQS queues it subscribes.
///
/// Each subscribed queue's policy is extended to let the topic send to it.
/// Subscriptions are only added: one removed from the list stays until the
/// topic is deleted. The topic name is envctl's, `envctl-<tenant>-<id>`
/// plus `.fifo`, at most 256 characters of letters, digits, `-` and `_`
/// (SNS API reference, CreateTopic `Name`) by construction.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TopicProps {
    /// SQS queue ARNs to subscribe, e.g. `[${orders-queue.arn}]`; each
    /// queue's policy is extended to let the topic send to it. Only added:
    /// one removed from the list stays until the topic is deleted. Default
    /// none.
    #[serde(default)]
    subscriptions: Vec<String>,
    /// A FIFO topic (its name ends in `.fifo`; subscribe FIFO queues);
    /// default false.
    #[serde(default)]
    fifo: bool,
}

impl KindProps for TopicProps {
    /// Literal subscriptions must be SQS queue ARNs (SNS API reference,
    /// Subscribe: for the `sqs` protocol the endpoint "is the ARN of an
    /// Amazon SQS queue").
    fn check(&self) -> Vec<PropIssue> {
        self.subscriptions
            .iter()
            .enumerate()
            .filter(|(_, arn)| !is_ref(arn))
            .filter_map(|(i, arn)| {
                let e = parse_queue_arn(arn).err()?;
                let text = e.to_string();
                let message = text
                    .strip_prefix("properties: subscriptions: ")
                    .unwrap_or(&text);
                Some(PropIssue::new(&["subscriptions", &i.to_string()], message))
            })
            .collect()
    }
}

const NAME: &str = "aws.sns.topic";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<TopicProps>(NAME));

static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "arn",
        secret: false,
        doc: "the topic ARN",
    },
    OutputSpec {
        name: "name",
        secret: false,
        doc: "the topic name, envctl-<tenant>-<id>[.fifo]",
    },
];

fn topic_name(cx: &Cx, fifo: bool) -> String {
    if fifo {
        format!(
            "{}{FIFO_SUFFIX}",
            cx.physical_name(MAX_NAME - FIFO_SUFFIX.len())
        )
    } else {
        cx.physical_name(MAX_NAME)
    }
}

/// The last `:` segment of an ARN.
fn name_of_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// The parts of an SQS queue ARN we need.
#[derive(Debug, PartialEq, Eq)]
struct QueueArn<'a> {
    region: &'a str,
    account: &'a str,
    name: &'a str,
}

fn parse_queue_arn(arn: &str) -> Result<QueueArn<'_>, KindError> {
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
async fn url_of(cx: &Cx, arn: &QueueArn<'_>) -> Result<Option<String>, KindError> {
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
async fn allow_topic(
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
async fn disallow_topic(cx: &Cx, queue_arn: &str, topic_arn: &str) -> Result<(), KindError> {
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
    match sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::Policy, updated)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if queue_missing(e.code()) => Ok(()),
        Err(e) => Err(classify(
            &format!("SetQueueAttributes Policy {queue_arn}"),
            e,
        )),
    }
}

/// A subscription of the topic: (subscription ARN, protocol, endpoint).
type Subscription = (String, String, String);

/// All subscriptions of a topic; `None` when the topic is gone.
async fn subscriptions(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
) -> Result<Option<Vec<Subscription>>, KindError> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = match sns
            .list_subscriptions_by_topic()
            .topic_arn(topic_arn)
            .set_next_token(next.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if e.code() == Some("NotFound") => return Ok(None),
            Err(e) => {
                return Err(classify(
                    &format!("ListSubscriptionsByTopic {topic_arn}"),
                    e,
                ));
            }
        };
        for s in page.subscriptions() {
            out.push((
                s.subscription_arn().unwrap_or_default().to_string(),
                s.protocol().unwrap_or_default().to_string(),
                s.endpoint().unwrap_or_default().to_string(),
            ));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(Some(out))
}

/// A topic's tags; `None` when it is gone.
async fn topic_tags(
    sns: &aws_sdk_sns::Client,
    arn: &str,
) -> Result<Option<BTreeMap<String, String>>, KindError> {
    match sns.list_tags_for_resource().resource_arn(arn).send().await {
        Ok(out) => Ok(Some(
            out.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        )),
        Err(e) if matches!(e.code(), Some("NotFound" | "ResourceNotFound")) => Ok(None),
        Err(e) => Err(classify(&format!("ListTagsForResource {arn}"), e)),
    }
}

fn to_tags(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Vec<Tag>, KindError> {
    pairs
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| KindError::Permanent(format!("tag: {e}")))
}

/// CreateTopic is idempotent by name, so it both creates and finds the
/// topic. It refuses an existing topic whose tags differ from the ones
/// given; then the topic is found without tags and tagged below.
async fn create_topic(cx: &Cx, name: &str, fifo: bool) -> Result<String, KindError> {
    let sns = &cx.backends.aws.sns;
    let attributes = fifo.then(|| [("FifoTopic".to_string(), "true".to_string())].into());
    let tagged = sns
        .create_topic()
        .name(name)
        .set_attributes(attributes.clone())
        .set_tags(Some(to_tags(cx.tags())?))
        .send()
        .await;
    let out = match tagged {
        Ok(out) => out,
        Err(e) if e.code() == Some("InvalidParameter") => sns
            .create_topic()
            .name(name)
            .set_attributes(attributes)
            .send()
            .await
            .map_err(|e| classify(&format!("CreateTopic {name}"), e))?,
        Err(e) => return Err(classify(&format!("CreateTopic {name}"), e)),
    };
    out.topic_arn()
        .map(str::to_string)
        .ok_or_else(|| KindError::Permanent(format!("CreateTopic {name}: no TopicArn in answer")))
}

#[async_trait]
impl Kind for Topic {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "sns"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// CreateTopic answers in a few hundred milliseconds on AWS and the topic
    /// is usable at once; with tagging and subscriptions, ~1 s.
    fn expected(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(5 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: TopicProps = parse_props(props)?;
        // Check every ARN before creating anything.
        let wanted: BTreeSet<&str> = p.subscriptions.iter().map(String::as_str).collect();
        for arn in &wanted {
            parse_queue_arn(arn)?;
        }
        let sns = &cx.backends.aws.sns;
        let name = topic_name(cx, p.fifo);
        let arn = create_topic(cx, &name, p.fifo).await?;

        let tags_now = topic_tags(sns, &arn).await?.unwrap_or_default();
        super::owner::refuse_foreign(&format!("topic {name}"), &tags_now, cx)?;
        let missing: Vec<(String, String)> = cx
            .tags()
            .into_iter()
            .filter(|(k, v)| tags_now.get(k) != Some(v))
            .collect();
        if !missing.is_empty() {
            sns.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(to_tags(missing)?))
                .send()
                .await
                .map_err(|e| {
                    if matches!(e.code(), Some("NotFound" | "ResourceNotFound")) {
                        KindError::Transient(format!(
                            "TagResource {name}: the new topic is not visible yet"
                        ))
                    } else {
                        classify(&format!("TagResource {name}"), e)
                    }
                })?;
        }

        if !wanted.is_empty() {
            let existing = subscriptions(sns, &arn).await?.ok_or_else(|| {
                KindError::Transient(format!("topic {name} vanished while it was being set up"))
            })?;
            for queue_arn in wanted {
                let q = parse_queue_arn(queue_arn)?;
                let url = url_of(cx, &q).await?.ok_or_else(|| {
                    KindError::Permanent(format!("subscription: queue {queue_arn} does not exist"))
                })?;
                // The policy first, so that no message is refused in between.
                allow_topic(cx, &url, queue_arn, &arn).await?;
                let subscribed = existing
                    .iter()
                    .any(|(_, protocol, endpoint)| protocol == "sqs" && endpoint == queue_arn);
                if !subscribed {
                    sns.subscribe()
                        .topic_arn(&arn)
                        .protocol("sqs")
                        .endpoint(queue_arn)
                        .return_subscription_arn(true)
                        .send()
                        .await
                        .map_err(|e| classify(&format!("Subscribe {name} {queue_arn}"), e))?;
                }
            }
        }
        Ok(Outputs::new().plain("arn", arn).plain("name", name))
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let arn = out.require("arn")?;
        match cx
            .backends
            .aws
            .sns
            .get_topic_attributes()
            .topic_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(Readiness::Ready),
            Err(e) if e.code() == Some("NotFound") => Ok(Readiness::Pending(format!(
                "topic {} not visible yet",
                name_of_arn(arn)
            ))),
            Err(e) => Err(classify(&format!("GetTopicAttributes {arn}"), e)),
        }
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let arn = out.require("arn")?;
        let sns = &cx.backends.aws.sns;
        let Some(subs) = subscriptions(sns, arn).await? else {
            return Ok(());
        };
        for (sub_arn, protocol, endpoint) in subs {
            if protocol == "sqs" {
                disallow_topic(cx, &endpoint, arn).await?;
            }
            // Unconfirmed subscriptions have no ARN yet and go with the topic.
            if !sub_arn.starts_with("arn:") {
                continue;
            }
            match sns.unsubscribe().subscription_arn(&sub_arn).send().await {
                Ok(_) => {}
                Err(e) if e.code() == Some("NotFound") => {}
                Err(e) => return Err(classify(&format!("Unsubscribe {sub_arn}"), e)),
            }
        }
        match sns.delete_topic().topic_arn(arn).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NotFound") => Ok(()),
            Err(e) => Err(classify(&format!("DeleteTopic {arn}"), e)),
        }
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let sns = &cx.backends.aws.sns;
        let prefix = format!("envctl-{}-", cx.tenant.as_str());
        let mut arns = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = sns
                .list_topics()
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| classify("ListTopics", e))?;
            arns.extend(
                page.topics()
                    .iter()
                    .filter_map(|t| t.topic_arn())
                    .filter(|a| name_of_arn(a).starts_with(&prefix))
                    .map(str::to_string),
            );
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => break,
            }
        }
        let mut found = Vec::new();
        for arn in arns {
            let Some(t) = topic_tags(sns, &arn).await? else {
                continue;
            };
            if t.get(tags::TENANT).map(String::as_str) != Some(cx.tenant.as_str())
                || t.get(tags::MANAGED).map(String::as_str) != Some("true")
            {
                continue;
            }
            if let Some(resource_id) = t.get(tags::RESOURCE) {
                found.push(Found {
                    resource_id: resource_id.clone(),
                    outputs: Outputs::new()
                        .plain("name", name_of_arn(&arn))
                        .plain("arn", arn.clone()),
                });
            }
        }
        Ok(found)
    }
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

    #[test]
    fn wrong_types_and_bad_arns_are_refused_naming_the_field() {
        let issues = |v: serde_json::Value| {
            Topic
                .check(v.as_object().unwrap())
                .into_iter()
                .map(|i| format!("{}: {}", i.path.join("."), i.message))
                .collect::<Vec<_>>()
        };
        assert!(
            issues(json!({"subscriptions": ["${q.arn}", "arn:aws:sqs:us-east-1:1:q"]})).is_empty()
        );
        let m = issues(json!({"fifo": "yes"}));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].starts_with("fifo: must be true or false"), "{m:?}");
        let m = issues(json!({"subscriptions": "arn:aws:sqs:us-east-1:1:q"}));
        assert!(m[0].starts_with("subscriptions: must be a list"), "{m:?}");
        let m = issues(json!({"subscriptions": ["arn:aws:sns:us-east-1:1:t"]}));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].starts_with(
                "subscriptions.0: 'arn:aws:sns:us-east-1:1:t' is not an SQS queue ARN"
            ),
            "{m:?}"
        );
    }
}
