//! Rollouts end to end, on moto and the real local control plane (`make
//! test` starts both and sets ENVCTL_TEST_KUBECONFIG): ten tenants of a
//! small stack (integration/stacks/rollout.yaml, one catalog service) get a
//! new tag in health-gated waves.
//!
//! - One tenant's new ReplicaSet never gets its pod — a ResourceQuota in its
//!   namespace leaves no room for the surge pod, a real cause of stuck
//!   rollouts — so its Deployment rollout never completes: it is rolled
//!   back automatically; with `--max-failures 0` the rollout stops there,
//!   with 1 it carries on and the others are upgraded.
//! - The driver is killed with SIGKILL mid-way; `rollout resume` finishes:
//!   every tenant upgraded exactly once (one new revision each), none
//!   skipped.

#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use envctl::lifecycle::RolloutTenantStatus as T;
use envctl::release::{Snapshot, diff};
use envctl::state::StateStore;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use kube::api::{Api, DeleteParams, PostParams};
use support::cluster::{kube_client as client, kubeconfig};
use support::{Moto, repo_root};

const OLD: &str = "1.0.0";
const NEW: &str = "2.0.0";

/// A moto, a state file, and the stack in two releases (tag OLD and NEW).
struct World {
    moto: Moto,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            moto: Moto::start(),
            dir: tempfile::tempdir().unwrap(),
        };
        w.release(OLD);
        w.release(NEW);
        w
    }

    /// `<dir>/<tag>/stack.yaml` with its catalog at that tag.
    fn release(&self, tag: &str) {
        let root = repo_root();
        let at = self.dir.path().join(tag);
        let templates = at.join("rollout-catalog/templates");
        std::fs::create_dir_all(&templates).unwrap();
        std::fs::copy(
            root.join("integration/stacks/rollout.yaml"),
            at.join("stack.yaml"),
        )
        .unwrap();
        let catalog =
            std::fs::read_to_string(root.join("integration/stacks/rollout-catalog/catalog.yaml"))
                .unwrap();
        let catalog = catalog.replace(&format!("tag: \"{OLD}\""), &format!("tag: \"{tag}\""));
        assert!(catalog.contains(&format!("tag: \"{tag}\"")));
        std::fs::write(at.join("rollout-catalog/catalog.yaml"), catalog).unwrap();
        for f in std::fs::read_dir(root.join("blueprints/templates")).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), templates.join(f.file_name())).unwrap();
        }
    }

    fn stack(&self, tag: &str) -> String {
        self.dir
            .path()
            .join(tag)
            .join("stack.yaml")
            .display()
            .to_string()
    }

    fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.sqlite")
    }

    async fn state(&self) -> StateStore {
        StateStore::open_path(&self.state_path()).await.unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.args(args)
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("USER", "rollout-test")
            .env("ENVCTL_STATE", self.state_path())
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-rollout")
            .env("KUBECONFIG", kubeconfig())
            .stdin(Stdio::null());
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        c
    }

    /// Runs envctl; its output is logged for a failing test.
    fn envctl(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("run envctl");
        eprintln!(
            "$ envctl {}\n-- exit {:?}\n-- stdout\n{}\n-- stderr\n{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Creates the tenants at the OLD release, all at once.
    fn create(&self, tenants: &[String]) {
        let stack = self.stack(OLD);
        std::thread::scope(|s| {
            for t in tenants {
                let stack = stack.clone();
                s.spawn(move || {
                    let out = self.envctl(&[
                        "create",
                        "tenant",
                        t,
                        "--stack",
                        &stack,
                        "--skip-preflight",
                    ]);
                    assert!(out.status.success(), "create tenant {t} failed");
                });
            }
        });
    }
}

/// Deletes the tenants' namespaces when dropped, whatever the test did.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        let names = self.0.clone();
        let _ = std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let api: Api<Namespace> = Api::all(client().await);
                for n in names {
                    let _ = api.delete(&n, &DeleteParams::default()).await;
                }
            })
        })
        .join();
    }
}

fn tenants(prefix: &str) -> Vec<String> {
    (0..10).map(|i| format!("{prefix}-{i}")).collect()
}

