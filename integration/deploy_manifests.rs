//! `deploy/` against the real test cluster: every manifest passes a
//! server-side dry run; the RBAC grants what envctl calls and nothing more;
//! the admission policy keeps envctl's service account inside namespaces
//! labelled `envctl/managed=true`; and the `envctl` binary, signed in as
//! that service account (against a private moto for its values), creates,
//! extends, reaps and destroys tenants with namespaces and every blueprint
//! kind. `make test` starts the cluster and sets
//! ENVCTL_TEST_KUBECONFIG; by hand, after `integration/k8s/cluster.sh up`, set
//! it to `integration/k8s/cluster.sh kubeconfig`.

#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Moto, repo_root};

const SA: &str = "system:serviceaccount:envctl-system:envctl";
/// Namespaces this test makes; all start with this prefix.
const PREFIX: &str = "envctl-deploy-test";

fn kubeconfig() -> PathBuf {
    let path = std::env::var("ENVCTL_TEST_KUBECONFIG").expect(
        "ENVCTL_TEST_KUBECONFIG is not set: run `make test`, or start a cluster with \
         `integration/k8s/cluster.sh up` and set it to `integration/k8s/cluster.sh kubeconfig`",
    );
    PathBuf::from(path)
}

struct Kubectl {
    bin: String,
    kubeconfig: PathBuf,
}

