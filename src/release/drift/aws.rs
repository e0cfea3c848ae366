//! Drift of AWS resources: for every node whose journaled outputs hold an
//! ARN (`arn`), whether the resource still carries tags (so exists) and
//! whether its tags are the ones envctl puts on every resource
//! (`kinds::Cx::tags`): a tag changed, removed or added by hand is drift,
//! named by its key. Properties other than tags are not compared; a node
//! without an ARN output (VPCs, subnets, security groups, Route 53 zones,
//! records) is "not checked", said in the report.
//!
//! One Resource Groups Tagging API `GetResources` call per 100 ARNs
//! (`ResourceARNList`, at most 100 entries; "GetResources does not return
//! untagged resources", and an ARN that does not exist is left out without
//! an error): https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html
//! A resource it leaves out is reported as deleted: envctl tags every
//! resource at creation, so one without any tag is gone (or had every tag
//! stripped by hand, which the note says too).
//!
//! Tags whose key starts with `aws:` are AWS's own (CloudFormation, Service
//! Catalog); like terraform-provider-aws (internal/tags,
//! `KeyValueTags.IgnoreAWS`, applied when it reads `tags_all`) they are
//! never compared.

use std::collections::{BTreeMap, BTreeSet};

use super::{FieldDrift, NodeDrift, Status};
use crate::kinds::aws::AwsClients;
use crate::tenant::tags;

/// An AWS node of the revision, with the ARN its outputs publish (if any).
#[derive(Clone, Debug)]
pub struct Node {
    pub id: String,
    pub kind: String,
    pub arn: Option<String>,
}

/// What envctl set on every resource of the tenant.
#[derive(Clone, Debug)]
pub struct Expected {
    pub tenant: String,
    pub stack: String,
    pub environment: String,
    /// The tenant's expiry as the state holds it (a TTL extension re-stamps
    /// `envctl:expires-at` on every resource).
    pub expires_at: Option<String>,
}

/// Tags a kind adds to envctl's own (`Name`: lambda/function.rs, and
/// `ec2::named_tags` for Auto Scaling groups): their presence is not drift
/// (their value is the kind's business, not compared).
const KIND_TAGS: &[(&str, &str)] = &[
    ("aws.lambda.function", "Name"),
    ("aws.autoscaling.group", "Name"),
];

/// The prefix of AWS's own tags.
const AWS_PREFIX: &str = "aws:";

