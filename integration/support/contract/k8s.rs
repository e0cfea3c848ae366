//! Contract cases of the Kubernetes kinds, against the test cluster named by
//! ENVCTL_TEST_KUBECONFIG: `k8s.namespace` and `k8s.service` (one catalog
//! service in its tenant's namespace, made by the namespace kind first, with
//! the values the service consumes in the tenant's value store).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use envctl::envapi::{EnvKey, Level};
use envctl::kinds::{Cx, Outputs, Props, kind_by_name};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::json;

use super::{Case, Footprint, Marks, Sweep, out, props};
use crate::support::kinds::{ENVIRONMENT, KindWorld};
use crate::support::repo_root;

pub static CASES: [&dyn Case; 2] = [&NamespaceCase, &ServiceCase];

/// The catalog service deployed: no ingress, no autoscaler, and only values
/// [`put_values`] gives it.
const SERVICE: &str = "onboarding";

fn test_kubeconfig() -> String {
    std::env::var("ENVCTL_TEST_KUBECONFIG").expect(
        "ENVCTL_TEST_KUBECONFIG is not set: run `make test`, or start a cluster with \
         `integration/k8s/cluster.sh up` and set it to `integration/k8s/cluster.sh kubeconfig`",
    )
}

static KINDS_POINTED: std::sync::Once = std::sync::Once::new();

/// The kinds build their client from KUBECONFIG on first use: point it at
/// the test cluster before any of them runs.
fn point_kinds_at_test_cluster() {
    let path = test_kubeconfig();
    KINDS_POINTED.call_once(|| {
        // SAFETY: set once, before any Kubernetes kind reads it; nothing else
        // in this test binary reads KUBECONFIG, and Rust's own environment
        // accesses are serialized by std.
        unsafe { std::env::set_var("KUBECONFIG", path) };
    });
}

/// A client of our own for the checks (never the kinds'), made anew for
/// each use: every test has its own tokio runtime, and a client kept from
/// one test dies with its runtime (`Service(Closed)` in the next).
async fn raw() -> kube::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(test_kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kubeconfig");
    kube::Client::try_from(config).expect("Kubernetes client")
}

/// Deletes namespace `name` if it exists and waits until it is gone.
async fn remove_namespace(name: &str) {
    let api: Api<Namespace> = Api::all(raw().await);
    match api.delete(name, &DeleteParams::foreground()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return,
        Err(e) => panic!("delete namespace {name}: {e}"),
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while api.get_opt(name).await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "namespace {name} still there after 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Namespaces labelled with the tenant.
async fn tenant_namespaces(w: &KindWorld) -> Vec<Namespace> {
    let api: Api<Namespace> = Api::all(raw().await);
    let selector = format!("envctl/tenant={}", w.tenant);
    api.list(&ListParams::default().labels(&selector))
        .await
        .unwrap()
        .items
}

// ----------------------------------------------------------- namespace ----

struct NamespaceCase;

#[async_trait]
impl Case for NamespaceCase {
    fn kind_name(&self) -> &'static str {
        "k8s.namespace"
    }
    fn code(&self) -> &'static str {
        "ns"
    }
    fn identity(&self) -> &'static str {
        "name"
    }
    async fn reset(&self, w: &KindWorld) {
        point_kinds_at_test_cluster();
        remove_namespace(w.tenant.as_str()).await;
    }
    async fn prepare(&self, _w: &KindWorld, _cx: &mut Cx) -> Props {
        props(json!({}))
    }
    async fn count(&self, w: &KindWorld, _out: &Outputs) -> usize {
        tenant_namespaces(w).await.len()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let name = out(o, "name");
        let ns = tenant_namespaces(w)
            .await
            .into_iter()
            .find(|n| n.metadata.name.as_deref() == Some(name.as_str()))?;
        Some(Marks::Labels(ns.metadata.labels.unwrap_or_default()))
    }
}

// ------------------------------------------------------------- service ----

struct ServiceCase;

/// The values the service consumes, at the tenant's level (as the tenant
/// stack publishes them).
async fn put_values(w: &KindWorld) {
    for (key, value) in [
        ("LOG_LEVEL", "info"),
        ("PUBLIC_URL", "https://app.contract.example.test"),
        ("API_URL", "https://api.contract.example.test"),
    ] {
        let k = EnvKey::new(ENVIRONMENT, Some(w.tenant.as_str()), Level::Tenant, key).unwrap();
        w.backends.values.put(&k, value, false).await.unwrap();
    }
}

async fn deployments(w: &KindWorld, namespace: &str) -> Vec<Deployment> {
    let api: Api<Deployment> = Api::namespaced(raw().await, namespace);
    let selector = format!(
        "app.kubernetes.io/name={SERVICE},envctl/tenant={}",
        w.tenant
    );
    api.list(&ListParams::default().labels(&selector))
        .await
        .unwrap()
        .items
}

#[async_trait]
impl Case for ServiceCase {
    fn kind_name(&self) -> &'static str {
        "k8s.service"
    }
    fn code(&self) -> &'static str {
        "svc"
    }
    fn identity(&self) -> &'static str {
        "deployment"
    }
    fn footprint(&self) -> Footprint {
        Footprint::Resource
    }
    fn sweep(&self) -> Sweep {
        Sweep::Never(
            "the namespace's deletion removes a service's objects; k8s.service has no sweep",
        )
    }
    async fn reset(&self, w: &KindWorld) {
        point_kinds_at_test_cluster();
        remove_namespace(w.tenant.as_str()).await;
    }
    async fn prepare(&self, w: &KindWorld, _cx: &mut Cx) -> Props {
        let namespace = kind_by_name("k8s.namespace").unwrap();
        let ns = namespace
            .apply(&w.cx("namespace"), &props(json!({})))
            .await
            .unwrap();
        put_values(w).await;
        props(json!({
            "catalog": repo_root().join("blueprints").to_str().unwrap(),
            "service": SERVICE,
            "namespace": out(&ns, "name"),
            "domain": format!("{}.contract.example.test", w.tenant),
        }))
    }
    async fn count(&self, w: &KindWorld, o: &Outputs) -> usize {
        deployments(w, &out(o, "namespace")).await.len()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let d = deployments(w, &out(o, "namespace")).await.pop()?;
        Some(Marks::Labels(d.metadata.labels.unwrap_or_default()))
    }
    async fn cleanup(&self, _w: &KindWorld, p: &Props) {
        remove_namespace(p["namespace"].as_str().unwrap()).await;
    }
}
