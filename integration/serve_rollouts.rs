//! Rollouts through `envctl serve`: the real binary on loopback with a
//! private moto. Three tenants of a small stack get its next release
//! through `POST /api/rollouts` (operators only, audited), followed live
//! over server-sent events until the end; `/metrics` counts the tenants by
//! outcome; a second rollout of the same release changes nothing; bad
//! requests are refused with the field named, nothing recorded.

#[path = "support/serve_process.rs"]
mod serve_process;
#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use serve_process::ServeProcess;
use sha2::{Digest, Sha256};
use support::{Moto, repo_root};

const OLGA: &str = "olga-operator-token-0123456789abcdef";
const VIC: &str = "vic-viewer-token-0123456789abcdef";
const TENANTS: [&str; 3] = ["ro-api-a", "ro-api-b", "ro-api-c"];

fn sha(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The test stack at a release: one node whose property is the release.
fn stack(release: &str) -> String {
    format!(
        "stack: rollout-api\nenvironment: e2e\nresources:\n  - id: marker\n    kind: sim.delay\n    properties: {{ value: \"{release}\" }}\n"
    )
}

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
        for release in ["v1", "v2"] {
            std::fs::write(w.path(&format!("{release}.yaml")), stack(release)).unwrap();
        }
        let config = format!(
            "max_concurrent_runs: 3\nmax_ttl: 10d\ndefault_stack: v1\nstacks:\n  v1: {}\n  v2: {}\ntokens:\n  - {{ name: olga, role: operator, sha256: {} }}\n  - {{ name: vic, role: viewer, sha256: {} }}\n",
            w.path("v1.yaml").display(),
            w.path("v2.yaml").display(),
            sha(OLGA),
            sha(VIC),
        );
        std::fs::write(w.path("serve.yaml"), config).unwrap();
        w
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn serve(&self) -> ServeProcess {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("ENVCTL_STATE", self.path("state.sqlite"))
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-rollouts")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .args(["serve", "--config"])
            .arg(self.path("serve.yaml"));
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        ServeProcess::spawn(c)
    }
}