impl Kubectl {
    fn new() -> Kubectl {
        let kubeconfig = kubeconfig();
        let out = Command::new(repo_root().join("integration/k8s/cluster.sh"))
            .arg("kubectl")
            .output()
            .expect("integration/k8s/cluster.sh kubectl");
        assert!(out.status.success(), "no kubectl: run `make setup`");
        Kubectl {
            bin: String::from_utf8(out.stdout).unwrap().trim().to_string(),
            kubeconfig,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(&self.bin)
            .args(args)
            .current_dir(repo_root())
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .expect("run kubectl");
        eprintln!(
            "$ kubectl {}\n-- exit {:?}\n{}{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "kubectl {} failed", args.join(" "));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl ARGS` as envctl's service account: success, or the error text.
    fn as_envctl(&self, args: &[&str]) -> Result<(), String> {
        let mut all = args.to_vec();
        all.extend(["--as", SA]);
        let out = self.run(&all);
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn can_i(&self, verb: &str, resource: &str, namespace: Option<&str>) -> bool {
        let mut args = vec!["auth", "can-i", verb, resource, "--as", SA];
        if let Some(ns) = namespace {
            args.extend(["-n", ns]);
        }
        let out = self.run(&args);
        String::from_utf8_lossy(&out.stdout).trim() == "yes"
    }
}

/// Removes what the test applied, whatever happened.
struct Cleanup<'a>(&'a Kubectl);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let k = self.0;
        for ns in ["t1", "plain", "team"] {
            k.run(&[
                "delete",
                "namespace",
                &format!("{PREFIX}-{ns}"),
                "--ignore-not-found",
            ]);
        }
        for tenant in [OLD, KEPT] {
            k.run(&["delete", "namespace", tenant, "--ignore-not-found"]);
        }
        k.run(&[
            "delete",
            "-f",
            "deploy/20-admission-policy.yaml",
            "-f",
            "deploy/10-rbac.yaml",
            "-f",
            "deploy/00-namespace.yaml",
            "--ignore-not-found",
        ]);
    }
}

/// The example configuration in the ConfigMap is one the server accepts
/// (with the repository standing in for the image's /app).
#[test]
fn the_example_serve_configuration_is_valid() {
    let manifest = std::fs::read_to_string(repo_root().join("deploy/30-config.yaml")).unwrap();
    let config_map: serde_yaml_ng::Value = serde_yaml_ng::from_str(&manifest).unwrap();
    let text = config_map["data"]["serve.yaml"]
        .as_str()
        .expect("data.serve.yaml")
        .replace("/app/", &format!("{}/", repo_root().display()));
    let config = envctl::serve::ServeConfig::parse(std::path::Path::new("serve.yaml"), &text)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(config.reaper.is_none(), "the CronJob reaps, not the server");
    assert_eq!(config.tokens.len(), 3);
}

#[test]
fn deploy_manifests_apply_and_grant_envctl_just_enough() {
    let k = Kubectl::new();
    let _cleanup = Cleanup(&k);

    // Namespaced objects need their namespace for a server-side dry run.
    k.ok(&["apply", "-f", "deploy/00-namespace.yaml"]);
    let out = k.ok(&["apply", "--dry-run=server", "-f", "deploy/"]);
    for object in [
        "serviceaccount/envctl",
        "clusterrole.rbac.authorization.k8s.io/envctl",
        "clusterrolebinding.rbac.authorization.k8s.io/envctl",
        "validatingadmissionpolicy.admissionregistration.k8s.io/envctl-managed-namespaces-only",
        "configmap/envctl-serve",
        "deployment.apps/envctl",
        "service/envctl",
        "cronjob.batch/envctl-reaper",
    ] {
        assert!(out.contains(object), "{object} missing from the dry run");
    }
    let cron = k.ok(&[
        "apply",
        "--dry-run=server",
        "-f",
        "deploy/50-reaper-cronjob.yaml",
        "-o",
        "jsonpath={.spec.concurrencyPolicy} {.spec.jobTemplate.spec.template.spec.containers[0].args}",
    ]);
    assert!(cron.starts_with("Forbid "), "{cron}");
    assert!(cron.contains("reap"), "{cron}");

    k.ok(&[
        "apply",
        "-f",
        "deploy/10-rbac.yaml",
        "-f",
        "deploy/20-admission-policy.yaml",
    ]);
    rbac_allows_what_envctl_calls(&k);
    rbac_allows_nothing_more(&k);
    admission_keeps_envctl_inside_managed_namespaces(&k);
    envctl_works_as_its_service_account(&k);
}

/// What the k8s.namespace and k8s.service kinds and the reaper call, in a
/// tenant namespace that does not exist yet.
fn rbac_allows_what_envctl_calls(k: &Kubectl) {
    let tenant = Some("some-tenant");
    let mut missing = Vec::new();
    for verb in ["get", "list", "create", "patch", "delete"] {
        if !k.can_i(verb, "namespaces", None) {
            missing.push(format!("{verb} namespaces"));
        }
    }
    let namespaced: &[(&str, &[&str])] = &[
        ("resourcequotas", &["create", "patch"]),
        ("limitranges", &["create", "patch"]),
        ("networkpolicies.networking.k8s.io", &["create", "patch"]),
        ("configmaps", &["create", "patch", "delete"]),
        ("secrets", &["create", "patch", "delete"]),
        ("services", &["create", "patch", "delete"]),
        ("deployments.apps", &["get", "create", "patch", "delete"]),
        (
            "poddisruptionbudgets.policy",
            &["create", "patch", "delete"],
        ),
        (
            "horizontalpodautoscalers.autoscaling",
            &["create", "patch", "delete"],
        ),
        (
            "ingresses.networking.k8s.io",
            &["create", "patch", "delete"],
        ),
    ];
    for (resource, verbs) in namespaced {
        for verb in *verbs {
            if !k.can_i(verb, resource, tenant) {
                missing.push(format!("{verb} {resource}"));
            }
        }
    }
    assert!(missing.is_empty(), "envctl cannot: {missing:?}");
}

fn rbac_allows_nothing_more(k: &Kubectl) {
    let checks: &[(&str, &str, Option<&str>)] = &[
        ("delete", "nodes", None),
        ("get", "secrets", Some("kube-system")),
        ("list", "secrets", Some("some-tenant")),
        ("watch", "secrets", Some("some-tenant")),
        ("get", "configmaps", Some("kube-system")),
        ("get", "pods", Some("some-tenant")),
        ("create", "pods", Some("some-tenant")),
        ("create", "pods/exec", Some("some-tenant")),
        ("create", "serviceaccounts/token", Some("envctl-system")),
        (
            "create",
            "rolebindings.rbac.authorization.k8s.io",
            Some("some-tenant"),
        ),
        (
            "create",
            "clusterrolebindings.rbac.authorization.k8s.io",
            None,
        ),
        ("escalate", "clusterroles.rbac.authorization.k8s.io", None),
        ("bind", "clusterroles.rbac.authorization.k8s.io", None),
        ("impersonate", "users", None),
        ("impersonate", "serviceaccounts", Some("kube-system")),
        (
            "create",
            "customresourcedefinitions.apiextensions.k8s.io",
            None,
        ),
        ("delete", "persistentvolumes", None),
        (
            "patch",
            "validatingadmissionpolicies.admissionregistration.k8s.io",
            None,
        ),
        (
            "delete",
            "validatingadmissionpolicybindings.admissionregistration.k8s.io",
            None,
        ),
        ("update", "deployments.apps", Some("some-tenant")),
        ("deletecollection", "namespaces", None),
    ];
    let granted: Vec<String> = checks
        .iter()
        .filter(|(verb, resource, ns)| k.can_i(verb, resource, *ns))
        .map(|(verb, resource, ns)| format!("{verb} {resource} in {}", ns.unwrap_or("cluster")))
        .collect();
    assert!(granted.is_empty(), "envctl may also: {granted:?}");
}

/// RBAC is cluster-wide (tenant namespaces cannot be named in advance); the
/// admission policy narrows it to namespaces labelled envctl/managed=true.
fn admission_keeps_envctl_inside_managed_namespaces(k: &Kubectl) {
    let probe = [
        "create",
        "configmap",
        "envctl-probe",
        "-n",
        "default",
        "--from-literal=a=b",
        "--dry-run=server",
    ];
    // The API server loads a new policy asynchronously: wait until it denies.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match k.as_envctl(&probe) {
            Err(e) if e.contains("envctl-managed-namespaces-only") => break,
            _ if Instant::now() > deadline => {
                panic!("the admission policy did not take effect within 60 s")
            }
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    }
    let err = k.as_envctl(&probe).unwrap_err();
    assert!(
        err.contains("labelled envctl/managed=true") && err.contains("namespace default"),
        "{err}"
    );

