//! The `aws.sns.topic` kind: an SNS topic per tenant resource, with SQS
//! queue subscriptions and the queue-policy statements that let the topic
//! deliver to those queues (those live with SQS, in [`super::sqs::policy`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::Tag;
use schemars::JsonSchema;
use serde::Deserialize;

use super::classify;
use super::sqs::policy::{allow_topic, disallow_topic, parse_queue_arn, url_of};
use super::tags::{sdk_tags, tag_map};
use crate::kinds::aws::call::deleted;
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};
use crate::tenant::tags;

/// Topic names are at most 256 characters, `.fifo` included.
const MAX_NAME: usize = 256;
const FIFO_SUFFIX: &str = ".fifo";

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
        Ok(out) => Ok(Some(tag_map(out.tags()))),
        Err(e) if matches!(e.code(), Some("NotFound" | "ResourceNotFound")) => Ok(None),
        Err(e) => Err(classify(&format!("ListTagsForResource {arn}"), e)),
    }
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
        .set_tags(Some(sdk_tags::<Tag>(cx.tags())?))
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
                .set_tags(Some(sdk_tags::<Tag>(missing)?))
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
        deleted(
            &format!("DeleteTopic {arn}"),
            sns.delete_topic().topic_arn(arn).send().await,
            &["NotFound"],
        )
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
    use serde_json::json;

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