impl Expected {
    /// The tags envctl set on resource `id`, by key.
    fn tags(&self, id: &str) -> BTreeMap<String, String> {
        [
            (tags::TENANT, self.tenant.as_str()),
            (tags::STACK, self.stack.as_str()),
            (tags::RESOURCE, id),
            (tags::MANAGED, "true"),
            (tags::ENVIRONMENT, self.environment.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Same instant, however written (RFC 3339 with or without fractions).
fn same_instant(a: &str, b: &str) -> bool {
    match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The tag differences of resource `arn` of node `id` (kind `kind`).
pub fn compare(
    expected: &Expected,
    id: &str,
    kind: &str,
    arn: &str,
    live: &BTreeMap<String, String>,
) -> Vec<FieldDrift> {
    let wanted = expected.tags(id);
    let field = |key: &str, applied: Option<&String>, now: Option<&String>| FieldDrift {
        object: arn.to_string(),
        field: format!("tag {key}"),
        applied: applied.map(|v| quote(v)),
        live: now.map(|v| quote(v)),
        changed_by: None,
    };
    let mut out = Vec::new();
    for (k, v) in &wanted {
        if live.get(k) != Some(v) {
            out.push(field(k, Some(v), live.get(k)));
        }
    }
    match (&expected.expires_at, live.get(tags::EXPIRES_AT)) {
        (Some(want), Some(have)) if same_instant(want, have) => {}
        (Some(want), have) => out.push(field(tags::EXPIRES_AT, Some(want), have)),
        // No expiry in the state: a leftover expiry tag is not compared.
        (None, _) => {}
    }
    let known: BTreeSet<&str> = wanted
        .keys()
        .map(String::as_str)
        .chain([tags::EXPIRES_AT])
        .chain(
            KIND_TAGS
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, key)| *key),
        )
        .collect();
    for (k, v) in live {
        if !known.contains(k.as_str()) && !k.starts_with(AWS_PREFIX) {
            out.push(field(k, None, Some(v)));
        }
    }
    out
}

/// The drift of every AWS node: one verdict per node.
pub async fn check(
    aws: &AwsClients,
    nodes: &[Node],
    expected: &Expected,
) -> Result<Vec<NodeDrift>, String> {
    let arns: Vec<String> = nodes.iter().filter_map(|n| n.arn.clone()).collect();
    let live: BTreeMap<String, BTreeMap<String, String>> = if arns.is_empty() {
        BTreeMap::new()
    } else {
        crate::reap::discover::by_arn(aws, &arns)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| (r.arn, r.tags))
            .collect()
    };
    Ok(nodes
        .iter()
        .map(|n| match &n.arn {
            None => NodeDrift::new(&n.id, &n.kind, Status::NotChecked)
                .note("it publishes no ARN; only its existence in the journal is known"),
            Some(arn) => match live.get(arn) {
                None => NodeDrift::new(&n.id, &n.kind, Status::Deleted).note(format!(
                    "{arn} is not found by the Resource Groups Tagging API (deleted, or every tag removed by hand)"
                )),
                Some(t) => NodeDrift::of_fields(&n.id, &n.kind, compare(expected, &n.id, &n.kind, arn, t)),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Expected {
        Expected {
            tenant: "acme".into(),
            stack: "minimal".into(),
            environment: "dev".into(),
            expires_at: Some("2030-01-01T00:00:00Z".into()),
        }
    }

    fn live(extra: &[(&str, &str)], drop: &[&str]) -> BTreeMap<String, String> {
        let mut t = expected().tags("jobs");
        t.insert(tags::EXPIRES_AT.into(), "2030-01-01T00:00:00.000Z".into());
        for k in drop {
            t.remove(*k);
        }
        for (k, v) in extra {
            t.insert(k.to_string(), v.to_string());
        }
        t
    }

    fn fields(d: &[FieldDrift]) -> Vec<(String, Option<String>, Option<String>)> {
        d.iter()
            .map(|f| (f.field.clone(), f.applied.clone(), f.live.clone()))
            .collect()
    }

    #[test]
    fn envctls_tags_as_set_are_no_drift_and_aws_own_tags_are_ignored() {
        let e = expected();
        let t = live(&[("aws:cloudformation:stack-name", "x")], &[]);
        assert!(compare(&e, "jobs", "aws.sqs.queue", "arn:q", &t).is_empty());
        // A kind's own extra tag is not drift for that kind only.
        let t = live(&[("Name", "fn")], &[]);
        assert!(compare(&e, "jobs", "aws.lambda.function", "arn:f", &t).is_empty());
        assert_eq!(
            fields(&compare(&e, "jobs", "aws.sqs.queue", "arn:q", &t)),
            [("tag Name".to_string(), None, Some("\"fn\"".to_string()))]
        );
    }

    #[test]
    fn a_changed_removed_or_added_tag_is_named_by_its_key() {
        let e = expected();
        let t = live(
            &[(tags::STACK, "other"), ("owner", "bob")],
            &[tags::ENVIRONMENT],
        );
        let d = compare(&e, "jobs", "aws.sqs.queue", "arn:q", &t);
        assert_eq!(
            fields(&d),
            [
                (
                    "tag envctl:environment".to_string(),
                    Some("\"dev\"".to_string()),
                    None
                ),
                (
                    "tag envctl:stack".to_string(),
                    Some("\"minimal\"".to_string()),
                    Some("\"other\"".to_string())
                ),
                ("tag owner".to_string(), None, Some("\"bob\"".to_string())),
            ]
        );
        assert!(d.iter().all(|f| f.object == "arn:q"));
        // Another expiry than the state's is drift.
        let t = live(&[(tags::EXPIRES_AT, "2031-01-01T00:00:00Z")], &[]);
        let d = compare(&e, "jobs", "aws.sqs.queue", "arn:q", &t);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].field, "tag envctl:expires-at");
    }
}
