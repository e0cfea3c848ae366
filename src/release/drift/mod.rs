//! Drift: what runs now against what envctl applied (a tenant's newest
//! revision), per node, like the diff reports changes. Kubernetes objects
//! are checked with a server-side apply dry run ([`k8s`]), AWS resources by
//! their existence and tags ([`aws`]). What is compared, and what is not, is
//! said in [`COMPARED`] and in the report itself: nothing is skipped
//! silently.

pub mod aws;
pub mod k8s;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::snapshot::Snapshot;
use crate::kinds::Backends;
use crate::state::{RevisionRow, StateStore};

/// What `--live` compares, in words (printed by `-o text`, kept in the
/// README).
pub const COMPARED: &str = "compared: Kubernetes objects of k8s.service nodes (a server-side apply \
     dry run of the manifests envctl applies: fields another manager took over, objects deleted, \
     fields an apply would change), k8s.namespace nodes (exist), AWS resources that publish an ARN \
     (exist, tags); not compared: AWS properties other than tags, AWS resources without an ARN \
     output, values and secrets in the value store";

/// One node's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DriftStatus)]
pub enum Status {
    InSync,
    Drifted,
    Deleted,
    /// envctl cannot check this node (said why in the note).
    NotChecked,
}

impl Status {
    fn sign(self) -> &'static str {
        match self {
            Status::InSync => " ",
            Status::Drifted => "~",
            Status::Deleted => "-",
            Status::NotChecked => "?",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Status::InSync => "in sync",
            Status::Drifted => "drifted",
            Status::Deleted => "deleted",
            Status::NotChecked => "not checked",
        }
    }
}

/// One field that is not what envctl set. `applied`/`live` are absent
/// when the field is missing on that side; a secret value is never shown
/// (only the marker [`HIDDEN`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldDrift {
    /// What the field is on: `Deployment/web`, or an AWS resource's ARN.
    pub object: String,
    /// `.spec.replicas`, `tag envctl:stack`, or `(object)` for a deleted
    /// object.
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<String>,
    /// The field manager that changed it, when the cluster says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
}

/// What a report shows in place of a secret value.
pub const HIDDEN: &str = "(secret value, not shown)";

/// The field of a deleted object.
pub const WHOLE_OBJECT: &str = "(object)";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeDrift {
    pub id: String,
    pub kind: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDrift>,
    /// Why it was not checked, or how a deletion was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl NodeDrift {
    pub fn new(id: &str, kind: &str, status: Status) -> Self {
        Self {
            id: id.to_string(),
            kind: kind.to_string(),
            status,
            fields: Vec::new(),
            note: None,
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Drifted when any field is; in sync otherwise.
    pub fn of_fields(id: &str, kind: &str, fields: Vec<FieldDrift>) -> Self {
        let status = if fields.is_empty() {
            Status::InSync
        } else {
            Status::Drifted
        };
        Self {
            fields,
            ..Self::new(id, kind, status)
        }
    }
}

/// The drift of one tenant: every node that is not in sync (drifted,
/// deleted, not checked), and the counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DriftReport {
    pub tenant: String,
    pub revision: i64,
    pub checked_at: String,
    pub drifted: bool,
    pub nodes: Vec<NodeDrift>,
    pub counts: Counts,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DriftCounts)]
pub struct Counts {
    pub drifted: usize,
    pub deleted: usize,
    pub not_checked: usize,
    pub in_sync: usize,
    /// Nodes of kinds drift does not compare (values, secrets).
    pub not_compared: usize,
}

impl DriftReport {
    fn of(tenant: &str, revision: i64, all: Vec<NodeDrift>, not_compared: usize) -> Self {
        let mut counts = Counts {
            not_compared,
            ..Counts::default()
        };
        let mut nodes = Vec::new();
        for n in all {
            match n.status {
                Status::InSync => {
                    counts.in_sync += 1;
                    continue;
                }
                Status::Drifted => counts.drifted += 1,
                Status::Deleted => counts.deleted += 1,
                Status::NotChecked => counts.not_checked += 1,
            }
            nodes.push(n);
        }
        Self {
            tenant: tenant.to_string(),
            revision,
            checked_at: jiff::Timestamp::now().to_string(),
            drifted: counts.drifted + counts.deleted > 0,
            nodes,
            counts,
        }
    }

    /// `Drift: 1 drifted, 0 deleted, 2 not checked; 5 in sync, 9 not compared.`
    pub fn summary(&self) -> String {
        let c = &self.counts;
        format!(
            "Drift: {} drifted, {} deleted, {} not checked; {} in sync, {} not compared.",
            c.drifted, c.deleted, c.not_checked, c.in_sync, c.not_compared
        )
    }

    /// One block per node that is not in sync, then the summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            out.push_str(&format!(
                "{:>3} {} ({}): {}",
                n.status.sign(),
                n.id,
                n.kind,
                n.status.words()
            ));
            if let Some(note) = &n.note {
                out.push_str(&format!(": {note}"));
            }
            out.push('\n');
            for f in &n.fields {
                let what = match (&f.applied, &f.live) {
                    _ if f.field == WHOLE_OBJECT => "deleted".to_string(),
                    (Some(a), Some(l)) => format!("envctl set {a}, live {l}"),
                    (None, Some(l)) => format!("added {l}"),
                    (Some(a), None) => format!("removed (envctl set {a})"),
                    (None, None) => "changed".into(),
                };
                let by = f
                    .changed_by
                    .as_ref()
                    .map(|m| format!(" (changed by {m})"))
                    .unwrap_or_default();
                let field = if f.field == WHOLE_OBJECT {
                    String::new()
                } else {
                    format!(" {}", f.field)
                };
                out.push_str(&format!("      {}{field}: {what}{by}\n", f.object));
            }
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&self.summary());
        out
    }
}

