//! `k8s.namespace`: the tenant's namespace, labelled with the tenant and
//! `envctl/managed=true`, enforcing Pod Security Standards "restricted", and
//! annotated with its expiry, with a ResourceQuota,
//! a LimitRange, a default-deny NetworkPolicy plus the allowances the
//! services need, and an image-pull Secret when configured. Deleting it waits
//! until the namespace (and so everything in it) is gone.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, ListParams};
use serde::Deserialize;
use serde_json::json;

use super::{ANNOTATION_EXPIRES, LABEL_MANAGED, LABEL_TENANT, apply, classify, is_not_found};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropSpec, Props, Readiness, SweepCx,
    parse_props,
};

/// The `k8s.namespace` kind.
pub struct NamespaceKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamespaceProps {
    /// Namespace name; default: the tenant name, after `prefix`.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    quota: Option<Quota>,
    /// Namespace of the ingress controller allowed in (default ingress-nginx).
    #[serde(default = "default_ingress_namespace")]
    ingress_namespace: String,
    /// A `.dockerconfigjson` for pulling images (usually `${pull-secret.value}`).
    #[serde(default)]
    image_pull_secret: Option<String>,
}

fn default_ingress_namespace() -> String {
    "ingress-nginx".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Quota {
    #[serde(default = "default_cpu")]
    cpu: String,
    #[serde(default = "default_memory")]
    memory: String,
    #[serde(default = "default_pods")]
    pods: u32,
}

fn default_cpu() -> String {
    "64".into()
}
fn default_memory() -> String {
    "256Gi".into()
}
fn default_pods() -> u32 {
    500
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            cpu: default_cpu(),
            memory: default_memory(),
            pods: default_pods(),
        }
    }
}

const PULL_SECRET: &str = "envctl-image-pull";

fn labels(cx: &Cx) -> BTreeMap<String, String> {
    [
        (LABEL_TENANT.to_string(), cx.tenant.to_string()),
        (LABEL_MANAGED.to_string(), "true".to_string()),
        ("envctl/stack".to_string(), cx.stack.clone()),
        ("envctl/resource".to_string(), cx.resource_id.clone()),
    ]
    .into()
}

/// The Pod Security admission labels of a tenant namespace: "restricted"
/// enforced at a pinned policy version, so that a cluster upgrade cannot
/// start refusing pods that ran before; warned and audited at `latest`, so
/// that a newer version's rules show up as warnings (on apply) and audit
/// annotations before they are enforced.
/// <https://kubernetes.io/docs/concepts/security/pod-security-admission/>
pub const POD_SECURITY_LABELS: [(&str, &str); 6] = [
    ("pod-security.kubernetes.io/enforce", "restricted"),
    ("pod-security.kubernetes.io/enforce-version", "v1.34"),
    ("pod-security.kubernetes.io/warn", "restricted"),
    ("pod-security.kubernetes.io/warn-version", "latest"),
    ("pod-security.kubernetes.io/audit", "restricted"),
    ("pod-security.kubernetes.io/audit-version", "latest"),
];

/// The namespace's own labels: the tenant's, and Pod Security's.
fn namespace_labels(cx: &Cx) -> BTreeMap<String, String> {
    let mut l = labels(cx);
    l.extend(
        POD_SECURITY_LABELS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    l
}

fn namespace_name(cx: &Cx, p: &NamespaceProps) -> Result<String, KindError> {
    let name = match &p.name {
        Some(n) => n.clone(),
        None => format!("{}{}", p.prefix.as_deref().unwrap_or(""), cx.tenant),
    };
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid {
        return Err(KindError::Permanent(format!(
            "namespace name '{name}' is not a DNS label: use 1-63 characters of a-z, 0-9 and '-' (property name or prefix)"
        )));
    }
    Ok(name)
}

fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("static manifest matches its type")
}

