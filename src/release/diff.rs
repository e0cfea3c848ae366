//! The difference between two snapshots, like `terraform plan`: per node
//! one [`Action`] with the fields that changed (properties, published KEYs,
//! and for services image, tag, port, replicas, resources, HPA, ingress and
//! the KEYs they read). A node changes in place unless a changed property is
//! fixed at creation ([`super::immutable`]): then it is replaced, and a
//! data-bearing resource's replacement or deletion is said in words.
//! Properties that are paths on this machine (a catalog directory, a
//! Lambda's source) are not compared: they say where, not what.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::immutable::{data_loss, forces_replacement};
use super::snapshot::{NodeSpec, Published, ServiceSpec, Snapshot};
use crate::stack::paths::PATH_PROPERTIES;

/// What applying the new snapshot does to one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoChange,
}

impl Action {
    fn sign(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoChange => " ",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update in place",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::NoChange => "no change",
        }
    }
}

/// One changed field; `old`/`new` are absent when the field is added or
/// removed. Secret values only ever appear as the snapshot's marker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// The API reference that makes this field fixed at creation, when the
    /// change forces a replacement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forces_replacement: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeChange {
    pub id: String,
    pub kind: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// Data a replacement or deletion would lose, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Every changed node (by id) and the counts of the summary line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub changes: Vec<NodeChange>,
    pub to_add: usize,
    pub to_change: usize,
    pub to_replace: usize,
    pub to_destroy: usize,
    pub unchanged: usize,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// `Plan: 1 to add, 2 to change, 1 to replace, 0 to destroy; 40 unchanged.`
    pub fn summary(&self) -> String {
        format!(
            "Plan: {} to add, {} to change, {} to replace, {} to destroy; {} unchanged.",
            self.to_add, self.to_change, self.to_replace, self.to_destroy, self.unchanged
        )
    }

    /// The changes as text, one block per node, then the summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            out.push_str(&format!(
                "{:>3} {} ({}): {}\n",
                c.action.sign(),
                c.id,
                c.kind,
                c.action.words()
            ));
            for f in &c.fields {
                let what = match (&f.old, &f.new) {
                    (Some(o), Some(n)) => format!("{o} -> {n}"),
                    (None, Some(n)) => format!("added {n}"),
                    (Some(o), None) => format!("removed {o}"),
                    (None, None) => "changed".into(),
                };
                let forces = if f.forces_replacement.is_some() {
                    " (forces replacement)"
                } else {
                    ""
                };
                out.push_str(&format!("      {}: {what}{forces}\n", f.field));
                if let Some(src) = &f.forces_replacement {
                    out.push_str(&format!("        why: {src}\n"));
                }
            }
            if let Some(w) = &c.warning {
                out.push_str(&format!("      ! {w}\n"));
            }
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&self.summary());
        out
    }
}

/// What applying `new` over `old` would do.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Diff {
    let ids: BTreeSet<&String> = old.nodes.keys().chain(new.nodes.keys()).collect();
    let mut d = Diff {
        changes: Vec::new(),
        to_add: 0,
        to_change: 0,
        to_replace: 0,
        to_destroy: 0,
        unchanged: 0,
    };
    for id in ids {
        let change = match (old.nodes.get(id), new.nodes.get(id)) {
            (None, Some(n)) => NodeChange {
                id: id.clone(),
                kind: n.kind.clone(),
                action: Action::Create,
                fields: image_field(n, |image| (None, Some(image))),
                warning: None,
            },
            (Some(o), None) => NodeChange {
                id: id.clone(),
                kind: o.kind.clone(),
                action: Action::Delete,
                fields: image_field(o, |image| (Some(image), None)),
                warning: data_loss(&o.kind).map(|loss| format!("deletes {} {id}; {loss}", o.kind)),
            },
            (Some(o), Some(n)) => node_change(id, o, n),
            (None, None) => unreachable!("the id came from one of the snapshots"),
        };
        match change.action {
            Action::Create => d.to_add += 1,
            Action::Update => d.to_change += 1,
            Action::Replace => d.to_replace += 1,
            Action::Delete => d.to_destroy += 1,
            Action::NoChange => {
                d.unchanged += 1;
                continue;
            }
        }
        d.changes.push(change);
    }
    d
}

/// A created or deleted service's image and KEYs, the fields worth showing.
fn image_field(
    n: &NodeSpec,
    sides: impl Fn(String) -> (Option<String>, Option<String>),
) -> Vec<FieldChange> {
    let Some(s) = &n.service else {
        return Vec::new();
    };
    let field = |field: String, value: String| {
        let (old, new) = sides(value);
        FieldChange {
            field,
            old,
            new,
            forces_replacement: None,
        }
    };
    std::iter::once(field(
        "image".into(),
        quote(&format!("{}:{}", s.image, s.tag)),
    ))
    .chain(
        service_keys(s)
            .into_iter()
            .map(|(k, how)| field(format!("env KEY {k}"), how.into())),
    )
    .collect()
}

/// A service's KEYs, each `(plain)` or `(secret)`: names only, the values
/// live in the value store and are never part of a revision.
fn service_keys(s: &ServiceSpec) -> BTreeMap<String, &'static str> {
    s.env
        .iter()
        .map(|k| (k.clone(), "(plain)"))
        .chain(s.secrets.iter().map(|k| (k.clone(), "(secret)")))
        .collect()
}

