//! Drift of Kubernetes objects. For a `k8s.service` node the manifests the
//! kind applies are rendered again (the revision's catalog source, the
//! node's properties resolved from the journal's outputs, the values in the
//! store) and each object is checked with a server-side apply **dry run**
//! (`dryRun=All`) with field manager `envctl` and **without force**:
//!
//! - a 409 conflict means another manager (`kubectl edit`, `kubectl scale`,
//!   a patch) changed a field envctl owns; its causes name each field and
//!   the manager ("Server-Side Apply", Conflicts:
//!   https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts);
//! - an object that is not there any more is drift: deleted;
//! - otherwise the dry run's result is compared with the live object: a
//!   field that differs is one envctl's next apply would change (a field
//!   envctl set that someone removed, or a value changed in the value store
//!   since). Dry runs persist nothing
//!   (https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run).
//!
//! Secret values never leave this module: a Secret's fields are named, their
//! values shown as [`HIDDEN`]. A `k8s.namespace` node is checked for
//! existence only.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use super::{FieldDrift, HIDDEN, NodeDrift, Status, WHOLE_OBJECT};
use crate::blueprint::{self, Catalog, Manifest, RenderContext, SecretMode, Value};
use crate::kinds::Backends;
use crate::kinds::k8s::{FIELD_MANAGER, is_not_found};
use crate::release::snapshot::{NodeSpec, Snapshot};
use crate::stack::refs;

/// What one object's check found.
enum Found {
    InSync,
    Deleted,
    Fields(Vec<FieldDrift>),
}

/// A directory of this process, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The revision's catalog that node `node` names, loaded from its recorded
/// source (written to a scratch directory and read back into memory).
fn catalog_of(snap: &Snapshot, id: &str, node: &NodeSpec) -> Result<Catalog, String> {
    let dir = node
        .properties
        .get("catalog")
        .and_then(Json::as_str)
        .ok_or_else(|| format!("node '{id}': its revision names no catalog"))?;
    let only = Snapshot {
        catalogs: snap
            .catalogs
            .iter()
            .filter(|(k, _)| k.as_str() == dir)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        nodes: BTreeMap::new(),
        ..snap.clone()
    };
    let scratch = Scratch(
        std::env::temp_dir().join(format!("envctl-drift-{}", uuid::Uuid::new_v4().simple())),
    );
    let written = crate::release::restore::write_catalogs(&only, &scratch.0)?;
    let at = written.get(dir).ok_or_else(|| {
        format!("node '{id}': the revision does not hold the source of its catalog")
    })?;
    Catalog::load(Path::new(at)).map_err(|e| format!("node '{id}': its recorded catalog: {e}"))
}

