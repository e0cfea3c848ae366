//! Hibernate and wake end to end: the `envctl` binary against a private
//! moto and the test cluster (ENVCTL_TEST_KUBECONFIG). What exists is
//! checked with the RDS, Auto Scaling and Kubernetes APIs themselves; AWS
//! starting a stopped instance after 7 days is played by a raw
//! StartDBInstance call.

#[path = "support/serve_process.rs"]
mod serve_process;
#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::{Value, json};
use support::cluster::{kube_client, kubeconfig};
use support::{Moto, repo_root};

const STACK: &str = "integration/stacks/hibernate.yaml";

/// A tenant name of its own per run (the cluster is shared).
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    )
}

struct World {
    moto: Moto,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World {
            moto: Moto::start(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.sqlite")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("ENVCTL_STATE", self.state_path())
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-hibernate")
            .env("KUBECONFIG", kubeconfig())
            .stdin(Stdio::null());
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        c
    }

    fn envctl(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().expect("run envctl");
        eprintln!(
            "$ envctl {}\n-- exit {:?}\n-- stdout\n{}\n-- stderr\n{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.envctl(args);
        assert!(out.status.success(), "envctl {} failed", args.join(" "));
        out
    }

    fn status(&self, tenant: &str) -> String {
        let out = self.ok(&["get", "tenants", "--all", "-o", "json"]);
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        rows.into_iter()
            .find(|r| r["name"] == tenant)
            .unwrap_or_else(|| panic!("tenant {tenant} is not in the state"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn rds(&self) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.moto.sdk_config())
    }

    fn asg(&self) -> aws_sdk_autoscaling::Client {
        aws_sdk_autoscaling::Client::new(&self.moto.sdk_config())
    }

    /// The tenant's RDS identifier and ASG name, from its journal.
    async fn targets(&self, tenant: &str) -> envctl::hibernate::Targets {
        let state = envctl::state::StateStore::open_path(&self.state_path())
            .await
            .unwrap();
        let records = envctl::journal::replay(&state.events(tenant).await.unwrap()).unwrap();
        envctl::hibernate::plan::targets(&records)
    }

    async fn db_status(&self, id: &str) -> Option<String> {
        match self
            .rds()
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(o) => o.db_instances()[0].db_instance_status().map(str::to_string),
            Err(_) => None,
        }
    }

    async fn asg_sizes(&self, name: &str) -> (i32, i32, i32) {
        let o = self
            .asg()
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .unwrap();
        let g = &o.auto_scaling_groups()[0];
        (
            g.min_size().unwrap(),
            g.max_size().unwrap(),
            g.desired_capacity().unwrap(),
        )
    }

    /// An engine on this world's backends and state, as the server has.
    async fn engine(&self) -> envctl::engine::Engine {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let aws = envctl::kinds::aws::AwsClients::from_config(&self.moto.sdk_config());
        let values = envctl::envapi::ValueStore::new(aws.s3.clone(), "envctl-values-hibernate");
        envctl::engine::Engine {
            backends: Arc::new(envctl::kinds::Backends {
                aws,
                values,
                kube: envctl::kinds::k8s::KubeClient::from_env(),
            }),
            state: envctl::state::StateStore::open_path(&self.state_path())
                .await
                .unwrap(),
            policy: Default::default(),
            cancel: Default::default(),
            progress: envctl::engine::ProgressSink::discard(),
            limit_overrides: Default::default(),
            parallelism: 4,
        }
    }
}

/// A pod template the namespace's PodSecurity level ("restricted") admits.
fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": {
                    "securityContext": { "runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": { "type": "RuntimeDefault" } },
                    "containers": [{
                        "name": "app", "image": "registry.example/app:1",
                        "resources": { "requests": { "cpu": "10m", "memory": "16Mi" } },
                        "securityContext": { "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] } }
                    }]
                }
            }
        }
    }))
    .unwrap()
}

fn hpa(target: &str, min: i32, max: i32) -> HorizontalPodAutoscaler {
    serde_json::from_value(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": { "name": target, "labels": { "app": target } },
        "spec": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": target },
            "minReplicas": min, "maxReplicas": max,
            "metrics": [{ "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 75 } } }]
        }
    }))
    .unwrap()
}

