//! `k8s.namespace`: the tenant's namespace, labelled with the tenant and
//! `envctl/managed=true`, enforcing Pod Security Standards "restricted", and
//! annotated with its expiry, with a ResourceQuota,
//! a LimitRange, a default-deny NetworkPolicy plus the allowances the
//! services need, and an image-pull Secret when configured. Deleting it waits
//! until the namespace (and so everything in it) is gone.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, ListParams};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::{ANNOTATION_EXPIRES, LABEL_MANAGED, LABEL_TENANT, apply, classify, is_not_found};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};

/// The `k8s.namespace` kind.
pub struct NamespaceKind;

/// The kind's name in stacks.
const NAME: &str = "k8s.namespace";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<NamespaceProps>(NAME));

/// The tenant's Kubernetes namespace, with a quota, default limits, a
/// default-deny network policy and an optional image-pull Secret.
///
/// The namespace is labelled with the tenant and `envctl/managed=true`,
/// enforces Pod Security Standards "restricted" and carries its expiry as an
/// annotation. Inside it: a ResourceQuota `envctl-quota`, a LimitRange
/// `envctl-defaults` (100m/128Mi requested, 500m/512Mi limit per container),
/// NetworkPolicies that deny by default and let in the tenant's own pods and
/// the ingress controller, and a `kubernetes.io/dockerconfigjson` Secret
/// `envctl-image-pull` when `image_pull_secret` is set.
///
/// Rules: a namespace name is an RFC 1123 DNS label (Kubernetes "Object
/// Names and IDs": at most 63 characters of a-z, 0-9 and `-`, starting and
/// ending with a letter or digit); quota values are resource quantities
/// (apimachinery `resource.Quantity`); a label value (`ingress_namespace`
/// is matched as the `kubernetes.io/metadata.name` label) is at most 63
/// characters of letters, digits, `-`, `_` and `.`, starting and ending with
/// a letter or digit (apimachinery `validation.IsValidLabelValue`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NamespaceProps {
    /// The namespace's name, a DNS label, e.g. `team-acme`; default: `prefix`
    /// followed by the tenant name.
    #[serde(default)]
    #[schemars(length(min = 1, max = 63))]
    name: Option<String>,
    /// Put before the tenant name when `name` is absent, e.g. `team-` makes
    /// `team-acme`; default: none (the namespace is the tenant name).
    #[serde(default)]
    #[schemars(length(max = 62))]
    prefix: Option<String>,
    /// The namespace's ResourceQuota (requests and limits alike); default:
    /// cpu 64, memory 256Gi, pods 500.
    #[serde(default)]
    quota: Option<Quota>,
    /// The namespace of the ingress controller whose pods are let in, e.g.
    /// `traefik`; default: `ingress-nginx`.
    #[serde(default = "default_ingress_namespace")]
    #[schemars(length(max = 63))]
    ingress_namespace: String,
    /// A `.dockerconfigjson` document for pulling images, stored as the
    /// Secret `envctl-image-pull` (usually `${pull-secret.value}`); default:
    /// no pull Secret.
    #[serde(default)]
    image_pull_secret: Option<String>,
}

fn default_ingress_namespace() -> String {
    "ingress-nginx".into()
}

/// The namespace's ResourceQuota: the same amount for requests and limits.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Quota {
    /// CPU for all pods together, a Kubernetes quantity, e.g. `16` or
    /// `8500m`; default: `64`.
    #[serde(default = "default_cpu", deserialize_with = "quantity")]
    #[schemars(schema_with = "quantity_schema")]
    cpu: String,
    /// Memory for all pods together, a Kubernetes quantity, e.g. `64Gi`;
    /// default: `256Gi`.
    #[serde(default = "default_memory", deserialize_with = "quantity")]
    #[schemars(schema_with = "quantity_schema")]
    memory: String,
    /// How many pods may exist at once; default: 500.
    #[serde(default = "default_pods")]
    pods: u32,
}

/// A quantity given as text (`8500m`, `64Gi`) or as a YAML number (`4`,
/// `0.5`): manifests write `cpu: 4`, and the API server reads a number as
/// the quantity it spells (apimachinery `Quantity.UnmarshalJSON`).
fn quantity<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Number(serde_json::Number),
        Text(String),
    }
    Ok(match Given::deserialize(d)? {
        Given::Number(n) => n.to_string(),
        Given::Text(s) => s,
    })
}