fn node_change(id: &str, o: &NodeSpec, n: &NodeSpec) -> NodeChange {
    let mut fields = Vec::new();
    if o.kind != n.kind {
        fields.push(FieldChange {
            field: "kind".into(),
            old: Some(o.kind.clone()),
            new: Some(n.kind.clone()),
            forces_replacement: Some("a resource never changes kind".into()),
        });
    } else {
        property_changes(&n.kind, &o.properties, &n.properties, &mut fields);
    }
    publish_changes(&o.publish, &n.publish, &mut fields);
    if let (Some(os), Some(ns)) = (&o.service, &n.service) {
        service_changes(os, ns, &mut fields);
    }
    let fixed: Vec<&str> = fields
        .iter()
        .filter(|f| f.forces_replacement.is_some())
        .map(|f| f.field.as_str())
        .collect();
    let action = if !fixed.is_empty() {
        Action::Replace
    } else if fields.is_empty() {
        Action::NoChange
    } else {
        Action::Update
    };
    let warning = match action {
        Action::Replace => data_loss(&o.kind).map(|loss| {
            format!(
                "replaces {} {id}: {} {}; {loss}",
                o.kind,
                join_words(&fixed),
                if fixed.len() == 1 {
                    "changes"
                } else {
                    "change"
                }
            )
        }),
        _ => None,
    };
    NodeChange {
        id: id.to_string(),
        kind: n.kind.clone(),
        action,
        fields,
        warning,
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_words(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn render(v: &Value) -> String {
    serde_json::to_string(v).expect("a JSON value serializes")
}

/// Nested objects flattened to dotted paths; lists and scalars are leaves.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        _ => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

fn property_changes(
    kind: &str,
    old: &serde_json::Map<String, Value>,
    new: &serde_json::Map<String, Value>,
    fields: &mut Vec<FieldChange>,
) {
    let leaves = |m: &serde_json::Map<String, Value>| {
        let mut out = BTreeMap::new();
        for (k, v) in m {
            if !PATH_PROPERTIES.contains(&(kind, k.as_str())) {
                flatten(k, v, &mut out);
            }
        }
        out
    };
    let (o, n) = (leaves(old), leaves(new));
    let paths: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    for path in paths {
        let (ov, nv) = (o.get(path), n.get(path));
        if ov == nv {
            continue;
        }
        let top = path.split('.').next().unwrap_or(path);
        fields.push(FieldChange {
            field: path.clone(),
            old: ov.map(render),
            new: nv.map(render),
            forces_replacement: forces_replacement(kind, top).map(String::from),
        });
    }
}

fn publish_changes(old: &[Published], new: &[Published], fields: &mut Vec<FieldChange>) {
    let by_key = |ps: &[Published]| -> BTreeMap<(String, String), String> {
        ps.iter()
            .map(|p| {
                (
                    (p.key.clone(), p.level.clone()),
                    format!(
                        "output {}{}",
                        p.output,
                        if p.secret { " (secret)" } else { "" }
                    ),
                )
            })
            .collect()
    };
    let (o, n) = (by_key(old), by_key(new));
    let keys: BTreeSet<&(String, String)> = o.keys().chain(n.keys()).collect();
    for k in keys {
        let (ov, nv) = (o.get(k), n.get(k));
        if ov != nv {
            fields.push(FieldChange {
                field: format!("publish KEY {} ({} level)", k.0, k.1),
                old: ov.cloned(),
                new: nv.cloned(),
                forces_replacement: None,
            });
        }
    }
}

fn service_changes(o: &ServiceSpec, n: &ServiceSpec, fields: &mut Vec<FieldChange>) {
    let mut field = |name: &str, ov: String, nv: String| {
        if ov != nv {
            fields.push(FieldChange {
                field: name.into(),
                old: Some(ov),
                new: Some(nv),
                forces_replacement: None,
            });
        }
    };
    field("image", quote(&o.image), quote(&n.image));
    field("tag", quote(&o.tag), quote(&n.tag));
    field("port", o.port.to_string(), n.port.to_string());
    field("replicas", o.replicas.to_string(), n.replicas.to_string());
    for (side, os, ns) in [
        ("requests", &o.resources.requests, &n.resources.requests),
        ("limits", &o.resources.limits, &n.resources.limits),
    ] {
        field(
            &format!("resources.{side}.cpu"),
            quote(&os.cpu),
            quote(&ns.cpu),
        );
        field(
            &format!("resources.{side}.memory"),
            quote(&os.memory),
            quote(&ns.memory),
        );
        field(
            &format!("resources.{side}.ephemeral_storage"),
            quote(&os.ephemeral_storage),
            quote(&ns.ephemeral_storage),
        );
    }
    let hpa = |s: &ServiceSpec| {
        s.hpa.as_ref().map_or("none".into(), |h| {
            format!("{}-{} replicas at {}% CPU", h.min, h.max, h.cpu_percent)
        })
    };
    field("hpa", hpa(o), hpa(n));
    let ingress = |s: &ServiceSpec| {
        s.ingress.as_ref().map_or("none".into(), |i| {
            format!("host {} path {}", i.host, i.path)
        })
    };
    field("ingress", ingress(o), ingress(n));
    let (ok, nk) = (service_keys(o), service_keys(n));
    let all: BTreeSet<&String> = ok.keys().chain(nk.keys()).collect();
    for k in all {
        let (ov, nv) = (ok.get(k), nk.get(k));
        if ov != nv {
            fields.push(FieldChange {
                field: format!("env KEY {k}"),
                old: ov.map(|v| v.to_string()),
                new: nv.map(|v| v.to_string()),
                forces_replacement: None,
            });
        }
    }
}