/// The drift of `k8s.service` node `id`: every object it applies.
pub async fn check_service(
    backends: &Backends,
    tenant: &str,
    snap: &Snapshot,
    id: &str,
    node: &NodeSpec,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<NodeDrift, String> {
    let lookup = |res: &str, out: &str| outputs.get(res).and_then(|o| o.get(out)).cloned();
    let props = refs::substitute(&node.properties, &lookup)
        .map_err(|e| format!("node '{id}': {e}; the journal lacks an output it reads"))?;
    let get = |k: &str| {
        props
            .get(k)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (service, namespace) = (get("service"), get("namespace"));
    let catalog = catalog_of(snap, id, node)?;
    let merged = backends
        .values
        .merged(&snap.environment, Some(tenant), Some(&service))
        .await
        .map_err(|e| format!("node '{id}': reading its values: {e}"))?;
    let mut rc = RenderContext::new(tenant, &namespace, get("domain"));
    for (key, (value, _level)) in merged {
        rc.values.insert(key, Value::from(value));
    }
    let manifests = blueprint::render(&catalog, &service, &rc, SecretMode::Reveal)
        .map_err(|e| format!("node '{id}': rendering service {service}: {e}"))?;
    let client = backends.kube.get().await.map_err(|e| e.to_string())?;
    let mut fields = Vec::new();
    for m in &manifests {
        let found = match m.kind.as_str() {
            "ConfigMap" => check_one::<ConfigMap>(&client, &namespace, m).await,
            "Secret" => check_one::<Secret>(&client, &namespace, m).await,
            "Service" => check_one::<Service>(&client, &namespace, m).await,
            "Deployment" => check_one::<Deployment>(&client, &namespace, m).await,
            "PodDisruptionBudget" => check_one::<PodDisruptionBudget>(&client, &namespace, m).await,
            "HorizontalPodAutoscaler" => {
                check_one::<HorizontalPodAutoscaler>(&client, &namespace, m).await
            }
            "Ingress" => check_one::<Ingress>(&client, &namespace, m).await,
            other => Err(format!("rendered object of unknown kind {other}")),
        }
        .map_err(|e| format!("node '{id}': {e}"))?;
        match found {
            Found::InSync => {}
            Found::Deleted => fields.push(FieldDrift {
                object: object_name(m),
                field: WHOLE_OBJECT.into(),
                applied: None,
                live: None,
                changed_by: None,
            }),
            Found::Fields(f) => fields.extend(f),
        }
    }
    Ok(NodeDrift::of_fields(id, &node.kind, fields))
}

fn object_name(m: &Manifest) -> String {
    format!("{}/{}", m.kind, m.name)
}

/// Checks one rendered object against the live one.
async fn check_one<K>(client: &kube::Client, namespace: &str, m: &Manifest) -> Result<Found, String>
where
    K: Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug
        + kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    let what = object_name(m);
    let applied: K = serde_yaml_ng::from_str(&m.yaml)
        .map_err(|e| format!("rendered {what} is not valid: {e}"))?;
    let api = Api::<K>::namespaced(client.clone(), namespace);
    let live = match api.get_opt(&m.name).await {
        Ok(Some(live)) => live,
        Ok(None) => return Ok(Found::Deleted),
        Err(e) => return Err(format!("get {what} in namespace {namespace}: {e}")),
    };
    let live = serde_json::to_value(&live).expect("an object serializes");
    let secret = m.kind == "Secret";
    // No force: a field another manager owns now is a conflict, not taken.
    let params = PatchParams::apply(FIELD_MANAGER).dry_run();
    match api.patch(&m.name, &params, &Patch::Apply(&applied)).await {
        Ok(result) => {
            let result = serde_json::to_value(&result).expect("an object serializes");
            Ok(found(differences(&what, &result, &live, secret)))
        }
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let applied = serde_json::to_value(&applied).expect("an object serializes");
            Ok(found(conflicts(&what, &s, &applied, &live, secret)))
        }
        Err(e) if is_not_found(&e) => Ok(Found::Deleted),
        Err(e) => Err(format!(
            "dry-run apply of {what} in namespace {namespace}: {e}"
        )),
    }
}

fn found(fields: Vec<FieldDrift>) -> Found {
    if fields.is_empty() {
        Found::InSync
    } else {
        Found::Fields(fields)
    }
}

/// A field's value as shown: JSON, or [`HIDDEN`] for a Secret's.
fn shown(v: Option<&Json>, secret: bool) -> Option<String> {
    v.map(|v| {
        if secret {
            HIDDEN.to_string()
        } else {
            serde_json::to_string(v).expect("a JSON value serializes")
        }
    })
}

/// The fields of a 409 conflict: each cause names a field path
/// (`.spec.replicas`) and the manager (`conflict with "kubectl-edit" using
/// apps/v1`); without causes, the message is kept whole.
fn conflicts(
    what: &str,
    s: &kube::core::Status,
    applied: &Json,
    live: &Json,
    secret: bool,
) -> Vec<FieldDrift> {
    let causes: Vec<_> = s
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    if causes.is_empty() {
        return vec![FieldDrift {
            object: what.to_string(),
            field: "(conflict)".into(),
            applied: None,
            live: Some(s.message.clone()),
            changed_by: None,
        }];
    }
    causes
        .iter()
        .map(|c| FieldDrift {
            object: what.to_string(),
            field: c.field.clone(),
            applied: shown(at_path(applied, &c.field), secret),
            live: shown(at_path(live, &c.field), secret),
            changed_by: manager_of(&c.message),
        })
        .collect()
}

/// `conflict with "kubectl-edit" using apps/v1` → `kubectl-edit`.
fn manager_of(message: &str) -> Option<String> {
    let rest = message.split_once('"')?.1;
    Some(rest.split_once('"')?.0.to_string())
}

/// The value at a field path of a conflict: `.spec.replicas`,
/// `.spec.template.spec.containers[name="web"].env[name="LOG_LEVEL"].value`;
/// `None` when it is not there (or the path is of a form not read here).
fn at_path<'a>(obj: &'a Json, path: &str) -> Option<&'a Json> {
    let mut cur = obj;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            cur = cur.get(&r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let selector = &r[..end];
            rest = &r[end + 1..];
            let items = cur.as_array()?;
            cur = match selector.split_once('=') {
                Some((key, value)) => {
                    let value: Json = serde_json::from_str(value).ok()?;
                    items.iter().find(|i| i.get(key) == Some(&value))?
                }
                None => items.get(selector.parse::<usize>().ok()?)?,
            };
        } else {
            return None;
        }
    }
    Some(cur)
}