async fn wait_rollout(client: &kube::Client, ns: &str, name: &str) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    tokio::time::timeout(
        Duration::from_secs(180),
        await_condition(api, name, conditions::is_deployment_completed()),
    )
    .await
    .unwrap_or_else(|_| panic!("Deployment {ns}/{name} did not roll out"))
    .unwrap();
}

async fn replicas(client: &kube::Client, ns: &str, name: &str) -> (i32, i32) {
    let d = Api::<Deployment>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .unwrap();
    (
        d.spec.unwrap().replicas.unwrap(),
        d.status.and_then(|s| s.available_replicas).unwrap_or(0),
    )
}

#[tokio::test]
async fn hibernate_and_wake_put_deployments_hpas_rds_and_asgs_back() {
    let w = World::new();
    let tenant = unique("hib");
    let t = tenant.as_str();
    w.ok(&["create", "tenant", t, "--stack", STACK, "--ttl", "1d"]);
    let targets = w.targets(t).await;
    assert_eq!(targets.namespaces, vec![tenant.clone()]);
    let (db, group) = (targets.rds[0].clone(), targets.asgs[0].clone());
    assert_eq!(w.db_status(&db).await.as_deref(), Some("available"));
    assert_eq!(w.asg_sizes(&group).await, (1, 4, 2));

    // The tenant's workloads: one with an HPA, one without.
    let client = kube_client().await;
    let pp = PatchParams::apply("hibernate-test").force();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), t);
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), t);
    deployments
        .patch("web", &pp, &Patch::Apply(deployment("web", 2)))
        .await
        .unwrap();
    deployments
        .patch("worker", &pp, &Patch::Apply(deployment("worker", 1)))
        .await
        .unwrap();
    hpas.patch("web", &pp, &Patch::Apply(hpa("web", 2, 5)))
        .await
        .unwrap();
    wait_rollout(&client, t, "web").await;
    wait_rollout(&client, t, "worker").await;

    w.ok(&["hibernate", "tenant", t]);
    assert_eq!(w.status(t), "hibernated");
    assert_eq!(replicas(&client, t, "web").await.0, 0);
    assert_eq!(replicas(&client, t, "worker").await.0, 0);
    assert!(
        hpas.get_opt("web").await.unwrap().is_none(),
        "the HPA is removed while hibernated"
    );
    assert_eq!(w.db_status(&db).await.as_deref(), Some("stopped"));
    assert_eq!(w.asg_sizes(&group).await, (0, 4, 0));

    // Twice is a no-op that keeps the first sizes (checked by the wake below).
    w.ok(&["hibernate", "tenant", t]);
    assert_eq!(w.status(t), "hibernated");
    assert_eq!(w.db_status(&db).await.as_deref(), Some("stopped"));

    // A create would scale it behind hibernation's back: refused, nothing done.
    let out = w.envctl(&["create", "tenant", t, "--stack", STACK]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wake it first"),
        "the refusal says what to do"
    );
    assert_eq!(w.status(t), "hibernated");

    w.ok(&["wake", "tenant", t, "--timeout", "5m"]);
    assert_eq!(w.status(t), "ready");
    assert_eq!(replicas(&client, t, "web").await, (2, 2));
    assert_eq!(replicas(&client, t, "worker").await, (1, 1));
    let back = hpas.get("web").await.unwrap().spec.unwrap();
    assert_eq!((back.min_replicas, back.max_replicas), (Some(2), 5));
    assert_eq!(w.db_status(&db).await.as_deref(), Some("available"));
    assert_eq!(w.asg_sizes(&group).await, (1, 4, 2));

    // One hibernated period, closed; waking a ready tenant does nothing.
    let state = envctl::state::StateStore::open_path(&w.state_path())
        .await
        .unwrap();
    let periods = state.hibernation_periods(t).await.unwrap();
    assert_eq!(periods.len(), 1);
    assert!(periods[0].ended_at.is_some());
    let out = w.ok(&["wake", "tenant", t]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to do"));

    w.ok(&["destroy", "tenant", t, "--yes"]);
}

