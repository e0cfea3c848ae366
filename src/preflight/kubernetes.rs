//! Preflight `kubernetes` (stacks with `k8s.*` kinds): the cluster of the
//! kubeconfig answers, and its authorizer lets this identity do every verb
//! the stack's Kubernetes kinds use, asked with one SelfSubjectAccessReview
//! per (group, resource, verb, namespace). Without it a create would start
//! the AWS part and fail at the namespace.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use super::{Check, Finding, PreflightCx};
use crate::error_text::innermost_cause as innermost;
use crate::stack::{Resource, Stack, refs};
use crate::tenant::TenantName;

pub struct Kubernetes;

pub const NAME: &str = "kubernetes";

/// How long reaching the API server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One permission envctl needs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    pub group: &'static str,
    pub resource: &'static str,
    pub verb: &'static str,
    /// `None` for cluster-scoped resources (namespaces).
    pub namespace: Option<String>,
}

impl Access {
    /// `create deployments.apps in acme`, as kubectl's `auth can-i` spells it.
    fn describe(&self) -> String {
        let what = if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        };
        match &self.namespace {
            Some(ns) => format!("{} {what} in namespace {ns}", self.verb),
            None => format!("{} {what}", self.verb),
        }
    }
}

/// Server-side apply is a PATCH, and a PATCH that creates the object is
/// also authorized as `create` (kube-apiserver,
/// staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go,
/// `createAuthorizerAttributes` with Verb "create"): every applied kind
/// needs both.
const APPLY: &[&str] = &["create", "patch"];

/// What one resource of the stack does in the cluster, read from the kinds:
/// - `k8s.namespace` (kinds/k8s/namespace.rs): gets, applies and deletes
///   its namespace (and lists namespaces by label in a sweep); applies a
///   ResourceQuota, a LimitRange and NetworkPolicies in it, and a Secret
///   when `image_pull_secret` is set.
/// - `k8s.service` (kinds/k8s/service.rs, blueprints/templates): applies a
///   ConfigMap, Secret, Service, Deployment, PodDisruptionBudget,
///   HorizontalPodAutoscaler and Ingress, deletes them on rollback, and gets
///   the Deployment to follow its rollout.
pub fn needed(stack: &Stack, tenant: &TenantName) -> BTreeSet<Access> {
    let mut out = BTreeSet::new();
    let mut add = |group, resource, verbs: &[&'static str], ns: Option<&str>| {
        for verb in verbs {
            out.insert(Access {
                group,
                resource,
                verb,
                namespace: ns.map(str::to_string),
            });
        }
    };
    for r in &stack.resources {
        match r.kind.as_str() {
            "k8s.namespace" => {
                let ns = namespace_name(r, tenant);
                add(
                    "",
                    "namespaces",
                    &["get", "list", "create", "patch", "delete"],
                    None,
                );
                add("", "resourcequotas", APPLY, Some(&ns));
                add("", "limitranges", APPLY, Some(&ns));
                add("networking.k8s.io", "networkpolicies", APPLY, Some(&ns));
                if r.properties
                    .get("image_pull_secret")
                    .is_some_and(|v| !v.is_null())
                {
                    add("", "secrets", APPLY, Some(&ns));
                }
            }
            "k8s.service" => {
                let ns = service_namespace(stack, r, tenant);
                let write = &["create", "patch", "delete"];
                for resource in ["configmaps", "secrets", "services"] {
                    add("", resource, write, Some(&ns));
                }
                add(
                    "apps",
                    "deployments",
                    &["get", "create", "patch", "delete"],
                    Some(&ns),
                );
                add("policy", "poddisruptionbudgets", write, Some(&ns));
                add("autoscaling", "horizontalpodautoscalers", write, Some(&ns));
                add("networking.k8s.io", "ingresses", write, Some(&ns));
            }
            _ => {}
        }
    }
    out
}

/// The namespace a `k8s.namespace` resource makes: `name`, else `prefix` +
/// tenant (as the kind computes it).
fn namespace_name(r: &Resource, tenant: &TenantName) -> String {
    let prop = |k: &str| r.properties.get(k).and_then(|v| v.as_str());
    match prop("name") {
        Some(n) => n.to_string(),
        None => format!("{}{tenant}", prop("prefix").unwrap_or("")),
    }
}

/// The namespace of a `k8s.service`: a literal, or `${ns.name}` of a
/// `k8s.namespace` of the stack; the tenant's name when it cannot be told.
fn service_namespace(stack: &Stack, r: &Resource, tenant: &TenantName) -> String {
    let Some(value) = r.properties.get("namespace") else {
        return tenant.to_string();
    };
    match refs::references(value).ok().as_deref() {
        Some([]) => value.as_str().unwrap_or(tenant.as_str()).to_string(),
        Some([one]) => stack
            .resource(&one.resource)
            .filter(|ns| ns.kind == "k8s.namespace" && one.output == "name")
            .map(|ns| namespace_name(ns, tenant))
            .unwrap_or_else(|| tenant.to_string()),
        _ => tenant.to_string(),
    }
}

