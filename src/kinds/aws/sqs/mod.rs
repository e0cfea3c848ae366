//! The `aws.sqs.queue` kind: an SQS queue (standard or FIFO) per tenant
//! resource, optionally with a dead-letter queue `<name>-dlq` wired in by a
//! redrive policy.

pub(super) mod policy;

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::QueueAttributeName;
use schemars::JsonSchema;
use serde::Deserialize;

use super::classify;
use crate::kinds::aws::call::{deleted, found};
use crate::kinds::schema::{KindProps, PropSchema};
use crate::kinds::{Cx, Found, Kind, KindError, OutputSpec, Outputs, Props, Readiness, SweepCx};
use crate::tenant::tags;

/// Queue names are at most 80 characters, `.fifo` included.
const MAX_NAME: usize = 80;
const DLQ_SUFFIX: &str = "-dlq";
const FIFO_SUFFIX: &str = ".fifo";
/// 14 days, the most SQS keeps a message: a dead-letter queue keeps its
/// messages as long as possible (their age counts from the first enqueue).
const DLQ_RETENTION_SECONDS: u32 = 1_209_600;

pub struct Queue;

/// An SQS queue, standard or FIFO, optionally with a dead-letter queue.
///
/// Ranges: SQS API reference, CreateQueue / SetQueueAttributes `Attributes`
/// (VisibilityTimeout, MessageRetentionPeriod) and the RedrivePolicy's
/// maxReceiveCount. The queue names are envctl's,
/// `envctl-<tenant>-<id>[-dlq][.fifo]`, at most 80 characters of letters,
/// digits, `-` and `_` (CreateQueue `QueueName`) by construction ([`names`]).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct QueueProps {
    /// A FIFO queue (its name ends in `.fifo`).
    #[serde(default)]
    fifo: bool,
    /// Seconds a received message stays hidden from other consumers; absent
    /// leaves the SQS default (30).
    #[serde(default)]
    #[schemars(range(max = 43_200))]
    visibility_timeout_seconds: Option<u32>,
    /// Seconds SQS keeps a message; absent leaves the SQS default (345600,
    /// 4 days).
    #[serde(default)]
    #[schemars(range(min = 60, max = 1_209_600))]
    message_retention_seconds: Option<u32>,
    /// Also create `<name>-dlq` and move a message there after
    /// `max_receive_count` receives.
    #[serde(default)]
    dead_letter: bool,
    /// Receives before a message goes to the dead-letter queue.
    #[serde(default = "default_max_receive_count")]
    #[schemars(range(min = 1, max = 1000))]
    max_receive_count: u32,
}

impl KindProps for QueueProps {}

fn default_max_receive_count() -> u32 {
    5
}

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<QueueProps>(NAME));

/// The kind's name in stacks.
const NAME: &str = "aws.sqs.queue";

static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "url",
        secret: false,
        doc: "the queue URL",
    },
    OutputSpec {
        name: "arn",
        secret: false,
        doc: "the queue ARN",
    },
    OutputSpec {
        name: "name",
        secret: false,
        doc: "the queue name, envctl-<tenant>-<id>[.fifo]",
    },
    OutputSpec {
        name: "dlq_url",
        secret: false,
        doc: "the dead-letter queue URL (only with dead_letter)",
    },
    OutputSpec {
        name: "dlq_arn",
        secret: false,
        doc: "the dead-letter queue ARN (only with dead_letter)",
    },
];

/// The SQS error codes that mean "no such queue" (the code differs between
/// the JSON and the query-compatible protocol).
const QUEUE_MISSING: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NonExistentQueue",
];

/// The main and dead-letter queue names. The base leaves room for the
/// longest suffix, so toggling `dead_letter` never renames the main queue.
fn names(cx: &Cx, fifo: bool) -> (String, String) {
    let suffix = if fifo { FIFO_SUFFIX } else { "" };
    let base = cx.physical_name(MAX_NAME - DLQ_SUFFIX.len() - FIFO_SUFFIX.len());
    (
        format!("{base}{suffix}"),
        format!("{base}{DLQ_SUFFIX}{suffix}"),
    )
}

