//! `envctl serve` end to end: the real binary on loopback, a private moto,
//! and HTTP requests from outside. Covers every endpoint, the OpenAPI
//! document against the routes, 401/403 per role, the audit log, TTL
//! extension rules, live progress, metrics, resuming after a crash, and
//! secrets never leaving the value store.

#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{Moto, repo_root};

const OLGA: &str = "olga-operator-token-0123456789abcdef";
const SAM: &str = "sam-requester-token-0123456789abcdef";
const RITA: &str = "rita-requester-token-0123456789abcdef";
const VIC: &str = "vic-viewer-token-0123456789abcdef";

fn sha(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A moto, a state file and a configuration; servers come and go on it.
struct World {
    moto: Moto,
    dir: tempfile::TempDir,
}

/// One `envctl serve` process; killed on drop.
struct Server {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl World {
    fn new() -> World {
        World::with_config("")
    }

    /// A world whose server configuration has `extra` appended.
    fn with_config(extra: &str) -> World {
        let w = World {
            moto: Moto::start(),
            dir: tempfile::tempdir().unwrap(),
        };
        let config = format!(
            "max_concurrent_runs: 2\nmax_ttl: 10d\ndefault_stack: aws-basic\nstacks:\n  aws-basic: {}\n  slow: {}\ntokens:\n  - {{ name: olga, role: operator, sha256: {} }}\n  - {{ name: sam, role: requester, sha256: {} }}\n  - {{ name: rita, role: requester, sha256: {} }}\n  - {{ name: vic, role: viewer, sha256: {} }}\n",
            repo_root()
                .join("integration/stacks/aws-basic.yaml")
                .display(),
            repo_root().join("integration/stacks/slow.yaml").display(),
            sha(OLGA),
            sha(SAM),
            sha(RITA),
            sha(VIC)
        ) + extra;
        std::fs::write(w.config_path(), config).unwrap();
        w
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("serve.yaml")
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
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-serve")
            .env(
                "RUST_LOG",
                "debug,aws_config=warn,aws_smithy_runtime=warn,hyper=info",
            )
            .stdin(Stdio::null());
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        c
    }

    fn serve(&self) -> Server {
        let mut child = self
            .command()
            .args(["serve", "--config"])
            .arg(self.config_path())
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start envctl serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = BufReader::new(child.stderr.take().unwrap());
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                if let Some(url) = line.split("listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("server did not start:\n{}", stderr.lock().unwrap()));
        Server {
            child,
            base,
            stderr,
        }
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let client = reqwest::Client::new();
        let mut req = client.request(method.to_uppercase().parse().unwrap(), self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    async fn ok(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(Some(token), method, path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }

    /// Follows a run's event stream to its end; returns the event names in
    /// order and the final run.
    async fn follow(&self, token: &str, run_id: &str) -> (Vec<String>, Value) {
        let resp = reqwest::Client::new()
            .get(self.url(&format!("/api/runs/{run_id}/events")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        support::sse::until_end(resp, Duration::from_secs(300)).await
    }

    /// Polls the tenant until `cond` holds (or fails after 5 minutes).
    async fn wait_tenant(&self, name: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (status, v) = self
                .call(Some(OLGA), "GET", &format!("/api/tenants/{name}"), None)
                .await;
            if status == StatusCode::OK && cond(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "tenant {name} never got {what}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn audit_has(entries: &Value, actor: &str, action: &str, target: &str, result: &str) -> bool {
    entries["entries"].as_array().unwrap().iter().any(|e| {
        e["actor"] == actor
            && e["action"] == action
            && e["target"] == target
            && e["result"] == result
    })
}

#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let w = World::new();
    let s = w.serve();
    let (status, doc) = s.call(None, "GET", "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations.push(format!("{} {path}", method.to_uppercase()));
            // Every documented operation is routed: called without a token
            // it answers with one of its documented statuses (never 404/405
            // for want of a route).
            let concrete = path.replace("{name}", "nosuch").replace("{id}", "nosuch");
            let body = (method == "post").then(|| json!({}));
            let (status, v) = s.call(None, method, &concrete, body).await;
            let documented: Vec<u16> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.parse().unwrap())
                .collect();
            let body_rejected = matches!(status.as_u16(), 400 | 415 | 422) && method == "post";
            assert!(
                documented.contains(&status.as_u16()) || body_rejected,
                "{method} {path}: {status} is not among {documented:?}: {v}"
            );
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }
    operations.sort();
    let mut expected = vec![
        "DELETE /api/tenants/{name}",
        "GET /",
        "GET /api/costs",
        "GET /api/openapi.json",
        "GET /api/pools",
        "GET /assets/app.js",
        "GET /assets/style.css",
        "POST /api/tenants/{name}/hibernate",
        "POST /api/tenants/{name}/wake",
        "GET /api/audit",
        "GET /api/runs/{id}",
        "GET /api/runs/{id}/events",
        "GET /api/runs/{id}/timeline.svg",
        "GET /api/stacks",
        "GET /api/tenants",
        "GET /api/tenants/{name}",
        "GET /api/tenants/{name}/drift",
        "GET /api/whoami",
        "GET /healthz",
        "GET /metrics",
        "POST /api/login",
        "POST /api/logout",
        "POST /api/reap",
        "POST /api/tenants",
        "POST /api/tenants/{name}/extend",
        "POST /api/tenants/{name}/protect",
        "GET /api/rollouts",
        "POST /api/rollouts",
        "GET /api/rollouts/{id}",
        "GET /api/rollouts/{id}/events",
        "POST /api/rollouts/{id}/pause",
        "POST /api/rollouts/{id}/resume",
        "POST /api/rollouts/{id}/abort",
    ];
    expected.sort();
    assert_eq!(operations, expected, "the document and the routes differ");
    // And an undocumented path is not served.
    let (status, _) = s.call(Some(OLGA), "GET", "/api/nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn roles_are_enforced_and_every_change_is_audited() {
    let w = World::new();
    let s = w.serve();
    // 401: no token, a wrong token, a broken header.
    for token in [None, Some("not-a-token")] {
        let (status, v) = s.call(token, "GET", "/api/tenants", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
        assert!(
            v["error"].as_str().unwrap().contains("token")
                || v["error"].as_str().unwrap().contains("sign in")
        );
    }
    let (status, _) = s
        .call(None, "POST", "/api/tenants", Some(json!({"name": "x"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.ok(VIC, "GET", "/api/whoami", None).await,
        json!({"name": "vic", "role": "viewer"})
    );

    // A viewer reads but may not change anything.
    s.ok(VIC, "GET", "/api/tenants", None).await;
    let (status, v) = s
        .call(
            Some(VIC),
            "POST",
            "/api/tenants",
            Some(json!({"name": "vic-one"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, _) = s
        .call(
            Some(VIC),
            "POST",
            "/api/reap",
            Some(json!({"dry_run": true})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // sam (requester) makes a tenant; rita (another requester) may not touch it.
    let (status, v) = s
        .call(
            Some(SAM),
            "POST",
            "/api/tenants",
            Some(json!({"name": "sam-demo", "ttl": "2d", "note": "demo for Initech"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["tenant"]["owner"], "sam");
    let run = v["run"]["id"].as_str().unwrap().to_string();
    let (events, end) = s.follow(SAM, &run).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(events.first().map(String::as_str), Some("snapshot"));
    assert!(events.iter().any(|e| e == "log"), "{events:?}");

    for (token, method, path, body) in [
        (
            RITA,
            "POST",
            "/api/tenants/sam-demo/extend",
            Some(json!({"by": "1d"})),
        ),
        (RITA, "DELETE", "/api/tenants/sam-demo", None),
        (
            VIC,
            "POST",
            "/api/tenants/sam-demo/extend",
            Some(json!({"by": "1d"})),
        ),
        (
            SAM,
            "POST",
            "/api/tenants/sam-demo/protect",
            Some(json!({"protected": true})),
        ),
        (VIC, "DELETE", "/api/tenants/sam-demo", None),
    ] {
        let (status, v) = s.call(Some(token), method, path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {v}");
        assert!(!v["error"].as_str().unwrap().is_empty());
    }
    // The owner extends; an operator protects.
    s.ok(
        SAM,
        "POST",
        "/api/tenants/sam-demo/extend",
        Some(json!({"by": "1d"})),
    )
    .await;
    let t = s
        .ok(
            OLGA,
            "POST",
            "/api/tenants/sam-demo/protect",
            Some(json!({"protected": true})),
        )
        .await;
    assert_eq!(t["protected"], true);
    let (status, v) = s
        .call(Some(OLGA), "DELETE", "/api/tenants/sam-demo", None)
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a protected tenant is not destroyed: {v}"
    );
    assert!(v["error"].as_str().unwrap().contains("protected"), "{v}");

    let audit = s.ok(VIC, "GET", "/api/audit?limit=1000", None).await;
    for (actor, action, target, result) in [
        ("vic", "create", "vic-one", "denied"),
        ("vic", "reap", "-", "denied"),
        ("sam", "create", "sam-demo", "accepted"),
        ("rita", "extend", "sam-demo", "denied"),
        ("rita", "destroy", "sam-demo", "denied"),
        ("sam", "protect", "sam-demo", "denied"),
        ("sam", "extend", "sam-demo", "accepted"),
        ("olga", "protect", "sam-demo", "accepted"),
    ] {
        assert!(
            audit_has(&audit, actor, action, target, result),
            "no audit entry {actor} {action} {target} {result}:\n{audit:#}"
        );
    }
    let first = &audit["entries"][0];
    assert!(
        first["at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
}

#[tokio::test]
async fn create_watch_extend_and_destroy_through_the_api() {
    let w = World::new();
    let s = w.serve();
    let stacks = s.ok(SAM, "GET", "/api/stacks", None).await;
    assert_eq!(stacks["default"], "aws-basic");
    assert_eq!(stacks["max_ttl"], "10d");

    // Bad input: 400 naming the field, and nothing is created.
    for (body, want) in [
        (json!({"name": "Bad_Name"}), "name: invalid tenant name"),
        (
            json!({"name": "ok-name", "stack": "huge"}),
            "stack: 'huge' is not offered here; choose one of aws-basic, slow",
        ),
        (
            json!({"name": "ok-name", "ttl": "30d"}),
            "ttl: must be more than 0 and at most 10d",
        ),
        (json!({"name": "ok-name", "ttl": "soon"}), "ttl 'soon'"),
        (json!({"name": "ok-name", "colour": "red"}), "unknown field"),
    ] {
        let (status, v) = s
            .call(Some(SAM), "POST", "/api/tenants", Some(body.clone()))
            .await;
        assert!(matches!(status.as_u16(), 400 | 422), "{body}: {status} {v}");
        let msg = v
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| v["error"].as_str().unwrap_or_default().to_string());
        assert!(msg.contains(want), "{body}: {msg}");
    }
    assert_eq!(
        s.ok(SAM, "GET", "/api/tenants", None).await["tenants"],
        json!([])
    );

    // Create, and follow it live.
    let t0 = Instant::now();
    let v = s
        .ok(
            SAM,
            "POST",
            "/api/tenants",
            Some(json!({"name": "web-1", "ttl": "1d"})),
        )
        .await;
    let run = v["run"]["id"].as_str().unwrap().to_string();
    assert!(matches!(
        v["run"]["status"].as_str(),
        Some("queued" | "running")
    ));
    let (_, end) = s.follow(SAM, &run).await;
    eprintln!("create through the API took {:?}", t0.elapsed());
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(end["progress"]["done"], end["progress"]["total"]);
    assert!(end["progress"]["total"].as_u64().unwrap() > 5);
    let detail = s.ok(SAM, "GET", "/api/tenants/web-1", None).await;
    assert_eq!(detail["status"], "ready");
    assert_eq!(detail["owner"], "sam");
    assert_eq!(detail["report"]["verdict"], "within_budget");
    assert_eq!(detail["runs"][0]["id"], run.as_str());
    let svg = reqwest::Client::new()
        .get(s.url(&format!("/api/runs/{run}/timeline.svg")))
        .bearer_auth(SAM)
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().starts_with("<svg"));
    let (status, _) = s
        .call(
            Some(SAM),
            "POST",
            "/api/tenants",
            Some(json!({"name": "web-1"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a ready tenant is not created twice"
    );

    // Extend: later, never beyond max_ttl, never by nothing.
    let before: jiff::Timestamp = detail["expires_at"].as_str().unwrap().parse().unwrap();
    let t = s
        .ok(
            SAM,
            "POST",
            "/api/tenants/web-1/extend",
            Some(json!({"by": "2d"})),
        )
        .await;
    let after: jiff::Timestamp = t["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        after.duration_since(before),
        jiff::SignedDuration::from_hours(48)
    );
    for (by, want) in [
        ("0s", "longer than zero"),
        ("9d", "more than 10d from now"),
        ("a while", "by 'a while'"),
    ] {
        let (status, v) = s
            .call(
                Some(SAM),
                "POST",
                "/api/tenants/web-1/extend",
                Some(json!({"by": by})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{by}: {v}");
        assert!(v["error"].as_str().unwrap().contains(want), "{by}: {v}");
    }
    let (status, _) = s
        .call(
            Some(SAM),
            "POST",
            "/api/tenants/nosuch/extend",
            Some(json!({"by": "1d"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Metrics so far.
    let (_, metrics) = s.call(None, "GET", "/metrics", None).await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains(r#"envctl_runs_total{operation="create",outcome="succeeded"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("envctl_tenants_alive 1"), "{metrics}");

    // Destroy: the owner may.
    let v = s.ok(SAM, "DELETE", "/api/tenants/web-1", None).await;
    let (_, end) = s.follow(SAM, v["run"]["id"].as_str().unwrap()).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(
        s.ok(SAM, "GET", "/api/tenants/web-1", None).await["status"],
        "destroyed"
    );
    let (status, _) = s
        .call(
            Some(SAM),
            "POST",
            "/api/tenants/web-1/extend",
            Some(json!({"by": "1d"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, metrics) = s.call(None, "GET", "/metrics", None).await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains(r#"envctl_runs_total{operation="destroy",outcome="succeeded"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("envctl_tenants_alive 0"), "{metrics}");
    assert!(
        metrics.contains("envctl_run_duration_seconds_count{operation=\"create\"} 1"),
        "{metrics}"
    );

    // Nothing tagged for the tenant is left (checked with the SDK, not envctl).
    let s3 = aws_sdk_s3::Client::new(&w.moto.sdk_config());
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(
        buckets
            .buckets()
            .iter()
            .all(|b| !b.name().unwrap_or_default().contains("web-1")),
        "a bucket of web-1 is left"
    );
}

#[tokio::test]
async fn the_page_logs_in_with_a_cookie_and_serves_its_assets() {
    let w = World::new();
    let s = w.serve();
    let client = reqwest::Client::new();
    for (path, ctype) in [
        ("/", "text/html"),
        ("/assets/app.js", "text/javascript"),
        ("/assets/style.css", "text/css"),
    ] {
        let r = client.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ctype),
            "{path}"
        );
        assert!(!r.text().await.unwrap().is_empty());
    }
    let r = client
        .post(s.url("/api/login"))
        .json(&json!({"token": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client
        .post(s.url("/api/login"))
        .json(&json!({"token": OLGA}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(OLGA),
        "the cookie must not carry the token"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP here: {cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let me: Value = client
        .get(s.url("/api/whoami"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me, json!({"name": "olga", "role": "operator"}));
    let r = client
        .post(s.url("/api/logout"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = client
        .get(s.url("/api/whoami"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the session ended with the logout"
    );
    let audit = s.ok(OLGA, "GET", "/api/audit", None).await;
    assert!(audit_has(&audit, "anonymous", "login", "-", "denied"));
    assert!(audit_has(&audit, "olga", "login", "-", "accepted"));
}

#[tokio::test]
async fn a_restarted_server_resumes_the_run_it_was_killed_in() {
    let w = World::new();
    let s = w.serve();
    let v = s
        .ok(
            OLGA,
            "POST",
            "/api/tenants",
            Some(json!({"name": "crash", "stack": "slow"})),
        )
        .await;
    let first_run = v["run"]["id"].as_str().unwrap().to_string();
    // Kill it once the run has made its first bucket, before it is done.
    s.wait_tenant("crash", "bucket `first` made", |t| {
        t["active_run"]["progress"]["nodes"]
            .as_array()
            .is_some_and(|nodes| {
                nodes
                    .iter()
                    .any(|n| n["id"] == "first" && n["state"] == "succeeded")
            })
    })
    .await;
    drop(s); // SIGKILL
    let s = w.serve();
    let t = s
        .wait_tenant("crash", "ready", |t| t["status"] == "ready")
        .await;
    let runs = t["runs"].as_array().unwrap();
    assert_eq!(runs[0]["id"], first_run.as_str());
    assert_eq!(runs[0]["status"], "interrupted", "{t:#}");
    assert_eq!(runs.last().unwrap()["status"], "succeeded", "{t:#}");
    let audit = s.ok(OLGA, "GET", "/api/audit", None).await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "resume-create" && e["target"] == "crash"),
        "{audit:#}"
    );
    // The resumed run skipped what the first had finished.
    assert!(
        t["report"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == "first" && n["status"] == "skipped"),
        "{t:#}"
    );
}

/// Reads one value-store object with the SDK (not through envctl).
async fn stored_value(w: &World, key: &str) -> String {
    let s3 = aws_sdk_s3::Client::new(&w.moto.sdk_config());
    let o = s3
        .get_object()
        .bucket("envctl-values-serve")
        .key(key)
        .send()
        .await
        .unwrap();
    String::from_utf8(o.body.collect().await.unwrap().to_vec()).unwrap()
}

#[tokio::test]
async fn secrets_never_reach_the_api_the_server_log_or_the_state() {
    let w = World::new();
    let s = w.serve();
    let v = s
        .ok(OLGA, "POST", "/api/tenants", Some(json!({"name": "sec"})))
        .await;
    let run = v["run"]["id"].as_str().unwrap().to_string();
    let (_, end) = s.follow(OLGA, &run).await;
    assert_eq!(end["status"], "succeeded");
    let mut seen = String::new();
    for path in [
        "/api/tenants",
        "/api/tenants/sec",
        "/api/audit",
        &format!("/api/runs/{run}"),
    ] {
        seen.push_str(&s.ok(OLGA, "GET", path, None).await.to_string());
    }
    let (_, sse) = s.follow(OLGA, &run).await;
    seen.push_str(&sse.to_string());
    let secrets = [
        stored_value(&w, "dev/sec/common/SESSION_SECRET").await,
        stored_value(&w, "dev/sec/webhooks/WEBHOOK_SIGNING_KEY").await,
    ];
    let d = s.ok(OLGA, "DELETE", "/api/tenants/sec", None).await;
    s.follow(OLGA, d["run"]["id"].as_str().unwrap()).await;
    seen.push_str(&s.stderr.lock().unwrap());
    let mut state = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", w.state_path().display())) {
            state.extend(b);
        }
    }
    for token in [OLGA, SAM] {
        assert!(!seen.contains(token), "a token reached the output");
        assert!(
            !state.windows(token.len()).any(|w| w == token.as_bytes()),
            "a token reached the state"
        );
    }
    for secret in &secrets {
        assert!(secret.len() >= 32);
        assert!(
            !seen.contains(secret.as_str()),
            "a secret reached the API or the log"
        );
        assert!(
            !state.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret reached the state"
        );
    }
    assert!(seen.contains("sec"), "the check read something");
}

#[tokio::test]
async fn a_bad_configuration_exits_2_naming_the_place() {
    let w = World::new();
    std::fs::write(w.config_path(), "stacks: { x: nope.yaml }\ntokens: []\n").unwrap();
    let out = w
        .command()
        .args(["serve", "--config"])
        .arg(w.config_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("serve.yaml") && err.contains("stacks.x"),
        "{err}"
    );
}

#[tokio::test]
async fn the_scheduled_reaper_destroys_an_expired_tenant_and_spares_a_protected_one() {
    // Every two seconds (croner takes an optional seconds field).
    let w = World::with_config("reaper: { schedule: \"*/2 * * * * *\" }\n");
    let s = w.serve();
    for name in ["brief", "kept"] {
        let v = s
            .ok(
                SAM,
                "POST",
                "/api/tenants",
                Some(json!({"name": name, "stack": "slow", "ttl": "3s"})),
            )
            .await;
        let (_, end) = s.follow(SAM, v["run"]["id"].as_str().unwrap()).await;
        assert_eq!(end["status"], "succeeded", "{end}");
    }
    s.ok(
        OLGA,
        "POST",
        "/api/tenants/kept/protect",
        Some(json!({"protected": true})),
    )
    .await;
    s.wait_tenant("brief", "destroyed by the reaper", |t| {
        t["status"] == "destroyed"
    })
    .await;
    // Wait for a pass that has seen `kept` expired too.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, metrics) = s.call(None, "GET", "/metrics", None).await;
        if metrics
            .as_str()
            .unwrap()
            .contains(r#"envctl_reaper_actions_total{action="protected_skipped"}"#)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no reaper pass skipped the protected tenant: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let kept = s.ok(OLGA, "GET", "/api/tenants/kept", None).await;
    assert_eq!(
        kept["status"], "ready",
        "a protected tenant is never reaped"
    );
    let audit = s.ok(OLGA, "GET", "/api/audit?limit=1000", None).await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "schedule"
                && e["action"] == "reap"
                && e["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("destroyed=1")),
        "{audit:#}"
    );
    let (_, metrics) = s.call(None, "GET", "/metrics", None).await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains(r#"envctl_reaper_actions_total{action="destroyed"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_run_of_the_cli_is_followed_live_through_the_state() {
    let w = World::new();
    let s = w.serve();
    // The CLI, on the same state, runs a create the server did not start.
    let mut cli = w
        .command()
        .args([
            "create",
            "tenant",
            "by-cli",
            "--stack",
            "integration/stacks/slow.yaml",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = s
        .wait_tenant("by-cli", "a run in the state", |t| {
            t["runs"].as_array().is_some_and(|r| !r.is_empty())
        })
        .await;
    assert_eq!(
        t["runs"][0]["status"], "running",
        "caught before the end: {t}"
    );
    let run = t["runs"][0]["id"].as_str().unwrap().to_string();
    let (events, end) = s.follow(OLGA, &run).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert!(
        events.len() >= 3,
        "a snapshot when it started, one when it finished, the end: {events:?}"
    );
    assert!(cli.wait().unwrap().success());
}