#[async_trait]
impl Kind for NamespaceKind {
    fn name(&self) -> &'static str {
        "k8s.namespace"
    }
    fn api(&self) -> &'static str {
        "k8s"
    }
    fn props(&self) -> &'static [PropSpec] {
        &[
            PropSpec {
                name: "name",
                required: false,
                doc: "namespace name (default: prefix + tenant)",
            },
            PropSpec {
                name: "prefix",
                required: false,
                doc: "prefix before the tenant name",
            },
            PropSpec {
                name: "quota",
                required: false,
                doc: "{cpu, memory, pods} of the ResourceQuota",
            },
            PropSpec {
                name: "ingress_namespace",
                required: false,
                doc: "namespace of the ingress controller let in (default ingress-nginx)",
            },
            PropSpec {
                name: "image_pull_secret",
                required: false,
                doc: "a .dockerconfigjson for pulling images",
            },
        ]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[OutputSpec {
            name: "name",
            secret: false,
            doc: "the namespace",
        }]
    }
    /// Namespace creation is a single API write (well under a second); the
    /// quota, limits and policies a few more.
    fn expected(&self) -> Duration {
        Duration::from_secs(2)
    }
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(120)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: NamespaceProps = parse_props(props)?;
        let name = namespace_name(cx, &p)?;
        let client = cx.backends.kube.get().await?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        if let Some(existing) = namespaces
            .get_opt(&name)
            .await
            .map_err(|e| classify(&format!("get namespace {name}"), e))?
        {
            let owner = existing
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_TENANT));
            if owner.is_some_and(|o| o != cx.tenant.as_str()) || owner.is_none() {
                return Err(KindError::Permanent(format!(
                    "namespace {name} exists and is not managed by envctl for tenant {}; choose another name or prefix",
                    cx.tenant
                )));
            }
        }
        let mut annotations = BTreeMap::new();
        if let Some(at) = cx.expires_at {
            annotations.insert(ANNOTATION_EXPIRES.to_string(), at.to_string());
        }
        let ns: Namespace = from_json(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": { "name": name, "labels": namespace_labels(cx), "annotations": annotations },
        }));
        apply(&namespaces, &name, &ns).await?;

        let quota = p.quota.unwrap_or_default();
        let rq: ResourceQuota = from_json(json!({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": { "name": "envctl-quota", "namespace": name, "labels": labels(cx) },
            "spec": { "hard": {
                "requests.cpu": quota.cpu, "requests.memory": quota.memory,
                "limits.cpu": quota.cpu, "limits.memory": quota.memory,
                "pods": quota.pods.to_string(),
            }},
        }));
        apply(&Api::namespaced(client.clone(), &name), "envctl-quota", &rq).await?;
        let lr: LimitRange = from_json(json!({
            "apiVersion": "v1", "kind": "LimitRange",
            "metadata": { "name": "envctl-defaults", "namespace": name, "labels": labels(cx) },
            "spec": { "limits": [{
                "type": "Container",
                "defaultRequest": { "cpu": "100m", "memory": "128Mi" },
                "default": { "cpu": "500m", "memory": "512Mi" },
            }]},
        }));
        apply(
            &Api::namespaced(client.clone(), &name),
            "envctl-defaults",
            &lr,
        )
        .await?;

        let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &name);
        for (policy_name, spec) in network_policies(&p.ingress_namespace) {
            let np: NetworkPolicy = from_json(json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": { "name": policy_name, "namespace": name, "labels": labels(cx) },
                "spec": spec,
            }));
            apply(&policies, policy_name, &np).await?;
        }

        let secrets: Api<Secret> = Api::namespaced(client, &name);
        if let Some(config) = &p.image_pull_secret {
            let s: Secret = from_json(json!({
                "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                "metadata": { "name": PULL_SECRET, "namespace": name, "labels": labels(cx) },
                "stringData": { ".dockerconfigjson": config },
            }));
            apply(&secrets, PULL_SECRET, &s).await?;
        }
        Ok(Outputs::new().plain("name", name))
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let name = out.require("name")?;
        let namespaces: Api<Namespace> = Api::all(cx.backends.kube.get().await?);
        let ns = namespaces
            .get_opt(name)
            .await
            .map_err(|e| classify(&format!("get namespace {name}"), e))?;
        let phase = ns
            .and_then(|n| n.status)
            .and_then(|s| s.phase)
            .unwrap_or_default();
        Ok(if phase == "Active" {
            Readiness::Ready
        } else {
            Readiness::Pending(format!(
                "namespace {name} is {}",
                if phase.is_empty() {
                    "not there yet"
                } else {
                    &phase
                }
            ))
        })
    }

    /// Deletes the namespace and waits until it is gone, so that a destroy
    /// that returns has really removed everything in it.
    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let name = out.require("name")?;
        let namespaces: Api<Namespace> = Api::all(cx.backends.kube.get().await?);
        match namespaces.delete(name, &DeleteParams::foreground()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(classify(&format!("delete namespace {name}"), e)),
        }
        let mut pause = Duration::from_millis(200);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            match namespaces.get_opt(name).await {
                Ok(None) => return Ok(()),
                Ok(Some(_)) if tokio::time::Instant::now() > deadline => {
                    return Err(KindError::Transient(format!(
                        "namespace {name} is still terminating after 5 minutes"
                    )));
                }
                Ok(Some(_)) => {}
                Err(e) => return Err(classify(&format!("get namespace {name}"), e)),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let namespaces: Api<Namespace> = Api::all(cx.backends.kube.get().await?);
        let selector = format!("{LABEL_TENANT}={},{LABEL_MANAGED}=true", cx.tenant);
        let list = namespaces
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| classify("list namespaces", e))?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|n| {
                let name = n.metadata.name?;
                let id = n
                    .metadata
                    .labels
                    .and_then(|l| l.get("envctl/resource").cloned())
                    .unwrap_or_else(|| "namespace".into());
                Some(Found {
                    resource_id: id,
                    outputs: Outputs::new().plain("name", name),
                })
            })
            .collect())
    }
}

/// Default deny in both directions, then: traffic between the tenant's own
/// pods, from the ingress controller, DNS, and egress to anywhere but the
/// cloud metadata address.
fn network_policies(ingress_namespace: &str) -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "default-deny",
            json!({ "podSelector": {}, "policyTypes": ["Ingress", "Egress"] }),
        ),
        (
            "allow-same-namespace",
            json!({ "podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{ "from": [{ "podSelector": {} }] }] }),
        ),
        (
            "allow-ingress-controller",
            json!({ "podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{ "from": [{
                "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": ingress_namespace } }
            }] }] }),
        ),
        (
            "allow-egress",
            json!({ "podSelector": {}, "policyTypes": ["Egress"], "egress": [
                { "to": [{ "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "kube-system" } } }],
                  "ports": [{ "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 }] },
                { "to": [{ "podSelector": {} }] },
                { "to": [{ "ipBlock": { "cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"] } }] }
            ]}),
        ),
    ]
}