    // A managed namespace: envctl may make it and work inside it.
    let t1 = format!("{PREFIX}-t1");
    let manifest = std::env::temp_dir().join(format!("{t1}-{}.yaml", std::process::id()));
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {t1}\n  labels:\n    envctl/managed: \"true\"\n    envctl/tenant: t1\n"
        ),
    )
    .unwrap();
    let path = manifest.display().to_string();
    k.as_envctl(&[
        "apply",
        "--server-side",
        "--field-manager=envctl",
        "-f",
        &path,
    ])
    .expect("envctl creates a managed namespace");
    std::fs::remove_file(&manifest).ok();
    k.as_envctl(&[
        "create",
        "configmap",
        "values",
        "-n",
        &t1,
        "--from-literal=a=b",
    ])
    .expect("envctl writes inside its namespace");
    k.as_envctl(&[
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        &t1,
        "--from-literal=a=b",
    ])
    .expect("envctl writes a Secret inside its namespace");

    // Not managed: neither creating, nor taking over, nor deleting.
    let plain = format!("{PREFIX}-plain");
    let err = k.as_envctl(&["create", "namespace", &plain]).unwrap_err();
    assert!(err.contains("envctl-managed-namespaces-only"), "{err}");
    let team = format!("{PREFIX}-team");
    k.ok(&["create", "namespace", &team]);
    let err = k
        .as_envctl(&["label", "namespace", &team, "envctl/managed=true"])
        .unwrap_err();
    assert!(err.contains("envctl-managed-namespaces-only"), "{err}");
    let err = k
        .as_envctl(&["delete", "namespace", &team, "--wait=false"])
        .unwrap_err();
    assert!(err.contains("envctl-managed-namespaces-only"), "{err}");
    let err = k
        .as_envctl(&[
            "create",
            "configmap",
            "x",
            "-n",
            "envctl-system",
            "--from-literal=a=b",
            "--dry-run=server",
        ])
        .unwrap_err();
    assert!(err.contains("envctl-managed-namespaces-only"), "{err}");

    // Its own namespace it may delete again.
    k.as_envctl(&["delete", "namespace", &t1, "--wait=false"])
        .expect("envctl deletes a managed namespace");
}

/// Tenants of the service-account run (their namespaces are named the same).
const OLD: &str = "deploy-rbac-old";
const KEPT: &str = "deploy-rbac-kept";

