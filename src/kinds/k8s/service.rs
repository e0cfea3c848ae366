//! `k8s.service`: one microservice of the catalog in the tenant's namespace.
//! Reads the values the service consumes from the value store (service over
//! tenant-common over environment-common), renders its manifests from the
//! blueprints, applies them with server-side apply, and is ready when the
//! Deployment's rollout is complete (observed generation, every replica
//! updated and available, no old one left: `kubectl rollout status`'s rule,
//! [`rollout_pending`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::namespace::is_dns_label;
use super::{apply, classify, is_not_found};
use crate::blueprint::{self, Catalog, RenderContext, SecretMode, Value};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, parse_props,
};

/// The `k8s.service` kind.
pub struct ServiceKind;

/// The kind's name in stacks.
const NAME: &str = "k8s.service";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<ServiceProps>(NAME));

/// One microservice of the blueprint catalog, rendered and applied in the
/// tenant's namespace; ready when its Deployment has rolled out.
///
/// A stack usually writes one `k8s.catalog` entry, which becomes one
/// `k8s.service` node per service of the catalog with these properties
/// (stack/expand.rs). The service's manifests (ConfigMap, Secret, Service,
/// Deployment, PodDisruptionBudget, HorizontalPodAutoscaler, Ingress) are
/// rendered from the blueprints with the values the service consumes from
/// the value store (service over tenant-common over environment-common) and
/// applied with server-side apply. Ready is `kubectl rollout status`'s
/// rule: observed generation, every replica updated and available, no old
/// one left.
///
/// Rules: `namespace` is an RFC 1123 DNS label (Kubernetes "Object Names
/// and IDs"); `rollout_timeout` is a duration as humantime reads it
/// (`90s`, `5m`, `1h 30m`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ServiceProps {
    /// The blueprint catalog directory, relative to the stack file (resolved
    /// when the stack is loaded); default: `blueprints`.
    #[serde(default = "default_catalog")]
    catalog: String,
    /// The service's name in the catalog, e.g. `orders`.
    service: String,
    /// The tenant's namespace the service runs in, usually
    /// `${namespace.name}`.
    namespace: String,
    /// The DNS domain the service's Ingress hosts are made under, e.g.
    /// `${zone.name}` or `apps.acme-corp.io`.
    domain: String,
    /// How long the rollout may take, e.g. `5m`; default: 10m.
    #[serde(default)]
    rollout_timeout: Option<String>,
}

impl KindProps for ServiceProps {
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        if !is_ref(&self.namespace) && !is_dns_label(&self.namespace) {
            issues.push(PropIssue::new(
                &["namespace"],
                "is not a namespace name: use 1-63 characters of a-z, 0-9 and '-', \
                 starting and ending with a letter or digit (usually ${namespace.name})",
            ));
        }
        if let Some(t) = self.rollout_timeout.as_deref().filter(|t| !is_ref(t))
            && let Err(e) = humantime::parse_duration(t)
        {
            issues.push(PropIssue::new(
                &["rollout_timeout"],
                format!("is not a duration ({e}); write e.g. 5m"),
            ));
        }
        issues
    }
}

fn default_catalog() -> String {
    "blueprints".into()
}

/// Catalogs are read once per process.
static CATALOGS: Mutex<Option<HashMap<PathBuf, Arc<Catalog>>>> = Mutex::new(None);

/// The catalog in `dir`, loaded once.
pub fn catalog(dir: &Path) -> Result<Arc<Catalog>, KindError> {
    let mut cache = CATALOGS.lock().expect("catalog cache");
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(c) = cache.get(dir) {
        return Ok(c.clone());
    }
    let loaded = Arc::new(Catalog::load(dir).map_err(|e| KindError::Permanent(e.to_string()))?);
    cache.insert(dir.to_path_buf(), loaded.clone());
    Ok(loaded)
}