/// The last path segment of a queue URL: its name.
fn name_of_url(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// The URL of queue `name`, or `None` when there is none.
async fn queue_url(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    owner: Option<&str>,
) -> Result<Option<String>, KindError> {
    Ok(found(
        &format!("GetQueueUrl {name}"),
        sqs.get_queue_url()
            .queue_name(name)
            .set_queue_owner_aws_account_id(owner.map(str::to_string))
            .send()
            .await,
        QUEUE_MISSING,
    )?
    .and_then(|out| out.queue_url().map(str::to_string)))
}

/// All attributes of a queue; `None` when it is gone.
async fn queue_attributes(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<Option<HashMap<QueueAttributeName, String>>, KindError> {
    Ok(found(
        &format!("GetQueueAttributes {url}"),
        sqs.get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await,
        QUEUE_MISSING,
    )?
    .map(|out| out.attributes().cloned().unwrap_or_default()))
}

/// A queue's tags; `None` when it is gone.
async fn queue_tags(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<Option<HashMap<String, String>>, KindError> {
    Ok(found(
        &format!("ListQueueTags {url}"),
        sqs.list_queue_tags().queue_url(url).send().await,
        QUEUE_MISSING,
    )?
    .map(|out| out.tags().cloned().unwrap_or_default()))
}

/// Two redrive policies are the same when they name the same target and
/// count (AWS returns the count as a number or as a string).
fn same_redrive(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> Option<(String, String)> {
        if s.trim().is_empty() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(s).ok()?;
        let arn = v.get("deadLetterTargetArn")?.as_str()?.to_string();
        let count = match v.get("maxReceiveCount")? {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Some((arn, count))
    }
    norm(a) == norm(b)
}

fn same_attribute(name: &QueueAttributeName, have: Option<&String>, want: &str) -> bool {
    let have = have.map(String::as_str).unwrap_or("");
    if *name == QueueAttributeName::RedrivePolicy {
        same_redrive(have, want)
    } else {
        have == want
    }
}

/// An error while configuring a queue we have just found or created: "no
/// such queue" then means it is not visible everywhere yet (SQS: up to a
/// minute), which a retry fixes.
fn configure_error<E, R>(what: &str, e: aws_sdk_sqs::error::SdkError<E, R>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + super::HttpStatus + 'static,
{
    super::call::not_visible_yet(
        what,
        e,
        |c| QUEUE_MISSING.contains(&c),
        "the new queue is not visible yet",
    )
}

/// A queue that exists with our tags and the wanted attributes.
struct Ensured {
    url: String,
    arn: String,
}

/// Finds queue `name` or creates it, then converges its attributes and tags.
/// `wanted` attributes with an empty value are removed (RedrivePolicy).
async fn ensure_queue(
    cx: &Cx,
    name: &str,
    fifo: bool,
    wanted: &BTreeMap<QueueAttributeName, String>,
) -> Result<Ensured, KindError> {
    let sqs = &cx.backends.aws.sqs;
    let our_tags: HashMap<String, String> = cx.tags().into_iter().collect();
    let url = match queue_url(sqs, name, None).await? {
        Some(url) => url,
        None => {
            let mut attributes: HashMap<QueueAttributeName, String> = wanted
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if fifo {
                attributes.insert(QueueAttributeName::FifoQueue, "true".into());
            }
            match sqs
                .create_queue()
                .queue_name(name)
                .set_attributes(Some(attributes))
                .set_tags(Some(our_tags.clone()))
                .send()
                .await
            {
                Ok(out) => out.queue_url().map(str::to_string).ok_or_else(|| {
                    KindError::Permanent(format!("CreateQueue {name}: no queue URL in answer"))
                })?,
                // Made meanwhile with other attributes: adopt and converge.
                Err(e) if matches!(e.code(), Some("QueueAlreadyExists" | "QueueNameExists")) => {
                    queue_url(sqs, name, None).await?.ok_or_else(|| {
                        KindError::Transient(format!("CreateQueue {name}: exists but not found"))
                    })?
                }
                // QueueDeletedRecently ("you must wait 60 seconds after deleting a
                // queue before you can create another queue with the same
                // name", SQS API reference, CreateQueue) is a wait in
                // classify; terraform-provider-aws sqs/queue.go retries it
                // likewise.
                Err(e) => return Err(classify(&format!("CreateQueue {name}"), e)),
            }
        }
    };

    let tags_now = queue_tags(sqs, &url).await?.unwrap_or_default();
    let owned: super::owner::Tags = tags_now.clone().into_iter().collect();
    super::owner::refuse_foreign(&format!("queue {name}"), &owned, cx)?;
    let missing: HashMap<String, String> = our_tags
        .into_iter()
        .filter(|(k, v)| tags_now.get(k) != Some(v))
        .collect();
    if !missing.is_empty() {
        sqs.tag_queue()
            .queue_url(&url)
            .set_tags(Some(missing))
            .send()
            .await
            .map_err(|e| configure_error(&format!("TagQueue {name}"), e))?;
    }

    let attributes = queue_attributes(sqs, &url).await?.ok_or_else(|| {
        KindError::Transient(format!("queue {name} vanished while it was being set up"))
    })?;
    let changes: HashMap<QueueAttributeName, String> = wanted
        .iter()
        .filter(|(k, v)| !same_attribute(k, attributes.get(k), v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !changes.is_empty() {
        sqs.set_queue_attributes()
            .queue_url(&url)
            .set_attributes(Some(changes))
            .send()
            .await
            .map_err(|e| configure_error(&format!("SetQueueAttributes {name}"), e))?;
    }
    let arn = attributes
        .get(&QueueAttributeName::QueueArn)
        .cloned()
        .ok_or_else(|| KindError::Permanent(format!("queue {name}: no QueueArn attribute")))?;
    Ok(Ensured { url, arn })
}

/// Deletes a queue by URL; a missing one is fine.
async fn delete_queue(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<(), KindError> {
    deleted(
        &format!("DeleteQueue {url}"),
        sqs.delete_queue().queue_url(url).send().await,
        QUEUE_MISSING,
    )
}

#[async_trait]
impl Kind for Queue {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "sqs"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// CreateQueue answers in well under a second (~1 s with tagging and
    /// attributes); the SQS developer guide warns that a new queue can take
    /// up to a minute to be usable by name everywhere, which `ready` waits
    /// for.
    fn expected(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(5 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: QueueProps = SCHEMA.parse(props)?;
        let (name, dlq_name) = names(cx, p.fifo);

        let mut wanted = BTreeMap::new();
        if let Some(v) = p.visibility_timeout_seconds {
            wanted.insert(QueueAttributeName::VisibilityTimeout, v.to_string());
        }
        if let Some(v) = p.message_retention_seconds {
            wanted.insert(QueueAttributeName::MessageRetentionPeriod, v.to_string());
        }

        let dlq = if p.dead_letter {
            let dlq_wanted = BTreeMap::from([(
                QueueAttributeName::MessageRetentionPeriod,
                DLQ_RETENTION_SECONDS.to_string(),
            )]);
            let dlq = ensure_queue(cx, &dlq_name, p.fifo, &dlq_wanted).await?;
            let policy = serde_json::json!({
                "deadLetterTargetArn": dlq.arn,
                "maxReceiveCount": p.max_receive_count,
            });
            wanted.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
            Some(dlq)
        } else {
            // Empty: remove a redrive policy left from an earlier dead_letter.
            wanted.insert(QueueAttributeName::RedrivePolicy, String::new());
            None
        };

        let main = ensure_queue(cx, &name, p.fifo, &wanted).await?;

        if dlq.is_none() {
            // dead_letter was turned off: remove our former dead-letter queue.
            let sqs = &cx.backends.aws.sqs;
            if let Some(url) = queue_url(sqs, &dlq_name, None).await?
                && let Some(t) = queue_tags(sqs, &url).await?
                && t.get(tags::TENANT).map(String::as_str) == Some(cx.tenant.as_str())
                && t.get(tags::RESOURCE) == Some(&cx.resource_id)
            {
                delete_queue(sqs, &url).await?;
            }
        }

        let mut out = Outputs::new()
            .plain("url", main.url)
            .plain("arn", main.arn)
            .plain("name", name);
        if let Some(dlq) = dlq {
            out = out.plain("dlq_url", dlq.url).plain("dlq_arn", dlq.arn);
        }
        Ok(out)
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let sqs = &cx.backends.aws.sqs;
        let name = out.require("name")?;
        if queue_url(sqs, name, None).await?.is_none() {
            return Ok(Readiness::Pending(format!("queue {name} not visible yet")));
        }
        if let Some(dlq_url) = out.get("dlq_url")
            && queue_attributes(sqs, dlq_url.expose()).await?.is_none()
        {
            return Ok(Readiness::Pending(format!(
                "dead-letter queue {} not visible yet",
                name_of_url(dlq_url.expose())
            )));
        }
        Ok(Readiness::Ready)
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let sqs = &cx.backends.aws.sqs;
        let main = match out.get("url") {
            Some(url) => Some(url.expose().to_string()),
            None => match out.get("name") {
                Some(name) => queue_url(sqs, name.expose(), None).await?,
                None => None,
            },
        };
        let dlq = out.get("dlq_url").map(|u| u.expose().to_string());
        if main.is_none() && dlq.is_none() && out.get("name").is_none() {
            return Err(KindError::Permanent(
                "output 'url' (or 'name') is missing".into(),
            ));
        }
        for url in main.iter().chain(dlq.iter()) {
            delete_queue(sqs, url).await?;
        }
        Ok(())
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let sqs = &cx.backends.aws.sqs;
        let prefix = format!("envctl-{}-", cx.tenant.as_str());
        let mut urls = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = sqs
                .list_queues()
                .queue_name_prefix(&prefix)
                .max_results(1000)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| classify("ListQueues", e))?;
            urls.extend(page.queue_urls().iter().cloned());
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => break,
            }
        }
        // Group by resource: a queue and its dead-letter queue share one.
        let mut by_resource: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for url in urls {
            let Some(t) = queue_tags(sqs, &url).await? else {
                continue;
            };
            if t.get(tags::TENANT).map(String::as_str) != Some(cx.tenant.as_str())
                || t.get(tags::MANAGED).map(String::as_str) != Some("true")
            {
                continue;
            }
            if let Some(resource_id) = t.get(tags::RESOURCE) {
                by_resource
                    .entry(resource_id.clone())
                    .or_default()
                    .push(url);
            }
        }
        let mut found = Vec::new();
        for (resource_id, mut urls) in by_resource {
            // The main queue has the shorter name (`x` before `x-dlq`).
            urls.sort_by_key(|u| (name_of_url(u).len(), u.clone()));
            let mut urls = urls.into_iter();
            let Some(main) = urls.next() else { continue };
            let mut outputs = Outputs::new()
                .plain("name", name_of_url(&main))
                .plain("url", main.clone());
            if let Some(dlq) = urls.next() {
                outputs = outputs.plain("dlq_url", dlq);
            }
            found.push(Found {
                resource_id: resource_id.clone(),
                outputs,
            });
            for extra in urls {
                found.push(Found {
                    resource_id: resource_id.clone(),
                    outputs: Outputs::new()
                        .plain("name", name_of_url(&extra))
                        .plain("url", extra),
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
    fn redrive_policies_compare_by_meaning() {
        let a = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:q-dlq","maxReceiveCount":5}"#;
        let b = r#"{"maxReceiveCount":"5","deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:q-dlq"}"#;
        let c = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:q-dlq","maxReceiveCount":6}"#;
        assert!(same_redrive(a, b));
        assert!(!same_redrive(a, c));
        assert!(same_redrive("", ""));
        assert!(!same_redrive(a, ""));
    }
}