fn quantity_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": ["string", "number"] })
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

/// Letters, digits and `-`, starting and ending with a letter or digit, at
/// most 63 characters: an RFC 1123 label as Kubernetes names namespaces
/// (apimachinery `validation.IsDNS1123Label`).
pub(super) fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A label value: empty, or at most 63 characters of letters, digits, `-`,
/// `_` and `.`, starting and ending with a letter or digit (apimachinery
/// `validation.IsValidLabelValue`).
fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// A Kubernetes resource quantity as apimachinery's `resource.ParseQuantity`
/// reads it (after trimming spaces, as its JSON decoding does):
/// `<sign>?<digits>[.<digits>]<suffix>`, the suffix a binary SI one (`Ki`
/// `Mi` `Gi` `Ti` `Pi` `Ei`), a decimal SI one (`n` `u` `m` `k` `M` `G` `T`
/// `P` `E` or none) or an exponent (`e3`, `E-2`). Like that parser, it lets
/// the digits be absent (read as 0), so nothing the API accepts is refused.
fn is_quantity(value: &str) -> bool {
    fn after_digits(s: &str) -> &str {
        s.trim_start_matches(|c: char| c.is_ascii_digit())
    }
    let s = value.trim();
    if s.is_empty() {
        return false;
    }
    let s = after_digits(s.strip_prefix(['+', '-']).unwrap_or(s));
    let s = s.strip_prefix('.').map_or(s, after_digits);
    match s {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T"
        | "P" | "E" => true,
        _ => s
            .strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
            .is_some_and(|e| !e.is_empty() && after_digits(e).is_empty()),
    }
}