/// Parses one rendered manifest into its API type and applies it.
async fn apply_one<K>(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    yaml: &str,
) -> Result<(), KindError>
where
    K: Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug
        + kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    let obj: K = serde_yaml_ng::from_str(yaml).map_err(|e| {
        KindError::Permanent(format!(
            "rendered {} {name} is not valid: {e}",
            K::kind(&())
        ))
    })?;
    apply(&Api::<K>::namespaced(client.clone(), namespace), name, &obj).await?;
    Ok(())
}

async fn delete_one<K>(client: &kube::Client, namespace: &str, name: &str) -> Result<(), KindError>
where
    K: Clone
        + DeserializeOwned
        + std::fmt::Debug
        + kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match Api::<K>::namespaced(client.clone(), namespace)
        .delete(name, &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(classify(&format!("delete {} {name}", K::kind(&())), e)),
    }
}

/// The render context of one service: its merged values from the store.
async fn context(cx: &Cx, p: &ServiceProps) -> Result<RenderContext, KindError> {
    let merged = cx
        .backends
        .values
        .merged(&cx.environment, Some(cx.tenant.as_str()), Some(&p.service))
        .await
        .map_err(|e| KindError::Transient(e.to_string()))?;
    let mut rc = RenderContext::new(cx.tenant.as_str(), &p.namespace, &p.domain);
    for (key, (value, _level)) in merged {
        rc.values.insert(key, Value::from(value));
    }
    Ok(rc)
}