/// A namespace and one catalog service whose templates cover every kind the
/// blueprints render (ConfigMap, Secret, Service, Deployment, PDB, HPA, Ingress).
const SA_STACK: &str = r#"
stack: deploy-rbac
environment: e2e
resources:
  - id: log-level
    kind: env.value
    properties: { value: info }
    publish: [ { output: value, key: LOG_LEVEL, level: tenant } ]
  - id: urls
    kind: env.value
    properties: { value: "https://app.example.test" }
    publish:
      - { output: value, key: PUBLIC_URL, level: tenant }
      - { output: value, key: API_URL, level: tenant }
  - id: session-secret
    kind: secret.password
    publish: [ { output: value, key: SESSION_SECRET, level: tenant, secret: true } ]
  - id: namespace
    kind: k8s.namespace
  - id: gateway
    kind: k8s.service
    properties: { service: gateway, namespace: "${namespace.name}", domain: example.test }
    depends_on: [log-level, urls, session-secret]
"#;

/// A kubeconfig for the same cluster that signs in with a token of envctl's
/// service account.
fn service_account_kubeconfig(k: &Kubectl, dir: &std::path::Path) -> PathBuf {
    let token = k
        .ok(&[
            "create",
            "token",
            "envctl",
            "-n",
            "envctl-system",
            "--duration=1h",
        ])
        .trim()
        .to_string();
    let server = k.ok(&[
        "config",
        "view",
        "--raw",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let ca = k.ok(&[
        "config",
        "view",
        "--raw",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]);
    let path = dir.join("envctl-sa.kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: envctl\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context: {{ cluster: c, user: envctl }}\ncurrent-context: c\n"
        ),
    )
    .unwrap();
    path
}

/// What the can-i lists stand for: the real binary, with nothing but the
/// service account's rights, does its whole job.
fn envctl_works_as_its_service_account(k: &Kubectl) {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = service_account_kubeconfig(k, dir.path());
    let stack = dir.path().join("stack.yaml");
    std::fs::write(&stack, SA_STACK).unwrap();
    let stack = stack.display().to_string();
    let envctl = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.args(args)
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("KUBECONFIG", &kubeconfig)
            .env("ENVCTL_STATE", dir.path().join("state.sqlite"))
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-deploy");
        for (key, value) in moto.env() {
            c.env(key, value);
        }
        let out = c.output().expect("run envctl");
        eprintln!(
            "$ envctl {} (as {SA})\n-- exit {:?}\n{}{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "envctl {} failed", args.join(" "));
        out.stdout
    };
    let annotation = |ns: &str| {
        k.ok(&[
            "get",
            "namespace",
            ns,
            "-o",
            "jsonpath={.metadata.annotations.envctl/expires-at}",
        ])
    };

    envctl(&["create", "tenant", KEPT, "--stack", &stack, "--ttl", "1h"]);
    envctl(&["create", "tenant", OLD, "--stack", &stack, "--ttl", "1s"]);
    k.ok(&[
        "rollout",
        "status",
        "deployment/gateway",
        "-n",
        KEPT,
        "--timeout=60s",
    ]);

    // extend re-annotates the namespace (a merge patch the policy lets through).
    let extended: Value = serde_json::from_slice(&envctl(&[
        "extend", "tenant", KEPT, "--by", "1h", "-o", "json",
    ]))
    .unwrap();
    assert_eq!(annotation(KEPT), extended["expires_at"].as_str().unwrap());

    // The reaper lists namespaces, checks labels, deletes the expired one.
    let tenants: Vec<Value> =
        serde_json::from_slice(&envctl(&["get", "tenants", "-o", "json"])).unwrap();
    let expiry: jiff::Timestamp = tenants
        .iter()
        .find(|t| t["name"] == OLD)
        .and_then(|t| t["expires_at"].as_str())
        .expect("expiry of the short-lived tenant")
        .parse()
        .unwrap();
    while jiff::Timestamp::now() <= expiry {
        std::thread::sleep(Duration::from_millis(100));
    }
    let report: Value = serde_json::from_slice(&envctl(&["reap", "-o", "json"])).unwrap();
    assert_eq!(report["destroyed"], 1, "{report:#}");
    assert_eq!(report["tenants"][0]["tenant"], OLD);
    let gone = k.run(&["get", "namespace", OLD]);
    assert!(!gone.status.success(), "namespace {OLD} is gone");
    assert!(!annotation(KEPT).is_empty(), "{KEPT} untouched");

    envctl(&["destroy", "tenant", KEPT, "--yes"]);
    let gone = k.run(&["get", "namespace", KEPT]);
    assert!(!gone.status.success(), "namespace {KEPT} is gone");
}