#[tokio::test]
async fn a_restarted_database_is_stopped_again_and_an_expired_hibernated_tenant_is_reaped() {
    let w = World::new();
    let tenant = unique("hib-reap");
    let t = tenant.as_str();
    w.ok(&["create", "tenant", t, "--stack", STACK, "--ttl", "1d"]);
    let targets = w.targets(t).await;
    let db = targets.rds[0].clone();
    w.ok(&["hibernate", "tenant", t]);
    assert_eq!(w.db_status(&db).await.as_deref(), Some("stopped"));

    // AWS starts a stopped instance again after 7 days.
    w.rds()
        .start_db_instance()
        .db_instance_identifier(&db)
        .send()
        .await
        .unwrap();
    assert_eq!(w.db_status(&db).await.as_deref(), Some("available"));
    // What `envctl serve` runs every minute for a hibernated tenant.
    let engine = w.engine().await;
    let restopped = envctl::hibernate::keep_hibernated(&engine, t)
        .await
        .unwrap();
    assert_eq!(restopped, vec![db.clone()]);
    assert_eq!(w.db_status(&db).await.as_deref(), Some("stopped"));
    // Nothing to do the second time.
    assert!(
        envctl::hibernate::keep_hibernated(&engine, t)
            .await
            .unwrap()
            .is_empty()
    );

    // Expired while hibernated: the reaper destroys it, stopped database included.
    engine
        .state
        .set_expiry(t, Some("2020-01-01T00:00:00Z"))
        .await
        .unwrap();
    let out = w.envctl(&["reap", "-o", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("a reap report");
    assert_eq!(report["destroyed"], 1, "{report}");
    assert_eq!(w.status(t), "destroyed");
    assert_eq!(
        w.db_status(&db).await,
        None,
        "the stopped instance is deleted"
    );
}

#[tokio::test]
async fn schedule_mistakes_exit_2_naming_the_place() {
    let w = World::new();
    let out = w.envctl(&["hibernate", "tenant", "nobody", "--sleep", "0 25 * * *"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sleep: '0 25 * * *'"));
    let out = w.envctl(&[
        "hibernate",
        "tenant",
        "nobody",
        "--sleep",
        "0 20 * * 1-5",
        "--time-zone",
        "Mars/Base",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--time-zone: 'Mars/Base'"));
    let out = w.envctl(&["hibernate", "tenant", "nobody"]);
    assert_eq!(out.status.code(), Some(2), "an unknown tenant is bad input");

    let stack = w.dir.path().join("bad.yaml");
    std::fs::write(
        &stack,
        "stack: bad\nhibernate:\n  sleep: \"0 20 * * 1-5\"\n  wake: \"every morning\"\nresources:\n  - id: files\n    kind: aws.s3.bucket\n",
    )
    .unwrap();
    let out = w.envctl(&[
        "create",
        "tenant",
        "sched",
        "--stack",
        stack.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:4", stack.display())) && err.contains("hibernate.wake"),
        "the error names the file, the line and the field: {err}"
    );
    assert!(!w.state_path().exists() || w.status_missing("sched"));
}

impl World {
    /// True when the state has no row for `tenant`.
    fn status_missing(&self, tenant: &str) -> bool {
        let out = self.ok(&["get", "tenants", "--all", "-o", "json"]);
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        !rows.iter().any(|r| r["name"] == tenant)
    }
}

const OLGA: &str = "olga-operator-token-0123456789abcdef";
const SAM: &str = "sam-requester-token-0123456789abcdef";
const RITA: &str = "rita-requester-token-0123456789abcdef";
const VIC: &str = "vic-viewer-token-0123456789abcdef";

fn sha(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// `envctl serve` on this world, offering the namespace-only stack.
fn serve(w: &World) -> serve_process::ServeProcess {
    let config = w.dir.path().join("serve.yaml");
    std::fs::write(
        &config,
        format!(
            "max_ttl: 10d\ndefault_stack: ns\nstacks:\n  ns: {}\ntokens:\n  - {{ name: olga, role: operator, sha256: {} }}\n  - {{ name: sam, role: requester, sha256: {} }}\n  - {{ name: rita, role: requester, sha256: {} }}\n  - {{ name: vic, role: viewer, sha256: {} }}\n",
            repo_root().join("integration/stacks/namespace-only.yaml").display(),
            sha(OLGA),
            sha(SAM),
            sha(RITA),
            sha(VIC)
        ),
    )
    .unwrap();
    let mut c = w.command();
    c.args(["serve", "--config"]).arg(&config);
    serve_process::ServeProcess::spawn(c)
}

async fn post(
    server: &serve_process::ServeProcess,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn get(server: &serve_process::ServeProcess, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .bearer_auth(OLGA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits (up to 3 minutes) until the tenant's status is `want`.
async fn until_status(server: &serve_process::ServeProcess, tenant: &str, want: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let t = get(server, &format!("/api/tenants/{tenant}")).await;
        if t["status"] == want && t["active_run"].is_null() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tenant {tenant} never became {want}: {t}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn the_api_hibernates_and_wakes_for_the_owner_or_an_operator_only() {
    let w = World::new();
    let server = serve(&w);
    let tenant = unique("hib-api");
    let t = tenant.as_str();
    let (code, _) = post(&server, SAM, "/api/tenants", Some(json!({ "name": t }))).await;
    assert_eq!(code, 202);
    until_status(&server, t, "ready").await;
    let client = kube_client().await;
    Api::<Deployment>::namespaced(client.clone(), t)
        .patch(
            "web",
            &PatchParams::apply("hibernate-test").force(),
            &Patch::Apply(deployment("web", 1)),
        )
        .await
        .unwrap();
    wait_rollout(&client, t, "web").await;

    let hibernate = format!("/api/tenants/{t}/hibernate");
    let wake = format!("/api/tenants/{t}/wake");
    assert_eq!(
        post(&server, VIC, &hibernate, None).await.0,
        403,
        "a viewer may not"
    );
    assert_eq!(
        post(&server, RITA, &hibernate, None).await.0,
        403,
        "another requester may not"
    );
    assert_eq!(
        post(&server, SAM, "/api/tenants/nobody-here/hibernate", None)
            .await
            .0,
        404
    );
    let (code, body) = post(&server, SAM, &hibernate, None).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["operation"], "hibernate");
    until_status(&server, t, "hibernated").await;
    assert_eq!(replicas(&client, t, "web").await.0, 0);
    // A create of a hibernated tenant is refused with what to do.
    let (code, body) = post(&server, SAM, "/api/tenants", Some(json!({ "name": t }))).await;
    assert_eq!(code, 409);
    assert!(
        body["error"].as_str().unwrap().contains("wake it first"),
        "{body}"
    );

    let (code, body) = post(&server, SAM, &wake, None).await;
    assert_eq!(code, 202, "{body}");
    let run_id = body["run_id"].as_str().unwrap().to_string();
    until_status(&server, t, "ready").await;
    assert_eq!(replicas(&client, t, "web").await, (1, 1));
    let run = get(&server, &format!("/api/runs/{run_id}")).await;
    assert_eq!(run["operation"], "wake", "{run}");
    assert_eq!(run["status"], "succeeded", "{run}");
    // Awake already: nothing to do.
    let (code, body) = post(&server, RITA, &wake, None).await;
    assert_eq!(code, 403, "{body}");
    let (code, body) = post(&server, OLGA, &wake, None).await;
    assert_eq!(code, 200, "{body}");
    assert!(body["message"].as_str().unwrap().contains("awake"));

    let audit = get(&server, "/api/audit").await;
    let has = |actor: &str, action: &str, result: &str| {
        audit["entries"].as_array().unwrap().iter().any(|e| {
            e["actor"] == actor
                && e["action"] == action
                && e["target"] == t
                && e["result"] == result
        })
    };
    assert!(has("vic", "hibernate", "denied"), "{audit}");
    assert!(has("rita", "hibernate", "denied"), "{audit}");
    assert!(has("sam", "hibernate", "accepted"), "{audit}");
    assert!(has("sam", "wake", "accepted"), "{audit}");
    assert!(has("olga", "wake", "nothing-to-do"), "{audit}");

    let resp = reqwest::Client::new()
        .delete(format!("{}/api/tenants/{t}", server.base))
        .bearer_auth(SAM)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    until_status(&server, t, "destroyed").await;
}