async fn call(
    s: &ServeProcess,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req =
        reqwest::Client::new().request(method.parse().unwrap(), format!("{}{path}", s.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Reads rollout `id`'s event stream until `end`; the event names in order
/// and the final rollout.
async fn follow(s: &ServeProcess, id: &str) -> (Vec<String>, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/rollouts/{id}/events", s.base))
        .bearer_auth(VIC)
        .send()
        .await
        .unwrap();
    support::sse::until_end(resp, Duration::from_secs(300)).await
}

/// Waits (by the tenant's own state, through the API) until it is ready.
async fn wait_ready(s: &ServeProcess, name: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (_, t) = call(s, Some(VIC), "GET", &format!("/api/tenants/{name}"), None).await;
        match t["status"].as_str() {
            Some("ready") => return,
            Some("failed") => panic!("tenant {name} failed: {t}"),
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never ready: {t}"
        );
        // Polling the condition above; nothing about timing is asserted.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `name{labels} value` of the exposition, read with the text format's
/// own rules (`# ` lines are metadata).
fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

fn outcome_counts(rollout: &Value) -> Vec<(String, String)> {
    rollout["tenants"]
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

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_rolls_a_release_out_through_the_api_and_follows_it_live() {
    let w = World::new();
    let s = w.serve();
    for name in TENANTS {
        let (status, body) = call(
            &s,
            Some(OLGA),
            "POST",
            "/api/tenants",
            Some(json!({ "name": name, "stack": "v1" })),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    for name in TENANTS {
        wait_ready(&s, name).await;
    }

    // A viewer may look, not start: refused, audited, nothing recorded.
    let start = json!({ "stack": "v2", "all": true, "canary": 1, "batch": "2", "soak_seconds": 0 });
    let (status, body) = call(&s, Some(VIC), "POST", "/api/rollouts", Some(start.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Bad requests name the field; nothing is recorded.
    for (bad, field) in [
        (json!({ "stack": "v9", "all": true }), "stack"),
        (
            json!({ "stack": "v2", "all": true, "tenants": "ro-api-a" }),
            "tenants",
        ),
        (json!({ "stack": "v2", "tenants": "nobody-*" }), "tenants"),
        (
            json!({ "stack": "v2", "all": true, "allow_replace": ["db"] }),
            "allow_replace",
        ),
        (
            json!({ "stack": "v2", "all": true, "max_unavailable": 0 }),
            "max_unavailable",
        ),
        // These tenants run no catalog: a tag rollout concerns none.
        (
            json!({ "service": "web", "tag": "2.0.0", "all": true }),
            "runs no service catalog",
        ),
        (
            json!({ "stack": "v2", "service": "web", "tag": "2.0.0", "all": true }),
            "stack, service, tag",
        ),
        (
            json!({ "tag": "2.0.0", "all": true }),
            "stack, service, tag",
        ),
        (
            json!({ "stack": "v2", "all": true, "http_check_url": "app.{tenant}.example.com" }),
            "http_check_url",
        ),
        (
            json!({ "stack": "v2", "all": true, "http_check_timeout_seconds": 5 }),
            "http_check_timeout_seconds",
        ),
    ] {
        let (status, body) = call(&s, Some(OLGA), "POST", "/api/rollouts", Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(field),
            "{bad}: {body}"
        );
    }
    let (_, list) = call(&s, Some(VIC), "GET", "/api/rollouts", None).await;
    assert_eq!(list["rollouts"], json!([]), "{list}");

    // The operator's rollout: a canary, then one batch of two.
    let (status, planned) =
        call(&s, Some(OLGA), "POST", "/api/rollouts", Some(start.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{planned}");
    let id = planned["id"].as_str().unwrap().to_string();
    let waves: Vec<i64> = planned["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["wave"].as_i64().unwrap())
        .collect();
    assert_eq!(waves, [0, 1, 1], "{planned}");
    let (names, end) = follow(&s, &id).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert!(names.iter().any(|n| n == "snapshot"), "{names:?}");
    for t in end["tenants"].as_array().unwrap() {
        assert_eq!(t["status"], "succeeded", "{end}");
        assert_eq!(
            t["to_revision"].as_i64(),
            t["from_revision"].as_i64().map(|r| r + 1),
            "{end}"
        );
    }
    let (_, page) = call(&s, Some(VIC), "GET", &format!("/api/rollouts/{id}"), None).await;
    assert_eq!(page["status"], "succeeded");
    assert_eq!(page["driven_here"], false, "the driver is done: {page}");

    // The same release again changes nothing: every tenant unchanged.
    let (status, again) = call(&s, Some(OLGA), "POST", "/api/rollouts", Some(start)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    let (_, end) = follow(&s, again["id"].as_str().unwrap()).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert!(
        outcome_counts(&end).iter().all(|(_, s)| s == "unchanged"),
        "{end}"
    );

    // Counted by outcome in /metrics.
    let (_, metrics) = call(&s, None, "GET", "/metrics", None).await;
    let metrics = metrics.as_str().unwrap();
    assert_eq!(
        sample(
            metrics,
            r#"envctl_rollout_tenants_total{outcome="succeeded"}"#
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            metrics,
            r#"envctl_rollout_tenants_total{outcome="unchanged"}"#
        ),
        Some(3.0),
        "{metrics}"
    );

    // Audited: the refusal, the start and the end.
    let (_, audit) = call(&s, Some(OLGA), "GET", "/api/audit?limit=200", None).await;
    let has = |actor: &str, action: &str, target: &str, result: &str| {
        audit["entries"].as_array().unwrap().iter().any(|e| {
            e["actor"] == actor
                && e["action"] == action
                && (target.is_empty() || e["target"] == target)
                && e["result"] == result
        })
    };
    assert!(has("vic", "rollout.start", "v2", "denied"), "{audit}");
    assert!(has("olga", "rollout.start", &id, "accepted"), "{audit}");
    assert!(has("olga", "rollout.end", &id, "succeeded"), "{audit}");

    // Pausing a rollout that is over is a conflict, not a change.
    let (status, body) = call(
        &s,
        Some(OLGA),
        "POST",
        &format!("/api/rollouts/{id}/pause"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}