impl KindProps for NamespaceProps {
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        if let Some(name) = self.name.as_deref().filter(|n| !is_ref(n))
            && !is_dns_label(name)
        {
            issues.push(PropIssue::new(
                &["name"],
                "is not a DNS label: use 1-63 characters of a-z, 0-9 and '-', \
                 starting and ending with a letter or digit (e.g. team-acme)",
            ));
        }
        // The tenant name (a DNS label itself) follows the prefix.
        if let Some(prefix) = self.prefix.as_deref().filter(|p| !is_ref(p))
            && !prefix.is_empty()
            && !is_dns_label(&format!("{prefix}a"))
        {
            issues.push(PropIssue::new(
                &["prefix"],
                "cannot start a DNS label: use a-z, 0-9 and '-', starting with a \
                 letter or digit (e.g. team-)",
            ));
        }
        if !is_ref(&self.ingress_namespace) && !is_label_value(&self.ingress_namespace) {
            issues.push(PropIssue::new(
                &["ingress_namespace"],
                "cannot match a namespace (it is matched as a label value): use the \
                 ingress controller's namespace name, 1-63 characters of a-z, 0-9 \
                 and '-' (e.g. ingress-nginx)",
            ));
        }
        if let Some(quota) = &self.quota {
            for (field, value, example) in [
                ("cpu", &quota.cpu, "16 or 8500m"),
                ("memory", &quota.memory, "64Gi or 512Mi"),
            ] {
                if !is_ref(value) && !is_quantity(value) {
                    issues.push(PropIssue::new(
                        &["quota", field],
                        format!("is not a Kubernetes quantity: write e.g. {example}"),
                    ));
                }
            }
        }
        issues
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
    if !is_dns_label(&name) {
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
        NAME
    }
    fn api(&self) -> &'static str {
        "k8s"
    }
    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
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

    /// Deletes the namespace (foreground: its objects first); [`Kind::gone`]
    /// then waits until it has finished terminating, so that a destroy that
    /// returns has really removed everything in it.
    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let name = out.require("name")?;
        let namespaces: Api<Namespace> = Api::all(cx.backends.kube.get().await?);
        match namespaces.delete(name, &DeleteParams::foreground()).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(classify(&format!("delete namespace {name}"), e)),
        }
    }

    async fn gone(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let name = out.require("name")?;
        let namespaces: Api<Namespace> = Api::all(cx.backends.kube.get().await?);
        match namespaces.get_opt(name).await {
            Ok(None) => Ok(Readiness::Ready),
            Ok(Some(ns)) => Ok(Readiness::Pending(format!(
                "namespace {name} is {}",
                ns.status
                    .and_then(|s| s.phase)
                    .unwrap_or_else(|| "terminating".into())
                    .to_lowercase()
            ))),
            Err(e) => Err(classify(&format!("get namespace {name}"), e)),
        }
    }

    /// A namespace terminates once the objects in it are gone (the
    /// namespace controller's finalizer); five minutes is generous for
    /// Deployments and Services.
    fn delete_timeout(&self) -> Duration {
        Duration::from_secs(5 * 60)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(yaml: &str) -> Vec<(String, String)> {
        let props: Props = serde_yaml_ng::from_str(yaml).unwrap();
        NamespaceKind
            .check(&props)
            .into_iter()
            .map(|i| (i.path.join("."), i.message))
            .collect()
    }

    fn paths(yaml: &str) -> Vec<String> {
        issues(yaml).into_iter().map(|(p, _)| p).collect()
    }

    #[test]
    fn good_and_referenced_values_pass() {
        assert!(issues("{}").is_empty());
        assert!(
            issues(
                "name: team-acme\nquota: {cpu: 8500m, memory: 64Gi, pods: 20}\n\
                 ingress_namespace: traefik\nimage_pull_secret: ${pull.value}"
            )
            .is_empty()
        );
        assert!(issues("prefix: team-\nquota: {cpu: '${q.cpu}'}").is_empty());
        assert!(issues("name: ${ns.name}").is_empty());
        // Numbers are quantities, as in any manifest.
        assert!(issues("quota: {cpu: 4, memory: 1e9}").is_empty());
    }

    #[test]
    fn a_wrongly_typed_literal_is_refused_naming_the_field() {
        assert_eq!(paths("quota: {pods: many}"), ["quota.pods"]);
        assert_eq!(paths("quota: {cpu: [4]}"), ["quota.cpu"]);
        assert_eq!(paths("quota: {memory: true}"), ["quota.memory"]);
        assert_eq!(paths("name: [a]"), ["name"]);
        // An unknown field of the optional quota is refused under `quota`.
        let unknown = paths("quota: {cpus: 4}");
        assert!(
            unknown.len() == 1 && unknown[0].starts_with("quota"),
            "{unknown:?}"
        );
    }

    #[test]
    fn bad_names_and_quantities_are_refused_naming_the_field() {
        let long = "a".repeat(64);
        assert_eq!(paths(&format!("name: {long}")), ["name"]);
        let found = issues("name: Team_Acme");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "name");
        assert!(found[0].1.contains("DNS label"), "{found:?}");
        assert!(!found[0].1.contains("Team_Acme"), "{found:?}");
        assert_eq!(paths("name: -acme"), ["name"]);
        assert_eq!(paths("prefix: -team"), ["prefix"]);
        assert_eq!(paths("prefix: Team"), ["prefix"]);
        assert_eq!(paths("ingress_namespace: -nginx"), ["ingress_namespace"]);
        assert_eq!(
            paths("quota: {cpu: lots, memory: 2 GB}"),
            ["quota.cpu", "quota.memory"]
        );
        assert_eq!(paths("quota: {pods: -1}"), ["quota.pods"]);
    }

    #[test]
    fn quantities_follow_apimachinery() {
        for ok in [
            "64", "500m", "256Gi", "1.5", ".5", "2.", "1e3", "1E-2", "+1k", " 4 ", "100M", "5n",
        ] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in [
            "", "lots", "1.5.2", "2 GB", "1e", "1e1.5", "1KiB", "1g", "1Gb",
        ] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn the_schema_documents_every_field() {
        let s = NamespaceKind.schema().unwrap();
        assert!(
            s.description()
                .starts_with("The tenant's Kubernetes namespace")
        );
        for f in s.fields() {
            assert!(!f.description.is_empty(), "{}", f.name);
        }
        assert_eq!(
            s.field(&["ingress_namespace"]).unwrap().default.as_deref(),
            Some("ingress-nginx")
        );
        assert_eq!(
            s.field(&["quota", "pods"]).unwrap().default.as_deref(),
            Some("500")
        );
    }
}
