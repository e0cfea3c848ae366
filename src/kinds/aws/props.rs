//! Property shapes and rules the AWS kinds share: lists given as a list or
//! a comma-separated string (what a `${ref.output}` yields), numbers given
//! as text, resource-id prefixes, health-check paths, and how a property
//! issue becomes the error `apply` returns when a kind is called without
//! stack validation in front of it.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::kinds::schema::is_ref;
use crate::kinds::{KindError, PropIssue};

/// A list of strings, given as a YAML list or as one comma-separated string
/// (what a `${x.subnet_ids}` reference yields).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum StringList {
    List(Vec<String>),
    Text(String),
}

impl StringList {
    /// The items, trimmed, empty ones and repeats dropped.
    pub fn items(&self) -> Vec<String> {
        let raw: Vec<&str> = match self {
            StringList::List(items) => items.iter().map(String::as_str).collect(),
            StringList::Text(s) => s.split(',').collect(),
        };
        let mut seen = BTreeSet::new();
        raw.into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && seen.insert(s.clone()))
            .collect()
    }

    /// Whether any item still holds a `${ref}`.
    pub fn has_ref(&self) -> bool {
        match self {
            StringList::List(items) => items.iter().any(|s| is_ref(s)),
            StringList::Text(s) => is_ref(s),
        }
    }
}

impl JsonSchema for StringList {
    fn schema_name() -> Cow<'static, str> {
        "StringList".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["array", "string"], "items": { "type": "string" } })
    }
}

/// An issue as the error `apply` returns, worded as `parse_props` words
/// its own: `property 'ingress[0].port': ...`.
pub fn refusal(issue: PropIssue) -> KindError {
    let mut path = String::new();
    for seg in &issue.path {
        if seg.parse::<usize>().is_ok() {
            path.push_str(&format!("[{seg}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(seg);
        }
    }
    KindError::Permanent(format!("property '{path}': {}", issue.message))
}

/// The schema of a [`string_list`] property: a list of strings, or one
/// comma-separated string (what a `${ref.output}` yields).
pub fn string_list_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["array", "string", "null"],
        "items": { "type": "string" }
    })
}

/// Deserializes a list of strings given as a list, a comma-separated string
/// (what a `${ref.output}` yields), or a list whose items are such strings.
/// Items are trimmed; empty items and repeats are dropped.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct ListVisitor;

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of strings or a comma-separated string")
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            let mut out = Vec::new();
            push_items(&mut out, s);
            Ok(out)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                push_items(&mut out, &item);
            }
            Ok(out)
        }
    }

    d.deserialize_any(ListVisitor)
}

fn push_items(out: &mut Vec<String>, s: &str) {
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        if !out.iter().any(|o| o == item) {
            out.push(item.to_string());
        }
    }
}

/// An optional string property; empty (a reference to an empty output)
/// counts as absent.
pub fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// An issue at `prop` for the first id that does not start with `prefix`
/// (`subnet-`, `sg-`, `vpc-`); references are skipped (checked once
/// resolved). Ids are not secret: the message shows the one at fault.
pub fn id_issue(prop: &str, ids: &[String], prefix: &str) -> Option<PropIssue> {
    ids.iter()
        .find(|id| !is_ref(id) && !id.starts_with(prefix))
        .map(|bad| {
            PropIssue::new(
                &[prop],
                format!(
                    "'{bad}' is not an id of the form {prefix}…; give the id itself or a \
                     reference to an output that holds one"
                ),
            )
        })
}

/// Whether any item of a list property still holds a `${ref}` (which may
/// stand for several comma-separated items once resolved).
pub fn has_ref(items: &[String]) -> bool {
    items.iter().any(|i| is_ref(i))
}

/// The first of `issues` as the error `apply` returns: `apply` refuses what
/// `Kind::check` refuses (ranges included), for callers that go straight
/// to `apply`.
pub fn refuse(issues: Vec<PropIssue>) -> Result<(), KindError> {
    match issues.into_iter().next() {
        Some(issue) => Err(refusal(issue)),
        None => Ok(()),
    }
}

/// An HTTP health check path: starts with '/', printable ASCII, no spaces
/// (ELBv2 CreateTargetGroup `HealthCheckPath`, 1-1024 characters; Classic
/// ConfigureHealthCheck `Target`, "HTTP:port/path"). The length is the
/// schema's (`length(max = 1024)`); references are skipped.
pub fn health_check_path_issue(path: &str) -> Option<PropIssue> {
    (!is_ref(path) && (!path.starts_with('/') || !path.chars().all(|c| c.is_ascii_graphic()))).then(
        || {
            PropIssue::new(
                &["health_check_path"],
                "must start with '/' and have no spaces or non-ASCII characters, e.g. \
                 /healthcheck",
            )
        },
    )
}

/// A whole number, or a string holding one (`"443"`) or a word (`tcp`) or
/// a `${ref}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum IntOrText {
    Int(i64),
    Text(String),
}

impl IntOrText {
    /// The number, or the string's number; `None` for anything else.
    pub fn int(&self) -> Option<i64> {
        match self {
            IntOrText::Int(n) => Some(*n),
            IntOrText::Text(s) => s.trim().parse().ok(),
        }
    }

    pub fn is_ref(&self) -> bool {
        matches!(self, IntOrText::Text(s) if is_ref(s))
    }
}

impl JsonSchema for IntOrText {
    fn schema_name() -> Cow<'static, str> {
        "IntOrText".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["integer", "string"] })
    }
}