/// What is bookkeeping, not content: never compared.
fn ignored(path: &str) -> bool {
    path == ".status"
        || path.starts_with(".status.")
        || [
            ".metadata.managedFields",
            ".metadata.resourceVersion",
            ".metadata.generation",
            ".metadata.creationTimestamp",
            ".metadata.uid",
        ]
        .iter()
        .any(|p| {
            path == *p || path.starts_with(&format!("{p}.")) || path.starts_with(&format!("{p}["))
        })
}

/// Leaves of a JSON object by path (`.a.b`, lists by index `[0]`).
fn leaves(prefix: &str, v: &Json, out: &mut BTreeMap<String, Json>) {
    if ignored(prefix) {
        return;
    }
    match v {
        Json::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                leaves(&format!("{prefix}.{k}"), v, out);
            }
        }
        Json::Array(a) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                leaves(&format!("{prefix}[{i}]"), v, out);
            }
        }
        _ => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

/// The fields where the dry run's result (what envctl's apply makes of the
/// object) differs from the live object.
fn differences(what: &str, result: &Json, live: &Json, secret: bool) -> Vec<FieldDrift> {
    let (mut r, mut l) = (BTreeMap::new(), BTreeMap::new());
    leaves("", result, &mut r);
    leaves("", live, &mut l);
    let paths: std::collections::BTreeSet<&String> = r.keys().chain(l.keys()).collect();
    paths
        .into_iter()
        .filter(|p| r.get(*p) != l.get(*p))
        .map(|p| FieldDrift {
            object: what.to_string(),
            field: p.clone(),
            applied: shown(r.get(p), secret),
            live: shown(l.get(p), secret),
            changed_by: None,
        })
        .collect()
}

/// A `k8s.namespace` node: does its namespace (output `name`) exist?
pub async fn check_namespace(
    backends: &Backends,
    id: &str,
    kind: &str,
    out: &BTreeMap<String, String>,
) -> Result<NodeDrift, String> {
    let Some(name) = out.get("name") else {
        return Ok(NodeDrift::new(id, kind, Status::NotChecked)
            .note("the journal holds no namespace name for it"));
    };
    let client = backends.kube.get().await.map_err(|e| e.to_string())?;
    match Api::<Namespace>::all(client).get_opt(name).await {
        Ok(Some(_)) => Ok(NodeDrift::new(id, kind, Status::InSync)),
        Ok(None) => Ok(NodeDrift::new(id, kind, Status::Deleted)
            .note(format!("namespace {name} does not exist"))),
        Err(e) => Err(format!("get namespace {name}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_conflict_path_is_read_through_keyed_lists() {
        let d = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "side", "env": []},
            {"name": "web", "env": [{"name": "LOG_LEVEL", "value": "debug"}]}
        ]}}}});
        assert_eq!(at_path(&d, ".spec.replicas"), Some(&json!(3)));
        assert_eq!(
            at_path(
                &d,
                ".spec.template.spec.containers[name=\"web\"].env[name=\"LOG_LEVEL\"].value"
            ),
            Some(&json!("debug"))
        );
        assert_eq!(
            at_path(&d, ".spec.template.spec.containers[1].name"),
            Some(&json!("web"))
        );
        assert_eq!(at_path(&d, ".spec.paused"), None);
        assert_eq!(
            manager_of("conflict with \"kubectl-edit\" using apps/v1").as_deref(),
            Some("kubectl-edit")
        );
    }

    #[test]
    fn differences_skip_bookkeeping_and_hide_secret_values() {
        let live = json!({"metadata": {"resourceVersion": "1", "managedFields": [{"manager": "x"}]},
            "data": {"PASSWORD": "c2VjcmV0", "USER": "YQ=="}, "status": {"x": 1}});
        let result = json!({"metadata": {"resourceVersion": "2", "managedFields": []},
            "data": {"PASSWORD": "b3RoZXI=", "USER": "YQ=="}});
        let d = differences("Secret/web", &result, &live, true);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].field, ".data.PASSWORD");
        assert_eq!(d[0].applied.as_deref(), Some(HIDDEN));
        assert_eq!(d[0].live.as_deref(), Some(HIDDEN));
        let plain = differences("ConfigMap/web", &result, &live, false);
        assert_eq!(plain[0].live.as_deref(), Some("\"c2VjcmV0\""));
    }
}