/// The verdict from the access reviews' answers (`Err` when a review could
/// not be asked at all).
pub fn decide(cluster: &str, answers: &[(Access, Result<bool, String>)]) -> Finding {
    let denied: Vec<String> = answers
        .iter()
        .filter(|(_, a)| matches!(a, Ok(false)))
        .map(|(access, _)| access.describe())
        .collect();
    let unasked: Vec<String> = answers
        .iter()
        .filter_map(|(access, a)| {
            a.as_ref()
                .err()
                .map(|e| format!("{} ({e})", access.describe()))
        })
        .collect();
    if let Some(first) = unasked.first() {
        return Finding::fail(
            NAME,
            format!(
                "the cluster at {cluster} did not answer the access review for {first}{}",
                if unasked.len() > 1 {
                    format!(" and {} more", unasked.len() - 1)
                } else {
                    String::new()
                }
            ),
            "check that the cluster is healthy and that the kubeconfig's user may create selfsubjectaccessreviews (every authenticated user may, by default)",
        );
    }
    if !denied.is_empty() {
        return Finding::fail(
            NAME,
            format!(
                "the kubeconfig's user may not {} on the cluster at {cluster}",
                denied.join(", ")
            ),
            "grant these verbs to that user or service account (deploy/10-rbac.yaml holds the ClusterRole envctl needs), or use a kubeconfig context that has them",
        );
    }
    Finding::pass(
        NAME,
        format!(
            "the cluster at {cluster} answers and allows all {} verbs the stack uses",
            answers.len()
        ),
    )
}

/// The finding when the cluster cannot be reached or not even configured.
pub fn unreachable(cluster: Option<&str>, why: &str) -> Finding {
    match cluster {
        None => Finding::fail(
            NAME,
            format!("the stack has Kubernetes resources but no cluster is configured ({why})"),
            "set KUBECONFIG to the cluster's kubeconfig (for the local cluster: `make local-up`, then `source .local/env`)",
        ),
        Some(url) => Finding::fail(
            NAME,
            format!("the Kubernetes API at {url} is unreachable ({why})"),
            "check KUBECONFIG and its current context (`kubectl config current-context`), and that the cluster is up",
        ),
    }
}

#[async_trait]
impl Check for Kubernetes {
    fn name(&self) -> &'static str {
        NAME
    }
    fn applies(&self, stack: &Stack) -> bool {
        stack.resources.iter().any(|r| r.kind.starts_with("k8s."))
    }

    async fn run(&self, cx: &PreflightCx) -> Vec<Finding> {
        // The same inference as the kinds' client (kinds/k8s/mod.rs:
        // `Client::try_default`): KUBECONFIG / ~/.kube/config, else in-cluster.
        let mut config = match kube::Config::infer().await {
            Ok(c) => c,
            Err(e) => return vec![unreachable(None, &e.to_string())],
        };
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.read_timeout = Some(CONNECT_TIMEOUT);
        let url = config.cluster_url.to_string();
        let url = url.trim_end_matches('/').to_string();
        let client = match kube::Client::try_from(config) {
            Ok(c) => c,
            Err(e) => return vec![unreachable(Some(&url), &innermost(&e))],
        };
        // GET /version: answered to anyone who can connect.
        if let Err(e) = client.apiserver_version().await {
            let why = match &e {
                kube::Error::Api(s) if s.code == 401 => {
                    return vec![Finding::fail(
                        NAME,
                        format!(
                            "the Kubernetes API at {url} rejected the kubeconfig's credentials (401 {})",
                            s.message
                        ),
                        "refresh the credentials of the current context (a new token or client certificate) and retry",
                    )];
                }
                other => innermost(other),
            };
            return vec![unreachable(Some(&url), &why)];
        }
        let reviews: Api<SelfSubjectAccessReview> = Api::all(client);
        let needed: Vec<Access> = needed(&cx.stack, &cx.tenant).into_iter().collect();
        let answers: Vec<(Access, Result<bool, String>)> = stream::iter(needed)
            .map(|access| {
                let reviews = reviews.clone();
                async move {
                    let answer = review(&reviews, &access).await;
                    (access, answer)
                }
            })
            .buffered(8)
            .collect()
            .await;
        vec![decide(&url, &answers)]
    }
}