#[async_trait]
impl Kind for ServiceKind {
    fn name(&self) -> &'static str {
        NAME
    }
    fn api(&self) -> &'static str {
        "k8s"
    }
    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[
            OutputSpec {
                name: "deployment",
                secret: false,
                doc: "the Deployment's name",
            },
            OutputSpec {
                name: "namespace",
                secret: false,
                doc: "its namespace",
            },
            OutputSpec {
                name: "objects",
                secret: false,
                doc: "kind/name of every applied object, comma-separated",
            },
        ]
    }
    /// Image pull, start and readiness probe of a typical JVM or Node
    /// service: ~45 s (the seed's services; kwok makes pods Ready at once).
    fn expected(&self) -> Duration {
        Duration::from_secs(45)
    }
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(10 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        // `rollout_timeout` is checked before apply (ServiceProps::check).
        let p: ServiceProps = parse_props(props)?;
        let catalog = catalog(Path::new(&p.catalog))?;
        let rc = context(cx, &p).await?;
        let manifests = blueprint::render(&catalog, &p.service, &rc, SecretMode::Reveal)
            .map_err(|e| KindError::Permanent(e.to_string()))?;
        let client = cx.backends.kube.get().await?;
        let mut applied = Vec::new();
        for m in &manifests {
            let ns = &p.namespace;
            match m.kind.as_str() {
                "ConfigMap" => apply_one::<ConfigMap>(&client, ns, &m.name, &m.yaml).await?,
                "Secret" => apply_one::<Secret>(&client, ns, &m.name, &m.yaml).await?,
                "Service" => apply_one::<Service>(&client, ns, &m.name, &m.yaml).await?,
                "Deployment" => apply_one::<Deployment>(&client, ns, &m.name, &m.yaml).await?,
                "PodDisruptionBudget" => {
                    apply_one::<PodDisruptionBudget>(&client, ns, &m.name, &m.yaml).await?
                }
                "HorizontalPodAutoscaler" => {
                    apply_one::<HorizontalPodAutoscaler>(&client, ns, &m.name, &m.yaml).await?
                }
                "Ingress" => apply_one::<Ingress>(&client, ns, &m.name, &m.yaml).await?,
                other => {
                    return Err(KindError::Permanent(format!(
                        "rendered object of unknown kind {other}"
                    )));
                }
            }
            applied.push(format!("{}/{}", m.kind, m.name));
        }
        Ok(Outputs::new()
            .plain("deployment", p.service.clone())
            .plain("namespace", p.namespace.clone())
            .plain("objects", applied.join(",")))
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let name = out.require("deployment")?;
        let namespace = out.require("namespace")?;
        let api: Api<Deployment> = Api::namespaced(cx.backends.kube.get().await?, namespace);
        let d = api
            .get_opt(name)
            .await
            .map_err(|e| classify(&format!("get deployment {name}"), e))?;
        if d.as_ref().is_some_and(|d| rollout_pending(d).is_none()) {
            return Ok(Readiness::Ready);
        }
        let status = d.and_then(|d| d.status).unwrap_or_default();
        Ok(Readiness::Pending(format!(
            "rollout: {} updated, {} available of {}",
            status.updated_replicas.unwrap_or(0),
            status.available_replicas.unwrap_or(0),
            status.replicas.unwrap_or(0)
        )))
    }

    /// Deletes the service's objects, newest in the apply order first. (The
    /// namespace's deletion removes them too; this is for rollback of one
    /// service.)
    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let namespace = out.require("namespace")?;
        let client = cx.backends.kube.get().await?;
        let objects = out.require("objects")?;
        for entry in objects.split(',').filter(|s| !s.is_empty()).rev() {
            let (kind, name) = entry.split_once('/').unwrap_or((entry, ""));
            match kind {
                "ConfigMap" => delete_one::<ConfigMap>(&client, namespace, name).await?,
                "Secret" => delete_one::<Secret>(&client, namespace, name).await?,
                "Service" => delete_one::<Service>(&client, namespace, name).await?,
                "Deployment" => delete_one::<Deployment>(&client, namespace, name).await?,
                "PodDisruptionBudget" => {
                    delete_one::<PodDisruptionBudget>(&client, namespace, name).await?
                }
                "HorizontalPodAutoscaler" => {
                    delete_one::<HorizontalPodAutoscaler>(&client, namespace, name).await?
                }
                "Ingress" => delete_one::<Ingress>(&client, namespace, name).await?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// Why the Deployment's newest spec has not rolled out yet; `None` once it
/// has. `kubectl rollout status`'s rule (kubectl
/// pkg/polymorphichelpers/rollout_status.go, DeploymentStatusViewer): the
/// controller has observed the newest generation, every wanted replica is
/// updated, no old replica is left, and every updated one is available.
/// The `Progressing` condition alone (kube-runtime's
/// `is_deployment_completed`) is not enough: re-applying a spec whose
/// ReplicaSet exists already and cannot get its pods (a full quota) makes
/// no progress, so the controller leaves the previous
/// `NewReplicaSetAvailable` in place.
pub fn rollout_pending(d: &Deployment) -> Option<String> {
    let s = d.status.clone().unwrap_or_default();
    let generation = d.metadata.generation.unwrap_or(0);
    if s.observed_generation.unwrap_or(0) < generation {
        return Some(format!(
            "rollout: waiting for the controller to observe generation {generation}"
        ));
    }
    let want = d.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1);
    let (updated, total, available) = (
        s.updated_replicas.unwrap_or(0),
        s.replicas.unwrap_or(0),
        s.available_replicas.unwrap_or(0),
    );
    if updated < want {
        return Some(format!("rollout: {updated} of {want} new replicas updated"));
    }
    if total > updated {
        return Some(format!(
            "rollout: {} old replicas pending termination",
            total - updated
        ));
    }
    if available < updated {
        return Some(format!(
            "rollout: {available} of {updated} updated replicas available"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(
        generation: i64,
        observed: i64,
        want: i32,
        status: (i32, i32, i32),
    ) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": want, "selector": {}, "template": {}},
            "status": {
                "observedGeneration": observed,
                "updatedReplicas": status.0,
                "replicas": status.1,
                "availableReplicas": status.2,
                // What the controller leaves in place when a re-applied
                // spec makes no progress.
                "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_rollout_is_done_when_every_replica_is_new_and_available() {
        assert_eq!(rollout_pending(&deployment(2, 2, 2, (2, 2, 2))), None);
    }

    #[test]
    fn a_stale_completed_condition_does_not_make_a_stuck_rollout_ready() {
        // The new ReplicaSet cannot get its pod: the old one still serves.
        let why = rollout_pending(&deployment(3, 3, 1, (0, 1, 1))).unwrap();
        assert!(why.contains("0 of 1 new replicas updated"), "{why}");
        let why = rollout_pending(&deployment(4, 3, 1, (1, 1, 1))).unwrap();
        assert!(why.contains("observe generation 4"), "{why}");
        assert!(
            rollout_pending(&deployment(3, 3, 1, (1, 2, 2)))
                .unwrap()
                .contains("old replicas")
        );
        assert!(
            rollout_pending(&deployment(3, 3, 1, (1, 1, 0)))
                .unwrap()
                .contains("available")
        );
    }

    fn issues(extra: &str) -> Vec<(String, String)> {
        let yaml = format!("service: orders\nnamespace: t-acme\ndomain: apps.acme.io\n{extra}");
        let props: Props = serde_yaml_ng::from_str(&yaml).unwrap();
        ServiceKind
            .check(&props)
            .into_iter()
            .map(|i| (i.path.join("."), i.message))
            .collect()
    }

    fn paths(extra: &str) -> Vec<String> {
        issues(extra).into_iter().map(|(p, _)| p).collect()
    }

    #[test]
    fn good_and_referenced_values_pass() {
        assert!(issues("").is_empty());
        assert!(issues("rollout_timeout: 1h 30m\ncatalog: /srv/blueprints").is_empty());
        assert!(issues("rollout_timeout: ${t.value}").is_empty());
        let props: Props =
            serde_yaml_ng::from_str("service: orders\nnamespace: ${ns.name}\ndomain: ${zone.name}")
                .unwrap();
        assert!(ServiceKind.check(&props).is_empty());
    }

    #[test]
    fn a_wrongly_typed_literal_is_refused_naming_the_field() {
        let props: Props =
            serde_yaml_ng::from_str("service: 5\nnamespace: t-acme\ndomain: apps.acme.io").unwrap();
        let found: Vec<String> = ServiceKind
            .check(&props)
            .into_iter()
            .map(|i| i.path.join("."))
            .collect();
        assert_eq!(found, ["service"]);
        assert_eq!(paths("rollout_timeout: [5m]"), ["rollout_timeout"]);
        // An unknown top-level property is stack validation's to word.
        assert!(paths("rolout_timeout: 5m").is_empty());
    }

    #[test]
    fn a_bad_duration_or_namespace_is_refused_naming_the_field() {
        let found = issues("rollout_timeout: soon");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "rollout_timeout");
        assert!(found[0].1.contains("write e.g. 5m"), "{found:?}");
        let props: Props =
            serde_yaml_ng::from_str("service: orders\nnamespace: Team_Acme\ndomain: apps.acme.io")
                .unwrap();
        let found: Vec<String> = ServiceKind
            .check(&props)
            .into_iter()
            .map(|i| i.path.join("."))
            .collect();
        assert_eq!(found, ["namespace"]);
    }

    #[test]
    fn the_schema_documents_every_field() {
        let s = ServiceKind.schema().unwrap();
        assert!(s.description().starts_with("One microservice"));
        for f in s.fields() {
            assert!(!f.description.is_empty(), "{}", f.name);
        }
        let required: Vec<&str> = s
            .specs()
            .iter()
            .filter(|p| p.required)
            .map(|p| p.name)
            .collect();
        assert_eq!(required, ["domain", "namespace", "service"]);
        assert_eq!(
            s.field(&["catalog"]).unwrap().default.as_deref(),
            Some("blueprints")
        );
    }
}