/// The image tag the tenant's Deployment `web` runs now.
async fn tag_of(client: &kube::Client, tenant: &str) -> String {
    let d = Api::<Deployment>::namespaced(client.clone(), tenant)
        .get("web")
        .await
        .unwrap();
    let image = d.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone()
        .unwrap();
    image.rsplit_once(':').unwrap().1.to_string()
}

/// The tag held by a revision's content.
fn tag_in(content_json: &str) -> String {
    let snap = Snapshot::from_json(content_json).unwrap();
    snap.nodes
        .values()
        .find_map(|n| n.service.as_ref().map(|s| s.tag.clone()))
        .expect("a service node")
}

fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the report is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The most tenants of a JSON report that were under way (between their
/// `started_at` and `ended_at`) at the same time.
fn most_at_once(report: &serde_json::Value) -> usize {
    let at = |t: &serde_json::Value, field: &str| {
        t[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} of {t}"))
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    // (time, +1 start / -1 end); at the same instant an end comes first.
    let mut moves: Vec<(jiff::Timestamp, i32)> = Vec::new();
    for t in report["tenants"].as_array().unwrap() {
        moves.push((at(t, "started_at"), 1));
        moves.push((at(t, "ended_at"), -1));
    }
    moves.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in moves {
        now += d;
        most = most.max(now);
    }
    most as usize
}

/// Outcome of each tenant in a JSON report, by name.
fn outcomes(report: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    report["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tenant"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A ResourceQuota of one pod in the namespace: its running pod fills it,
/// so a new ReplicaSet's surge pod (maxSurge 1, maxUnavailable 0) is
/// refused by admission and the rollout never completes. Waits until the
/// quota controller has counted the pod.
async fn fill_quota(client: &kube::Client, namespace: &str) {
    let api: Api<ResourceQuota> = Api::namespaced(client.clone(), namespace);
    let q: ResourceQuota = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "no-room"},
        "spec": {"hard": {"pods": "1"}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &q).await.unwrap();
    let counted = |q: Option<&ResourceQuota>| {
        q.and_then(|q| q.status.as_ref())
            .and_then(|s| s.used.as_ref())
            .and_then(|u| u.get("pods"))
            .is_some_and(|p| p.0 == "1")
    };
    tokio::time::timeout(
        Duration::from_secs(60),
        kube::runtime::wait::await_condition(api, "no-room", counted),
    )
    .await
    .expect("the quota controller counts the namespace's pod within 60 s")
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_that_never_becomes_ready_is_rolled_back_and_the_limit_decides_the_rest() {
    let w = World::new();
    let client = client().await;
    let names = tenants("rolla");
    let _cleanup = Namespaces(names.clone());
    w.create(&names);
    let bad = "rolla-0";
    fill_quota(&client, bad).await;

    // --max-failures 0: the canary (the bad tenant, first by name) fails,
    // is rolled back, and nothing else starts.
    let out = w.envctl(&[
        "rollout",
        "--stack",
        &w.stack(NEW),
        "--tenants",
        "rolla-*",
        "--canary",
        "1",
        "--batch",
        "5",
        "--soak",
        "2s",
        "--max-failures",
        "0",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "a stopped rollout exits 1");
    let first = report(&out);
    assert_eq!(first["status"], "stopped");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("more than --max-failures 0"),
        "{}",
        first["message"]
    );
    let got = outcomes(&first);
    assert_eq!(got[bad], "rolled_back");
    for t in &names[1..] {
        assert_eq!(got[t], "pending", "{t} must not have been started");
    }
    let bad_row = first["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant"] == bad)
        .unwrap()
        .clone();
    let why = bad_row["message"].as_str().unwrap();
    assert!(
        why.contains("apply failed") && why.contains("rolled back to revision 1"),
        "{why}"
    );

    let state = w.state().await;
    // Rolled back: on the old tag, and a new revision equal to the first.
    assert_eq!(tag_of(&client, bad).await, OLD);
    let revs = state.revisions(bad).await.unwrap();
    assert_eq!(revs.len(), 2, "the rollback is recorded as revision 2");
    let (r1, r2) = (
        Snapshot::from_json(&revs[0].content_json).unwrap(),
        Snapshot::from_json(&revs[1].content_json).unwrap(),
    );
    assert!(
        diff(&r1, &r2).is_empty(),
        "revision 2 holds revision 1's content"
    );
    for t in &names[1..] {
        assert_eq!(tag_of(&client, t).await, OLD, "{t} untouched");
        assert_eq!(state.revisions(t).await.unwrap().len(), 1, "{t} untouched");
    }

    // --max-failures 1: the same failure, then every other tenant upgraded.
    let started = Instant::now();
    let out = w.envctl(&[
        "rollout",
        "--stack",
        &w.stack(NEW),
        "--tenants",
        "rolla-*",
        "--canary",
        "1",
        "--batch",
        "5",
        "--soak",
        "2s",
        "--max-failures",
        "1",
        "--max-unavailable",
        "3",
        "-o",
        "json",
    ]);
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a rollout with a failure exits 1"
    );
    let second = report(&out);
    assert_eq!(second["status"], "failed");
    assert!(
        second["message"]
            .as_str()
            .unwrap()
            .contains("every other tenant was tried"),
        "{}",
        second["message"]
    );
    let got = outcomes(&second);
    assert_eq!(got[bad], "rolled_back");
    assert_eq!(tag_of(&client, bad).await, OLD);
    assert_eq!(state.revisions(bad).await.unwrap().len(), 3);
    for t in &names[1..] {
        assert_eq!(got[t], "succeeded", "{t}");
        assert_eq!(tag_of(&client, t).await, NEW, "{t}");
        let revs = state.revisions(t).await.unwrap();
        assert_eq!(revs.len(), 2, "{t}: one new revision");
        assert_eq!(tag_in(&revs[1].content_json), NEW);
    }
    // --max-unavailable 3: never more than three tenants under way at once,
    // though a wave holds five.
    assert_eq!(most_at_once(&second), 3, "{second}");
    eprintln!(
        "FIGURE: rollout of 10 tenants (1 canary rolled back after its 20 s rollout timeout, 9 upgraded in 2 waves of 5, at most 3 at once, soak 2 s): {:.1} s",
        took.as_secs_f64()
    );

    // Again on the nine upgraded tenants: nothing to do, and nothing is
    // called — AWS and Kubernetes point at a closed port, so any call would
    // fail the tenant.
    let closed = support::free_port();
    let dead_kubeconfig = w.dir.path().join("dead-kubeconfig");
    std::fs::write(
        &dead_kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: dead\nclusters:\n- name: dead\n  cluster: {{server: 'https://127.0.0.1:{closed}'}}\ncontexts:\n- name: dead\n  context: {{cluster: dead, user: dead}}\nusers:\n- name: dead\n  user: {{token: none}}\n"
        ),
    )
    .unwrap();
    let upgraded = names[1..].join(",");
    let started = Instant::now();
    let out = w
        .command(&[
            "rollout",
            "--stack",
            &w.stack(NEW),
            "--tenants",
            &upgraded,
            "--batch",
            "100%",
            "-o",
            "json",
        ])
        .env("KUBECONFIG", &dead_kubeconfig)
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{closed}"))
        .output()
        .unwrap();
    let took = started.elapsed();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "a no-change rollout succeeds without any API"
    );
    let third = report(&out);
    assert_eq!(third["status"], "succeeded");
    for t in &names[1..] {
        assert_eq!(outcomes(&third)[t], "unchanged", "{t}");
        assert_eq!(
            state.revisions(t).await.unwrap().len(),
            2,
            "{t}: no revision"
        );
    }
    eprintln!(
        "FIGURE: no-change rollout of 9 tenants with AWS and Kubernetes unreachable: {:.2} s, 0 API calls",
        took.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollout_killed_mid_way_resumes_and_upgrades_each_tenant_exactly_once() {
    let w = World::new();
    let client = client().await;
    let names = tenants("rollk");
    let _cleanup = Namespaces(names.clone());
    w.create(&names);
    let state = w.state().await;

    let mut child = w
        .command(&[
            "rollout",
            "--stack",
            &w.stack(NEW),
            "--tenants",
            "rollk-*",
            "--batch",
            "2",
            "--soak",
            "3s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Until some tenants are done and one is under way (or the driver has
    // ended, which fails below).
    let deadline = Instant::now() + Duration::from_secs(300);
    let id = loop {
        assert!(Instant::now() < deadline, "no progress within 5 minutes");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the rollout ended before it was killed"
        );
        if let Some(r) = state.rollouts().await.unwrap().first() {
            let rows = state.rollout_tenants(&r.id).await.unwrap();
            let done = rows.iter().filter(|t| t.status == T::Succeeded).count();
            let busy = rows
                .iter()
                .any(|t| matches!(t.status, T::Applying | T::Gating));
            if done >= 2 && busy {
                break r.id.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = state.rollout_tenants(&id).await.unwrap();
    eprintln!(
        "killed with: {:?}",
        at_kill
            .iter()
            .map(|t| (&t.tenant, t.status))
            .collect::<Vec<_>>()
    );
    assert!(
        at_kill.iter().any(|t| t.status == T::Pending),
        "some tenants were left to do"
    );

    let out = w.envctl(&["rollout", "resume", &id, "-o", "json"]);
    assert!(out.status.success(), "the resumed rollout succeeds");
    let done = report(&out);
    assert_eq!(done["status"], "succeeded");
    for t in &names {
        assert_eq!(outcomes(&done)[t], "succeeded", "{t}");
        let revs = state.revisions(t).await.unwrap();
        assert_eq!(
            revs.len(),
            2,
            "{t}: upgraded exactly once (revisions {:?})",
            revs.iter().map(|r| r.revision).collect::<Vec<_>>()
        );
        assert_eq!(tag_in(&revs[1].content_json), NEW, "{t}");
        assert_eq!(tag_of(&client, t).await, NEW, "{t}");
    }
}

/// `--service NAME --tag T` and `--catalog DIR` change each tenant's own
/// stack: a tenant created from another stack keeps its other resources,
/// a new catalog's added service appears everywhere, and a change that
/// concerns nobody or holds a bad tag is refused before anything is
/// recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tag_or_a_catalog_rolls_into_each_tenants_own_stack() {
    let w = World::new();
    let client = client().await;
    let names: Vec<String> = (0..3).map(|i| format!("rollc-{i}")).collect();
    let _cleanup = Namespaces(names.clone());
    // rollc-0 and rollc-1 from the stack, rollc-2 from a stack with one
    // more resource of its own.
    let own = w.dir.path().join(OLD).join("own.yaml");
    let mut text = std::fs::read_to_string(w.stack(OLD)).unwrap();
    text.push_str(
        "  - id: marker\n    kind: env.value\n    properties: { value: kept }\n    publish:\n      - { output: value, key: MARKER, level: tenant }\n",
    );
    std::fs::write(&own, text).unwrap();
    w.create(&names[..2]);
    let out = w.envctl(&[
        "create",
        "tenant",
        &names[2],
        "--stack",
        own.to_str().unwrap(),
        "--skip-preflight",
    ]);
    assert!(out.status.success());
    let state = w.state().await;

    // Refused before anything is recorded: a tag that is no version, a
    // service nobody runs, a stack together with a tag.
    for (args, says) in [
        (vec!["--service", "web", "--tag", "latest"], "latest"),
        (vec!["--service", "wbe", "--tag", NEW], "concerns none"),
        (
            vec!["--stack", "x.yaml", "--service", "web", "--tag", NEW],
            "cannot be used with",
        ),
    ] {
        let mut all = vec!["rollout", "--all"];
        all.extend(args);
        let out = w.envctl(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{all:?}: {err}");
    }
    assert!(
        state.rollouts().await.unwrap().is_empty(),
        "nothing recorded"
    );

    // One service's tag, into each tenant's stack.
    let out = w.envctl(&[
        "rollout",
        "--all",
        "--service",
        "web",
        "--tag",
        NEW,
        "--batch",
        "100%",
        "--soak",
        "1s",
        "-o",
        "json",
    ]);
    assert!(out.status.success());
    let r = report(&out);
    assert_eq!(r["status"], "succeeded");
    for t in &names {
        assert_eq!(outcomes(&r)[t], "succeeded", "{t}");
        assert_eq!(tag_of(&client, t).await, NEW, "{t}");
        let revs = state.revisions(t).await.unwrap();
        assert_eq!(revs.len(), 2, "{t}: one new revision");
        assert_eq!(tag_in(&revs[1].content_json), NEW, "{t}");
        let snap = Snapshot::from_json(&revs[1].content_json).unwrap();
        assert_eq!(
            snap.nodes.contains_key("marker"),
            t == &names[2],
            "{t}: its own stack is kept"
        );
    }

    // A new catalog: web at 3.0.0 and a second service.
    let next = w.dir.path().join("next-catalog");
    std::fs::create_dir_all(next.join("templates")).unwrap();
    for f in std::fs::read_dir(repo_root().join("blueprints/templates")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), next.join("templates").join(f.file_name())).unwrap();
    }
    let catalog = std::fs::read_to_string(
        repo_root().join("integration/stacks/rollout-catalog/catalog.yaml"),
    )
    .unwrap()
    .replace(&format!("tag: \"{OLD}\""), "tag: \"3.0.0\"")
        + "  - name: worker\n    image: registry.example.com/rollout/worker\n    tag: \"1.0.0\"\n";
    std::fs::write(next.join("catalog.yaml"), catalog).unwrap();
    let out = w.envctl(&[
        "rollout",
        "--all",
        "--catalog",
        next.to_str().unwrap(),
        "--batch",
        "100%",
        "--soak",
        "1s",
        "-o",
        "json",
    ]);
    assert!(out.status.success());
    assert_eq!(report(&out)["status"], "succeeded");
    for t in &names {
        assert_eq!(tag_of(&client, t).await, "3.0.0", "{t}");
        let worker = Api::<Deployment>::namespaced(client.clone(), t)
            .get_opt("worker")
            .await
            .unwrap();
        assert!(worker.is_some(), "{t}: the added service runs");
        let revs = state.revisions(t).await.unwrap();
        let snap = Snapshot::from_json(&revs[2].content_json).unwrap();
        assert!(snap.nodes.contains_key("svc-worker"), "{t}");
        assert_eq!(snap.nodes.contains_key("marker"), t == &names[2], "{t}");
    }

    // The same tag again: every tenant already holds it.
    let out = w.envctl(&[
        "rollout",
        "--all",
        "--service",
        "web",
        "--tag",
        "3.0.0",
        "-o",
        "json",
    ]);
    assert!(out.status.success());
    let again = report(&out);
    for t in &names {
        assert_eq!(outcomes(&again)[t], "unchanged", "{t}");
    }

    // The gate's HTTP check, against a server on loopback that answers 503
    // for one tenant: that tenant is rolled back, the others pass.
    let bad = names[1].clone();
    let url = health_server(bad.clone()).await;
    let check = format!("{url}/{{tenant}}/health");
    let out = w.envctl(&[
        "rollout",
        "--all",
        "--service",
        "web",
        "--tag",
        "4.0.0",
        "--http-check",
        &check,
        "--http-check-timeout",
        "5s",
        "--max-failures",
        "1",
        "--batch",
        "100%",
        "--soak",
        "1s",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "a tenant failed");
    let checked = report(&out);
    assert_eq!(checked["status"], "failed");
    for t in &names {
        let row = checked["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["tenant"] == t.as_str())
            .unwrap();
        let message = row["message"].as_str().unwrap();
        if t == &bad {
            assert_eq!(row["status"], "rolled_back", "{t}");
            assert!(message.contains("503"), "{t}: {message}");
            assert_eq!(
                tag_of(&client, t).await,
                "3.0.0",
                "{t}: back on the old tag"
            );
        } else {
            assert_eq!(row["status"], "succeeded", "{t}");
            assert!(message.contains("answered 2xx"), "{t}: {message}");
            assert_eq!(tag_of(&client, t).await, "4.0.0", "{t}");
        }
    }
}

/// A server on loopback answering `/<tenant>/health`: 503 for `bad`, 200
/// for every other tenant. Returns its base URL.
async fn health_server(bad: String) -> String {
    use axum::http::StatusCode;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/{tenant}/health",
        axum::routing::get(move |axum::extract::Path(t): axum::extract::Path<String>| {
            let bad = bad.clone();
            async move {
                if t == bad {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}