/// POST a SelfSubjectAccessReview: "checks whether the current user can
/// perform an action" (Kubernetes API reference, authorization.k8s.io/v1),
/// the same question as `kubectl auth can-i`.
async fn review(reviews: &Api<SelfSubjectAccessReview>, access: &Access) -> Result<bool, String> {
    let ssar = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(access.group.to_string()),
                resource: Some(access.resource.to_string()),
                verb: Some(access.verb.to_string()),
                namespace: access.namespace.clone(),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    reviews
        .create(&PostParams::default(), &ssar)
        .await
        .map(|r| r.status.is_some_and(|s| s.allowed))
        .map_err(|e| innermost(&e))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Status;
    use super::*;

    fn tenant() -> TenantName {
        TenantName::parse("acme").unwrap()
    }

    fn has(
        set: &BTreeSet<Access>,
        group: &str,
        resource: &str,
        verb: &str,
        ns: Option<&str>,
    ) -> bool {
        set.iter().any(|a| {
            a.group == group
                && a.resource == resource
                && a.verb == verb
                && a.namespace.as_deref() == ns
        })
    }

    #[test]
    fn the_catalog_needs_apply_and_delete_in_the_tenants_namespace() {
        // The Kubernetes part of stacks/tenant.yaml: a namespace and the
        // catalog's services in it.
        let s = crate::stack::load_str(
            Path::new("t.yaml"),
            "stack: t\nresources:\n  - id: namespace\n    kind: k8s.namespace\n  - id: svc\n    kind: k8s.catalog\n    properties: { catalog: blueprints, namespace: \"${namespace.name}\", domain: apps.acme-corp.io }\n",
        )
        .unwrap();
        assert!(
            s.resources
                .iter()
                .filter(|r| r.kind == "k8s.service")
                .count()
                > 40
        );
        let n = needed(&s, &tenant());
        for verb in ["get", "list", "create", "patch", "delete"] {
            assert!(has(&n, "", "namespaces", verb, None), "{verb} namespaces");
        }
        // Server-side apply needs create and patch.
        assert!(has(&n, "apps", "deployments", "create", Some("acme")));
        assert!(has(&n, "apps", "deployments", "patch", Some("acme")));
        assert!(has(&n, "apps", "deployments", "get", Some("acme")));
        assert!(has(
            &n,
            "autoscaling",
            "horizontalpodautoscalers",
            "delete",
            Some("acme")
        ));
        assert!(has(
            &n,
            "networking.k8s.io",
            "ingresses",
            "patch",
            Some("acme")
        ));
        assert!(has(
            &n,
            "networking.k8s.io",
            "networkpolicies",
            "create",
            Some("acme")
        ));
        assert!(has(&n, "", "secrets", "patch", Some("acme")));
        assert!(has(
            &n,
            "policy",
            "poddisruptionbudgets",
            "create",
            Some("acme")
        ));
        // Nothing envctl does not do: no serviceaccounts, no pods.
        assert!(
            !n.iter()
                .any(|a| a.resource == "serviceaccounts" || a.resource == "pods")
        );
        // The catalog's fifty services share one set of verbs.
        assert!(n.len() < 40, "{}", n.len());
    }

    #[test]
    fn a_prefixed_or_named_namespace_is_the_one_checked() {
        let s = crate::stack::load_str(
            Path::new("t.yaml"),
            "stack: t\nresources:\n  - id: ns\n    kind: k8s.namespace\n    properties: { prefix: team- }\n",
        )
        .unwrap();
        let n = needed(&s, &tenant());
        assert!(has(&n, "", "limitranges", "patch", Some("team-acme")));
        assert!(
            !n.iter().any(|a| a.resource == "secrets"),
            "no pull secret, no secrets"
        );
        let named = crate::stack::load_str(
            Path::new("t.yaml"),
            "stack: t\nresources:\n  - id: ns\n    kind: k8s.namespace\n    properties: { name: shared, image_pull_secret: x }\n",
        )
        .unwrap();
        assert!(has(
            &needed(&named, &tenant()),
            "",
            "secrets",
            "create",
            Some("shared")
        ));
    }

    fn access(verb: &'static str, resource: &'static str) -> Access {
        Access {
            group: "",
            resource,
            verb,
            namespace: Some("acme".into()),
        }
    }

    #[test]
    fn denied_verbs_are_listed_with_where_to_grant_them() {
        let answers = vec![
            (access("create", "configmaps"), Ok(true)),
            (access("delete", "services"), Ok(false)),
            (access("patch", "secrets"), Ok(false)),
        ];
        let f = decide("https://k8s:6443", &answers);
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.detail,
            "the kubeconfig's user may not delete services in namespace acme, patch secrets in namespace acme on the cluster at https://k8s:6443"
        );
        assert!(f.sentence().contains("deploy/10-rbac.yaml"));
        let ok = decide("https://k8s:6443", &answers[..1]);
        assert_eq!(ok.status, Status::Pass);
        let broken = decide(
            "https://k8s:6443",
            &[(access("get", "pods"), Err("connection reset".into()))],
        );
        assert_eq!(broken.status, Status::Fail);
    }

    #[test]
    fn an_unreachable_or_unconfigured_cluster_says_what_to_set() {
        let f = unreachable(
            Some("https://127.0.0.1:1"),
            "Connection refused (os error 111)",
        );
        assert_eq!(
            f.sentence(),
            "the Kubernetes API at https://127.0.0.1:1 is unreachable (Connection refused (os error 111)): check KUBECONFIG and its current context (`kubectl config current-context`), and that the cluster is up"
        );
        assert!(
            unreachable(None, "no kubeconfig")
                .sentence()
                .contains("set KUBECONFIG")
        );
    }
}
