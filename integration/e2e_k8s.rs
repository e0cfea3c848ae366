//! End-to-end against moto and the real local control plane (kube-apiserver,
//! controller-manager, scheduler, kwok nodes). `make test` starts the cluster
//! and sets ENVCTL_TEST_KUBECONFIG; run by hand after
//! `integration/k8s/cluster.sh up`, with that variable set to
//! `integration/k8s/cluster.sh kubeconfig`.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, PostParams};
use support::cluster::{kube_client as client, kubeconfig};
use support::{Moto, repo_root};

struct World {
    moto: Moto,
    dir: tempfile::TempDir,
}

/// The installation domain (`${envctl.domain}`) of these runs; its public
/// hosted zone is created in moto, as `make local-up` does.
const DOMAIN: &str = "envctl-e2e.net";

impl World {
    fn new() -> World {
        let w = World {
            moto: Moto::start(),
            dir: tempfile::tempdir().unwrap(),
        };
        let out = Command::new(w.moto.python())
            .arg(repo_root().join("integration/parent_zone.py"))
            .args([&w.moto.endpoint, DOMAIN])
            .output()
            .expect("run integration/parent_zone.py");
        assert!(
            out.status.success(),
            "parent zone: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        w
    }

    fn envctl(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.args(args)
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("ENVCTL_STATE", self.dir.path().join("state.sqlite"))
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-k8s")
            .env("KUBECONFIG", kubeconfig())
            .env("ENVCTL_DOMAIN", DOMAIN)
            .stdin(Stdio::null());
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        let out = c.output().expect("run envctl");
        eprintln!(
            "$ envctl {}\n-- exit {:?}\n-- stdout\n{}\n-- stderr\n{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "envctl {} failed", args.join(" "));
        out
    }

    /// A value of the store, read with the raw S3 API.
    async fn value(&self, key: &str) -> String {
        let conf = self.moto.sdk_config();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        );
        let o = s3
            .get_object()
            .bucket("envctl-values-k8s")
            .key(key)
            .send()
            .await
            .expect(key);
        String::from_utf8(o.body.collect().await.unwrap().to_vec()).unwrap()
    }
}

const STACK: &str = "integration/stacks/k8s.yaml";

fn catalog_size() -> usize {
    envctl::blueprint::Catalog::load(&repo_root().join("blueprints"))
        .unwrap()
        .len()
}

#[tokio::test]
async fn every_rendered_object_is_accepted_by_the_api_server_in_dry_run() {
    use envctl::blueprint::{Catalog, RenderContext, SecretMode, Value, render_all};
    let client = client().await;
    let ns_name = "dry-run-check";
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": ns_name}})).unwrap();
    let _ = namespaces.create(&PostParams::default(), &ns).await;

    let catalog = Catalog::load(Path::new(&repo_root().join("blueprints"))).unwrap();
    let mut cx = RenderContext::new("dry-run-check", ns_name, "dry.example.test");
    for svc in catalog.services() {
        for (key, secret) in svc.consumes() {
            let v = if secret {
                Value::secret(format!("s3cr3t-{key}"))
            } else {
                Value::plain(format!("v-{key}"))
            };
            cx = cx.with_service_value(svc.name(), key, v);
        }
    }
    let all = render_all(&catalog, &cx, SecretMode::Reveal).unwrap();
    let mut checked = 0;
    for (svc, manifests) in &all {
        for m in manifests {
            let obj: kube::api::DynamicObject = serde_yaml_ng::from_str(&m.yaml).unwrap();
            let gvk = kube::api::GroupVersionKind::try_from(obj.types.as_ref().unwrap()).unwrap();
            let (resource, _) = kube::discovery::pinned_kind(&client, &gvk).await.unwrap();
            let api: Api<kube::api::DynamicObject> =
                Api::namespaced_with(client.clone(), ns_name, &resource);
            let params = kube::api::PatchParams::apply("envctl").force().dry_run();
            api.patch(&m.name, &params, &kube::api::Patch::Apply(&obj))
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "{svc}: {} {} refused by the API server: {e}",
                        m.kind, m.name
                    )
                });
            checked += 1;
        }
    }
    assert!(checked >= 4 * catalog.len(), "checked {checked} objects");
    let deployments: Api<Deployment> = Api::namespaced(client, ns_name);
    assert!(
        deployments
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "dry run stored nothing"
    );
}

