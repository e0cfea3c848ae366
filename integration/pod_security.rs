//! Pod Security admission, by the real kube-apiserver of the test cluster
//! (ENVCTL_TEST_KUBECONFIG): in a namespace labelled as envctl labels a
//! tenant's (enforce "restricted"), a Pod made from every catalog service's
//! rendered pod template is admitted (server-side dry run), and applying
//! every rendered Deployment draws no PodSecurity warning and rolls out on
//! kwok's nodes. Controls prove the admission is on: a privileged Pod is
//! refused, and a Deployment without a securityContext draws the warning.

#[path = "support/mod.rs"]
mod support;

#[path = "support/kubectl.rs"]
mod kubectl;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use envctl::blueprint::{Catalog, RenderContext, SecretMode, render_all};
use envctl::kinds::k8s::namespace::POD_SECURITY_LABELS;
use kubectl::{DeleteNamespace, Kube};
use serde_json::{Value as Json, json};
use support::repo_root;

/// A namespace with the Pod Security labels of a tenant namespace.
fn restricted_namespace(k: &Kube, name: &str) {
    let labels: BTreeMap<&str, &str> = POD_SECURITY_LABELS.into_iter().collect();
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
    let ns = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": { "name": name, "labels": labels },
    });
    k.ok(&["create", "-f", "-"], &ns.to_string());
}

/// Every catalog service's Deployment, rendered for a tenant whose
/// namespace is `namespace`, with a made-up value for every KEY.
fn deployments(namespace: &str) -> BTreeMap<String, Json> {
    let catalog = Catalog::load(&repo_root().join("blueprints")).unwrap_or_else(|e| panic!("{e}"));
    let cx = RenderContext::new("psa", namespace, "psa.example.test").with_example_values(&catalog);
    let all = render_all(&catalog, &cx, SecretMode::Mask).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), catalog.len());
    all.into_iter()
        .map(|(name, manifests)| {
            let d = manifests
                .iter()
                .find(|m| m.kind == "Deployment")
                .unwrap_or_else(|| panic!("{name}: no Deployment"));
            (name, serde_yaml_ng::from_str(&d.yaml).unwrap())
        })
        .collect()
}

/// A Pod with the Deployment's pod template, as its ReplicaSet would make.
fn pod_of(name: &str, namespace: &str, deployment: &Json) -> Json {
    let template = &deployment["spec"]["template"];
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": namespace, "labels": template["metadata"]["labels"] },
        "spec": template["spec"],
    })
}

fn list(items: Vec<Json>) -> String {
    json!({ "apiVersion": "v1", "kind": "List", "items": items }).to_string()
}

#[test]
fn every_rendered_workload_is_admitted_at_restricted() {
    let k = Kube::from_env(&repo_root());
    let ns = format!("envctl-psa-{}", std::process::id());
    let _cleanup = DeleteNamespace(&k, ns.clone());
    restricted_namespace(&k, &ns);
    let deployments = deployments(&ns);
    assert_eq!(deployments.len(), 52, "the shipped catalog has 52 services");

    // Control: the admission is on and enforcing in this namespace.
    let privileged = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "privileged", "namespace": ns },
        "spec": { "containers": [{ "name": "c", "image": "registry.example.com/x:1",
                   "securityContext": { "privileged": true } }] },
    });
    let refused = k.run(
        &["create", "--dry-run=server", "-f", "-"],
        &privileged.to_string(),
    );
    assert!(
        !refused.ok,
        "a privileged pod was admitted: {}",
        refused.stdout
    );
    assert!(
        refused
            .stderr
            .contains("violates PodSecurity \"restricted:"),
        "refused for another reason: {}",
        refused.stderr
    );

    // Every service's pod, admitted.
    let pods: Vec<Json> = deployments
        .iter()
        .map(|(name, d)| pod_of(name, &ns, d))
        .collect();
    let ran = k.run(
        &["create", "--dry-run=server", "-o", "name", "-f", "-"],
        &list(pods),
    );
    assert!(
        ran.ok && ran.stderr.trim().is_empty(),
        "pods refused or warned about:\n{}",
        ran.stderr
    );
    let admitted: Vec<&str> = ran.stdout.lines().collect();
    let want: Vec<String> = deployments.keys().map(|n| format!("pod/{n}")).collect();
    assert_eq!(admitted, want, "every service's pod is admitted");

    // Control: a Deployment whose pods would be refused draws the warning
    // (so the absence of warnings below means something).
    let mut bare = deployments["i18n"].clone();
    bare["metadata"]["name"] = json!("bare");
    bare["spec"]["template"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("securityContext");
    bare["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("securityContext");
    let warned = k.run(
        &["apply", "--server-side", "--dry-run=server", "-f", "-"],
        &bare.to_string(),
    );
    assert!(warned.ok, "{}", warned.stderr);
    assert!(
        warned
            .stderr
            .contains("would violate PodSecurity \"restricted:"),
        "no PodSecurity warning for a Deployment without securityContext: {}",
        warned.stderr
    );

    // Every Deployment applied: no warning, and each rolls out (its pods
    // made by the ReplicaSet controller, admitted, run by kwok).
    let ran = k.run(
        &[
            "apply",
            "--server-side",
            "--field-manager=envctl-psa-test",
            "-f",
            "-",
        ],
        &list(deployments.values().cloned().collect()),
    );
    assert!(ran.ok, "{}", ran.stderr);
    assert!(
        !ran.stderr.contains("Warning"),
        "the apiserver warned:\n{}",
        ran.stderr
    );
    assert_eq!(ran.stdout.lines().count(), 52, "{}", ran.stdout);
    wait_rolled_out(&k, &ns, deployments.len());
}

/// Polls until `count` Deployments of `namespace` have all their replicas
/// ready, or fails after two minutes naming those that have not.
fn wait_rolled_out(k: &Kube, namespace: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut pause = Duration::from_millis(250);
    loop {
        let out = k.ok(&["-n", namespace, "get", "deployments", "-o", "json"], "");
        let doc: Json = serde_json::from_str(&out).unwrap();
        let items = doc["items"].as_array().cloned().unwrap_or_default();
        let pending: Vec<String> = items
            .iter()
            .filter(|d| {
                let want = d["spec"]["replicas"].as_u64().unwrap_or(1);
                d["status"]["readyReplicas"].as_u64().unwrap_or(0) < want
            })
            .map(|d| d["metadata"]["name"].as_str().unwrap_or("?").to_string())
            .collect();
        if items.len() == count && pending.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let events = k.run(
                &[
                    "-n",
                    namespace,
                    "get",
                    "events",
                    "--field-selector=type=Warning",
                ],
                "",
            );
            panic!(
                "after 2 minutes, {} of {count} Deployments exist and these are not ready: {pending:?}\n{}",
                items.len(),
                events.stdout
            );
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