/// Why a drift check could not be made at all (a backend that does not
/// answer): never reported as "no drift".
#[derive(Debug, thiserror::Error)]
#[error("drift check of tenant {tenant}: {message}")]
pub struct DriftError {
    pub tenant: String,
    pub message: String,
}

/// The drift of `tenant` against its revision `row`: reads the journal's
/// outputs, renders what envctl applies and asks the cluster and AWS.
pub async fn check(
    backends: &Backends,
    state: &StateStore,
    row: &RevisionRow,
) -> Result<DriftReport, DriftError> {
    let tenant = row.tenant.as_str();
    let fail = |message: String| DriftError {
        tenant: tenant.to_string(),
        message,
    };
    let snap = Snapshot::from_json(&row.content_json).map_err(fail)?;
    let events = state
        .events(tenant)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let records = crate::journal::replay(&events).map_err(|e| fail(e.to_string()))?;
    let outputs: BTreeMap<String, BTreeMap<String, String>> = records
        .into_iter()
        .filter(|(_, r)| r.state == crate::journal::NodeState::Succeeded)
        .map(|(id, r)| (id, r.outputs))
        .collect();
    let expires_at = state
        .tenant(tenant)
        .await
        .map_err(|e| fail(e.to_string()))?
        .and_then(|t| t.expires_at);

    let mut nodes = Vec::new();
    let mut not_compared = 0;
    let mut aws_nodes = Vec::new();
    for (id, node) in &snap.nodes {
        let Some(out) = outputs.get(id) else {
            nodes.push(
                NodeDrift::new(id, &node.kind, Status::NotChecked)
                    .note("the journal records no successful apply of it"),
            );
            continue;
        };
        match node.kind.as_str() {
            crate::stack::expand::SERVICE_KIND => nodes.push(
                k8s::check_service(backends, tenant, &snap, id, node, &outputs)
                    .await
                    .map_err(fail)?,
            ),
            "k8s.namespace" => nodes.push(
                k8s::check_namespace(backends, id, &node.kind, out)
                    .await
                    .map_err(fail)?,
            ),
            kind if kind.starts_with("aws.") => aws_nodes.push(aws::Node {
                id: id.clone(),
                kind: kind.to_string(),
                arn: out.get("arn").cloned(),
            }),
            _ => not_compared += 1,
        }
    }
    let expected = aws::Expected {
        tenant: tenant.to_string(),
        stack: snap.stack.clone(),
        environment: snap.environment.clone(),
        expires_at,
    };
    nodes.extend(
        aws::check(&backends.aws, &aws_nodes, &expected)
            .await
            .map_err(fail)?,
    );
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(DriftReport::of(tenant, row.revision, nodes, not_compared))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(object: &str, field: &str, a: Option<&str>, l: Option<&str>) -> FieldDrift {
        FieldDrift {
            object: object.into(),
            field: field.into(),
            applied: a.map(String::from),
            live: l.map(String::from),
            changed_by: None,
        }
    }

    #[test]
    fn only_drifted_and_deleted_nodes_make_drift() {
        let calm = DriftReport::of(
            "acme",
            2,
            vec![
                NodeDrift::new("ns", "k8s.namespace", Status::InSync),
                NodeDrift::new("vpc", "aws.ec2.vpc", Status::NotChecked).note("no ARN"),
            ],
            3,
        );
        assert!(!calm.drifted);
        assert_eq!(calm.nodes.len(), 1, "in-sync nodes are counted, not listed");
        assert_eq!(
            calm.summary(),
            "Drift: 0 drifted, 0 deleted, 1 not checked; 1 in sync, 3 not compared."
        );

        let mut web = NodeDrift::of_fields(
            "web",
            "k8s.service",
            vec![
                FieldDrift {
                    changed_by: Some("kubectl-edit".into()),
                    ..field("Deployment/web", ".spec.replicas", Some("1"), Some("3"))
                },
                field("ConfigMap/web-config", WHOLE_OBJECT, None, None),
            ],
        );
        web.note = None;
        let tagged = NodeDrift::of_fields(
            "jobs",
            "aws.sqs.queue",
            vec![
                field("arn:q", "tag owner", None, Some("\"bob\"")),
                field("arn:q", "tag envctl:stack", Some("\"s\""), None),
            ],
        );
        let r = DriftReport::of("acme", 2, vec![web, tagged], 0);
        assert!(r.drifted);
        let text = r.render_text();
        for want in [
            "  ~ web (k8s.service): drifted",
            "      Deployment/web .spec.replicas: envctl set 1, live 3 (changed by kubectl-edit)",
            "      ConfigMap/web-config: deleted",
            "      arn:q tag owner: added \"bob\"",
            "      arn:q tag envctl:stack: removed (envctl set \"s\")",
            "Drift: 2 drifted, 0 deleted, 0 not checked; 0 in sync, 0 not compared.",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["nodes"][0]["status"], "drifted");
        let back: DriftReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }
}