#[tokio::test]
async fn create_boots_every_service_rerun_changes_nothing_destroy_removes_all() {
    let w = World::new();
    let client = client().await;
    let tenant = "kube-e2e";
    w.envctl(&["create", "tenant", tenant, "--stack", STACK]);

    // The namespace, labelled and guarded.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = namespaces.get(tenant).await.unwrap();
    let labels = ns.metadata.labels.clone().unwrap();
    assert_eq!(labels["envctl/tenant"], tenant);
    assert_eq!(labels["envctl/managed"], "true");

    // Every catalog Deployment has all its replicas available.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), tenant);
    let list = deployments
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(list.len(), catalog_size());
    for d in &list {
        let name = d.metadata.name.clone().unwrap();
        let available = d.status.as_ref().unwrap().available_replicas.unwrap_or(0);
        if has_hpa(&name) {
            // The autoscaler may raise replicas to its minimum right after
            // the rollout envctl waited for; the rollout itself completed.
            assert!(available >= 1, "{name}: nothing available");
        } else {
            let want = d.spec.as_ref().unwrap().replicas.unwrap_or(1);
            assert_eq!(available, want, "{name}");
        }
    }

    // Secrets hold the secret values; no Deployment holds one inline.
    let password = w
        .value(&format!("e2e/{tenant}/common/DATABASE_PASSWORD"))
        .await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), tenant);
    let billing = secrets.get("billing-secrets").await.unwrap();
    let data = billing.data.unwrap();
    assert_eq!(
        String::from_utf8(data["DATABASE_PASSWORD"].0.clone()).unwrap(),
        password
    );
    let all_deployments = serde_json::to_string(&list).unwrap();
    assert!(
        !all_deployments.contains(&password),
        "a secret value is inline in a Deployment"
    );
    assert!(all_deployments.contains("secretKeyRef"));

    // `render` shows what would be applied, with the secrets masked.
    let rendered = w.envctl(&[
        "render",
        "tenant",
        tenant,
        "--stack",
        STACK,
        "--service",
        "billing",
    ]);
    let rendered = String::from_utf8(rendered.stdout).unwrap();
    assert!(rendered.contains("kind: Deployment") && rendered.contains("kind: Secret"));
    assert!(!rendered.contains(&password), "render printed a secret");
    let masked = base64_of(envctl::secret::MASK);
    assert!(rendered.contains(&masked), "the Secret shows the mask");

    // A rerun applies again and changes nothing: same objects, same config,
    // no new rollout of a Deployment that no autoscaler scales.
    let before: BTreeMap<String, (i64, String)> = fingerprint(&list);
    w.envctl(&["create", "tenant", tenant, "--stack", STACK]);
    let after_list = deployments
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(after_list.len(), list.len());
    let after = fingerprint(&after_list);
    for (name, (generation, checksum)) in &before {
        let (g2, c2) = &after[name];
        assert_eq!(checksum, c2, "{name}: config changed on rerun");
        if !has_hpa(name) {
            assert_eq!(generation, g2, "{name}: rolled again on rerun");
        }
    }

    // Destroy: the namespace is gone and nothing tagged is left in AWS.
    w.envctl(&["destroy", "tenant", tenant, "--yes"]);
    assert!(
        namespaces.get_opt(tenant).await.unwrap().is_none(),
        "namespace still there"
    );
    let conf = w.moto.sdk_config();
    let sqs = aws_sdk_sqs::Client::new(&conf);
    assert!(
        sqs.list_queues()
            .send()
            .await
            .unwrap()
            .queue_urls()
            .is_empty()
    );
}

fn has_hpa(service: &str) -> bool {
    envctl::blueprint::Catalog::load(&repo_root().join("blueprints"))
        .unwrap()
        .service(service)
        .is_some_and(|s| s.hpa().is_some())
}

/// Generation and config checksum of each Deployment.
fn fingerprint(list: &[Deployment]) -> BTreeMap<String, (i64, String)> {
    list.iter()
        .map(|d| {
            let checksum = d
                .spec
                .as_ref()
                .and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.annotations.as_ref())
                .and_then(|a| a.get("envctl/config-checksum").cloned())
                .unwrap_or_default();
            (
                d.metadata.name.clone().unwrap(),
                (d.metadata.generation.unwrap_or(0), checksum),
            )
        })
        .collect()
}

/// Resources tagged with `tenant`, listed through each AWS service's own API
/// by an independent client (integration/aws_tagged.py, boto3).
fn aws_tagged(w: &World, tenant: &str) -> Vec<String> {
    let mut c = Command::new(w.moto.python());
    c.arg(repo_root().join("integration/aws_tagged.py"))
        .args([&w.moto.endpoint, tenant])
        .env_clear();
    for (k, v) in w.moto.env() {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn the_default_stack_creates_everything_and_destroy_after_state_loss_leaves_nothing() {
    let w = World::new();
    let client = client().await;
    let tenant = "full-e2e";
    let plan = w.envctl(&["plan", "tenant", tenant, "-o", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let path: Vec<&str> = plan["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        path.contains(&"certificate") || path.contains(&"database"),
        "long poles lead: {path:?}"
    );

    w.envctl(&["create", "tenant", tenant]);
    let tagged = aws_tagged(&w, tenant);
    for kind in [
        "ec2 vpc",
        "ec2 subnet",
        "ec2 security-group",
        "acm certificate",
        "route53 zone",
        "elbv2 load-balancer",
        "rds instance",
        "s3 bucket",
        "sqs queue",
        "sns topic",
        "autoscaling group",
        "lambda function",
        "iam role",
    ] {
        assert!(
            tagged.iter().any(|t| t.starts_with(kind)),
            "no {kind} tagged with the tenant: {tagged:#?}"
        );
    }
    // Every output named in the stack's publish entries is in the store.
    let stack = envctl::stack::load_file_in(
        &repo_root().join("stacks/tenant.yaml"),
        &envctl::stack::Builtins::with_domain(DOMAIN),
    )
    .unwrap();
    for r in &stack.resources {
        for p in &r.publish {
            let key =
                envctl::envapi::EnvKey::new("dev", Some(tenant), p.level.clone(), &p.key).unwrap();
            assert!(
                !w.value(&key.object_key()).await.is_empty(),
                "{} not published",
                key.object_key()
            );
        }
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), tenant);
    assert_eq!(
        deployments
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        catalog_size()
    );

    // Lose the state; destroy still finds everything by tag.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!(
            "{}{suffix}",
            w.dir.path().join("state.sqlite").display()
        ));
    }
    w.envctl(&["destroy", "tenant", tenant, "--yes"]);
    assert_eq!(aws_tagged(&w, tenant), Vec::<String>::new());
    let namespaces: Api<Namespace> = Api::all(client);
    assert!(namespaces.get_opt(tenant).await.unwrap().is_none());
}

fn base64_of(s: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("base64")
        .args(["-w", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}
