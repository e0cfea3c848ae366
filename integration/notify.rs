//! Webhook notifications end to end: the real `envctl serve` on loopback
//! with a private moto, and a receiver in the test (an axum server on
//! 127.0.0.1:0) that records every request and answers as each case scripts
//! it. Covers the JSON and Slack bodies, retries (5xx, 429 with
//! Retry-After), no retry on 400, the audit entries, deduplication across a
//! second replica and a restart on a shared PostgreSQL, expiry warnings
//! (once per distance, again after an extension), and the webhook URL —
//! a secret — never appearing in logs, the audit log, metrics, the API or
//! the state store.

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/serve_process.rs"]
mod serve_process;
#[path = "support/mod.rs"]
mod support;

use std::collections::{HashMap, VecDeque};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use postgres::PgDatabase;
use serde_json::{Value, json};
use serve_process::ServeProcess;
use sha2::{Digest, Sha256};
use support::Moto;

const OLGA: &str = "olga-operator-token-0123456789abcdef";
/// The secret parts of the webhook URLs: none may leave the server.
const TOKENS: [&str; 5] = [
    "T0JSONxSECRETx1111",
    "T0SLACKxSECRETx2222",
    "T0FLAKYxSECRETx3333",
    "T0REFUSEDxSECRETx4444",
    "T0LIMITEDxSECRETx5555",
];
const WAIT: Duration = Duration::from_secs(120);

// ---- the receiver -------------------------------------------------------------

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    body: Value,
    at: Instant,
}

#[derive(Default)]
struct Inbox {
    got: Vec<Received>,
    /// Scripted answers per path (status, Retry-After); 200 once used up.
    script: HashMap<String, VecDeque<(u16, Option<&'static str>)>>,
}

#[derive(Clone)]
struct Receiver {
    base: String,
    inbox: Arc<Mutex<Inbox>>,
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    uri: Uri,
    body: String,
) -> (StatusCode, HeaderMap, &'static str) {
    let mut inbox = inbox.lock().unwrap();
    let path = uri.path().to_string();
    let answer = inbox
        .script
        .get_mut(&path)
        .and_then(VecDeque::pop_front)
        .unwrap_or((200, None));
    inbox.got.push(Received {
        path,
        body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
        at: Instant::now(),
    });
    let mut headers = HeaderMap::new();
    if let Some(after) = answer.1 {
        headers.insert("retry-after", after.parse().unwrap());
    }
    let text = if answer.0 == 200 {
        "ok"
    } else {
        "invalid_payload"
    };
    (StatusCode::from_u16(answer.0).unwrap(), headers, text)
}

impl Receiver {
    async fn start() -> Receiver {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let app = axum::Router::new()
            .fallback(axum::routing::post(receive))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { base, inbox }
    }

    /// The URL of a hook at `/services/<kind>/<token>`.
    fn url(&self, kind: &str, token: &str) -> String {
        format!("{}/services/{kind}/{token}", self.base)
    }

    fn script(&self, kind: &str, token: &str, answers: &[(u16, Option<&'static str>)]) {
        self.inbox.lock().unwrap().script.insert(
            format!("/services/{kind}/{token}"),
            answers.iter().copied().collect(),
        );
    }

    /// The requests to hook `kind` whose body is about `event` (either
    /// body: the JSON's `event`, or a Slack text that mentions `tenant`).
    fn got(&self, kind: &str, pick: impl Fn(&Value) -> bool) -> Vec<Received> {
        let prefix = format!("/services/{kind}/");
        self.inbox
            .lock()
            .unwrap()
            .got
            .iter()
            .filter(|r| r.path.starts_with(&prefix) && pick(&r.body))
            .cloned()
            .collect()
    }

    async fn wait_for(&self, kind: &str, n: usize, pick: impl Fn(&Value) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.got(kind, &pick);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "hook {kind} got {} of {n} expected requests: {:?}",
                got.len(),
                self.inbox.lock().unwrap().got
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn event_is(name: &'static str, tenant: &'static str) -> impl Fn(&Value) -> bool {
    move |b| b["event"] == name && b["tenant"] == tenant
}

// ---- the server -----------------------------------------------------------------

/// A moto, stacks, a state and a configuration with webhooks.
struct World {
    moto: Moto,
    dir: tempfile::TempDir,
    state: String,
}

/// A running server and what it logged.
struct Server(ServeProcess);

const QUICK: &str = "stack: quick\nenvironment: dev\nttl: 1d\nresources:\n  - { id: pause, kind: sim.delay, properties: { duration: 100ms } }\n";
const BROKEN: &str = "stack: broken\nenvironment: dev\nresources:\n  - { id: broken, kind: sim.delay, properties: { fail: true } }\n";

impl World {
    /// `notifications` is the YAML of the section; `state` a location (a
    /// PostgreSQL URL) or None for a SQLite file in the world's directory.
    fn new(notifications: &str, state: Option<String>) -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("quick.yaml"), QUICK).unwrap();
        std::fs::write(dir.path().join("broken.yaml"), BROKEN).unwrap();
        let config = format!(
            "max_ttl: 10d\ndefault_stack: quick\nstacks: {{ quick: quick.yaml, broken: broken.yaml }}\ntokens: [{{ name: olga, role: operator, sha256: {} }}]\nnotifications:\n{notifications}",
            hex::encode(Sha256::digest(OLGA.as_bytes()))
        );
        std::fs::write(dir.path().join("serve.yaml"), config).unwrap();
        let state = state.unwrap_or_else(|| dir.path().join("state.sqlite").display().to_string());
        World {
            moto: Moto::start(),
            dir,
            state,
        }
    }

    /// `envctl` on the world's state and moto.
    fn envctl(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("ENVCTL_STATE", &self.state)
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-notify")
            // Everything the server logs, so that a leak would show.
            .env("RUST_LOG", "debug,aws_config=warn,aws_smithy_runtime=warn")
            .stdin(Stdio::null());
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        c
    }

    /// `envctl serve` with the world's configuration.
    fn command(&self) -> Command {
        let mut c = self.envctl();
        c.args(["serve", "--config"])
            .arg(self.dir.path().join("serve.yaml"));
        c
    }

    fn serve(&self) -> Server {
        Server(ServeProcess::spawn(self.command()))
    }
}

impl Server {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> String {
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{}{path}", self.0.base))
            .bearer_auth(OLGA);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        text
    }

    async fn json(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        serde_json::from_str(&self.call(method, path, body).await).unwrap()
    }

    /// Creates `name` from `stack`; returns the run id once it has ended.
    async fn create(&self, name: &str, stack: &str, ttl: &str) -> String {
        let v = self
            .json(
                "POST",
                "/api/tenants",
                Some(json!({"name": name, "stack": stack, "ttl": ttl})),
            )
            .await;
        let run = v["run"]["id"].as_str().unwrap().to_string();
        let deadline = Instant::now() + WAIT;
        loop {
            let r = self.json("GET", &format!("/api/runs/{run}"), None).await;
            if r["finished_at"].is_string() {
                return run;
            }
            assert!(Instant::now() < deadline, "run {run} did not end: {r}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The notifier's audit entries whose detail names `webhook`.
    async fn audited(&self, webhook: &str) -> Vec<Value> {
        let v = self.json("GET", "/api/audit?limit=1000", None).await;
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["action"] == "notify"
                    && e["detail"]
                        .as_str()
                        .is_some_and(|d| d.starts_with(&format!("webhook {webhook}:")))
            })
            .cloned()
            .collect()
    }

    /// Waits until `webhook` has `n` audit entries; returns them.
    async fn wait_audited(&self, webhook: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.audited(webhook).await;
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "webhook {webhook}: {} of {n} audit entries",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The value of one `envctl_notifications_total` series (0 if absent).
    async fn counted(&self, event: &str, outcome: &str) -> u64 {
        let text = self.call("GET", "/metrics", None).await;
        let series =
            format!("envctl_notifications_total{{event=\"{event}\",outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .map_or(0, |n| n.trim().parse().unwrap())
    }

    async fn wait_counted(&self, event: &str, outcome: &str, n: u64) {
        let deadline = Instant::now() + WAIT;
        while self.counted(event, outcome).await < n {
            assert!(
                Instant::now() < deadline,
                "{event}/{outcome} never reached {n}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Asserts that no secret part of a webhook URL is in `text`.
fn assert_no_token(place: &str, text: &str) {
    for t in TOKENS {
        assert!(
            !text.contains(t),
            "a webhook URL's token leaked into {place}"
        );
    }
}

/// Everything the server shows: the API, the metrics, the audit log, its log.
async fn assert_nothing_leaked(s: &Server, tenants: &[&str]) {
    for path in [
        "/api/tenants",
        "/api/audit?limit=1000",
        "/metrics",
        "/api/stacks",
    ] {
        assert_no_token(path, &s.call("GET", path, None).await);
    }
    for t in tenants {
        assert_no_token(t, &s.call("GET", &format!("/api/tenants/{t}"), None).await);
    }
    assert_no_token("the server's log", &s.0.log());
}

// ---- the cases --------------------------------------------------------------------

#[tokio::test]
async fn ready_and_failed_runs_reach_a_json_and_a_slack_webhook_once() {
    let r = Receiver::start().await;
    let w = World::new(
        &format!(
            "  webhooks:\n    - {{ name: ops, url: '{}' }}\n    - {{ name: chat, url: '{}', format: slack, events: [tenant.ready, run.failed] }}\n",
            r.url("json", TOKENS[0]),
            r.url("slack", TOKENS[1])
        ),
        None,
    );
    let s = w.serve();

    let run = s.create("acme", "quick", "2d").await;
    let ready = r
        .wait_for("json", 1, event_is("tenant.ready", "acme"))
        .await;
    let b = &ready[0].body;
    assert_eq!(b["version"], 1, "{b}");
    assert_eq!(b["key"], format!("ready:{run}"));
    assert_eq!(b["detail"]["run_id"], run.as_str());
    assert_eq!(b["detail"]["stack"], "quick");
    assert_eq!(b["detail"]["environment"], "dev");
    b["at"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    assert!(
        b["summary"].as_str().unwrap().contains("acme is ready"),
        "{b}"
    );

    let slack = r
        .wait_for("slack", 1, |b| {
            b["text"]
                .as_str()
                .is_some_and(|t| t.contains("acme is ready"))
        })
        .await;
    let obj = slack[0].body.as_object().unwrap();
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        ["text"],
        "Slack's body is only text"
    );
    assert!(
        obj["text"]
            .as_str()
            .unwrap()
            .starts_with("[envctl] Tenant acme is ready")
    );

    let failed_run = s.create("boom", "broken", "1d").await;
    let failed = r.wait_for("json", 1, event_is("run.failed", "boom")).await;
    assert_eq!(failed[0].body["key"], format!("run-failed:{failed_run}"));
    assert_eq!(failed[0].body["detail"]["operation"], "create");
    assert!(
        failed[0].body["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("broken"),
        "{}",
        failed[0].body
    );
    r.wait_for("slack", 1, |b| {
        b["text"]
            .as_str()
            .is_some_and(|t| t.contains("tenant boom failed"))
    })
    .await;

    // Each delivery is audited once as delivered; once audited, nothing more is sent.
    let ops = s.wait_audited("ops", 2).await;
    let chat = s.wait_audited("chat", 2).await;
    for e in ops.iter().chain(&chat) {
        assert_eq!(e["actor"], "notifier");
        assert_eq!(e["result"], "delivered", "{e}");
        assert!(
            e["detail"].as_str().unwrap().contains("after 1 attempt(s)"),
            "{e}"
        );
    }
    assert_eq!(r.got("json", event_is("tenant.ready", "acme")).len(), 1);
    assert_eq!(r.got("json", event_is("run.failed", "boom")).len(), 1);
    assert_eq!(r.got("slack", |_| true).len(), 2);
    assert_eq!(s.counted("tenant.ready", "delivered").await, 2);
    assert_eq!(s.counted("run.failed", "delivered").await, 2);

    assert_nothing_leaked(&s, &["acme", "boom"]).await;
    let state = std::fs::read(w.dir.path().join("state.sqlite")).unwrap();
    assert_no_token("the state store", &String::from_utf8_lossy(&state));
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_and_refusals_are_not() {
    let r = Receiver::start().await;
    r.script("flaky", TOKENS[2], &[(500, None), (500, None)]);
    r.script("refused", TOKENS[3], &[(400, None), (400, None)]);
    r.script("limited", TOKENS[4], &[(429, Some("2"))]);
    let w = World::new(
        &format!(
            "  webhooks:\n    - {{ name: flaky, url: '{}', first_retry: 100ms, events: [tenant.ready] }}\n    - {{ name: refused, url: '{}', first_retry: 100ms, events: [tenant.ready] }}\n    - {{ name: limited, url: '{}', first_retry: 100ms, events: [tenant.ready] }}\n",
            r.url("flaky", TOKENS[2]),
            r.url("refused", TOKENS[3]),
            r.url("limited", TOKENS[4])
        ),
        None,
    );
    let s = w.serve();
    s.create("acme", "quick", "2d").await;

    let flaky = s.wait_audited("flaky", 1).await;
    assert_eq!(flaky[0]["result"], "delivered", "{}", flaky[0]);
    assert!(
        flaky[0]["detail"]
            .as_str()
            .unwrap()
            .contains("after 3 attempt(s)"),
        "{}",
        flaky[0]
    );
    let got = r.got("flaky", |_| true);
    assert_eq!(got.len(), 3, "two 500s, then the 200");
    assert!(
        got[2].at - got[1].at > got[1].at - got[0].at,
        "the wait grows between retries"
    );

    let refused = s.wait_audited("refused", 1).await;
    assert_eq!(refused[0]["result"], "failed", "{}", refused[0]);
    let detail = refused[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("gave up after 1 attempt(s)") && detail.contains("400"),
        "{detail}"
    );
    assert_eq!(r.got("refused", |_| true).len(), 1, "a 400 is not retried");

    let limited = s.wait_audited("limited", 1).await;
    assert_eq!(limited[0]["result"], "delivered");
    let got = r.got("limited", |_| true);
    assert_eq!(got.len(), 2);
    assert!(
        got[1].at - got[0].at >= Duration::from_millis(1900),
        "Retry-After: 2 was not honoured: {:?}",
        got[1].at - got[0].at
    );

    // Audited once each; counted by outcome.
    assert_eq!(s.audited("flaky").await.len(), 1);
    assert_eq!(s.audited("refused").await.len(), 1);
    assert_eq!(s.counted("tenant.ready", "delivered").await, 2);
    assert_eq!(s.counted("tenant.ready", "failed").await, 1);
    assert_nothing_leaked(&s, &["acme"]).await;
}

#[tokio::test]
async fn expiry_warnings_come_once_per_distance_across_replicas_and_restarts() {
    let db = PgDatabase::create("notify").await;
    let r = Receiver::start().await;
    let w = World::new(
        &format!(
            "  expiry_warnings: [2h, 59m45s]\n  check_every: 500ms\n  webhooks:\n    - {{ name: ops, url: '{}', events: [tenant.expiring] }}\n",
            r.url("json", TOKENS[0]),
        ),
        Some(db.url()),
    );
    let a = w.serve();
    let b = w.serve();
    a.create("acme", "quick", "1h").await;
    let expires_at = a.json("GET", "/api/tenants/acme", None).await["expires_at"]
        .as_str()
        .unwrap()
        .to_string();

    // The 2h warning first (about an hour is left), then the 59m45s one:
    // each from one replica only, the other finding it already claimed.
    let first = r
        .wait_for("json", 1, event_is("tenant.expiring", "acme"))
        .await;
    assert_eq!(first[0].body["detail"]["within"], "2h", "{}", first[0].body);
    assert_eq!(first[0].body["detail"]["expires_at"], expires_at.as_str());
    assert_eq!(first[0].body["key"], format!("expiry:acme:{expires_at}:2h"));
    let both = r
        .wait_for("json", 2, event_is("tenant.expiring", "acme"))
        .await;
    assert_eq!(
        both[1].body["detail"]["within"], "3585s",
        "{}",
        both[1].body
    );
    // Both replicas have tried both warnings: 2 delivered + 2 duplicates.
    let deadline = Instant::now() + WAIT;
    loop {
        let delivered = a.counted("tenant.expiring", "delivered").await
            + b.counted("tenant.expiring", "delivered").await;
        let duplicate = a.counted("tenant.expiring", "duplicate").await
            + b.counted("tenant.expiring", "duplicate").await;
        if delivered == 2 && duplicate == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "delivered {delivered}, duplicates {duplicate}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A restart: the new server tries the warning due now (the tightest
    // distance reached) and finds it sent.
    drop(a);
    let c = w.serve();
    c.wait_counted("tenant.expiring", "duplicate", 1).await;
    assert_eq!(r.got("json", event_is("tenant.expiring", "acme")).len(), 2);

    // An extension moves the expiry: a new 2h warning is due, once.
    c.json(
        "POST",
        "/api/tenants/acme/extend",
        Some(json!({"by": "30m"})),
    )
    .await;
    let after = r
        .wait_for("json", 3, event_is("tenant.expiring", "acme"))
        .await;
    assert_eq!(after[2].body["detail"]["within"], "2h");
    assert_ne!(after[2].body["detail"]["expires_at"], expires_at.as_str());
    let deadline = Instant::now() + WAIT;
    while b.counted("tenant.expiring", "delivered").await
        + c.counted("tenant.expiring", "delivered").await
        + b.counted("tenant.expiring", "duplicate").await
        + c.counted("tenant.expiring", "duplicate").await
        < 5
    {
        assert!(
            Instant::now() < deadline,
            "the replicas never both tried the new warning"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(r.got("json", event_is("tenant.expiring", "acme")).len(), 3);
    assert_nothing_leaked(&c, &["acme"]).await;
    drop((b, c, db));
}

#[tokio::test]
async fn a_bad_notifications_section_stops_the_server_with_the_field_and_the_fix() {
    let cases = [
        (
            format!(
                "  webhooks: [{{ name: ops, url: 'http://hooks.example.com/services/{}' }}]\n",
                TOKENS[0]
            ),
            "notifications.webhooks[0] (ops): url uses http:// to a host other than this machine; use https://",
        ),
        (
            format!(
                "  webhooks: [{{ name: ops, url: 'https://hooks.example.com/services/{}', events: [tenant.made] }}]\n",
                TOKENS[0]
            ),
            "unknown event 'tenant.made'",
        ),
        (
            format!(
                "  webhooks: [{{ name: ops, url: 'https://hooks.example.com/services/{}', format: xml }}]\n",
                TOKENS[0]
            ),
            "unknown variant `xml`",
        ),
        (
            "  expiry_warnings: [fortnight]\n".to_string(),
            "notifications.expiry_warnings[0] 'fortnight' is not a duration",
        ),
    ];
    for (section, want) in cases {
        let w = World::new(&section, None);
        let out = w.command().output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{section}: {err}");
        assert!(err.contains(want), "{section}: {err}\n  wanted: {want}");
        assert_no_token("the start-up error", &err);
        assert!(
            !w.dir.path().join("state.sqlite").exists(),
            "nothing is created"
        );
    }
}

/// Hibernating and waking through the API tells the webhooks, with who
/// asked and the run as the happening's key.
#[tokio::test]
async fn hibernate_and_wake_reach_the_webhook_once_each() {
    let r = Receiver::start().await;
    let w = World::new(
        &format!(
            "  webhooks:\n    - {{ name: ops, url: '{}', events: [tenant.hibernated, tenant.woken] }}\n",
            r.url("json", TOKENS[0])
        ),
        None,
    );
    let s = w.serve();
    s.create("sleepy", "quick", "2d").await;

    for (path, event, key) in [
        ("hibernate", "tenant.hibernated", "hibernated:sleepy:"),
        ("wake", "tenant.woken", "woken:sleepy:"),
    ] {
        let started = s
            .json("POST", &format!("/api/tenants/sleepy/{path}"), None)
            .await;
        let run = started["run_id"].as_str().expect("a run id").to_string();
        let got = r.wait_for("json", 1, event_is(event, "sleepy")).await;
        let b = &got[0].body;
        assert_eq!(b["detail"]["at"], run.as_str(), "{b}");
        assert_eq!(b["detail"]["reason"], "requested by olga", "{b}");
        assert_eq!(b["key"], format!("{key}{run}"), "{b}");
    }
    s.wait_audited("ops", 2).await;
    assert_eq!(r.got("json", |_| true).len(), 2, "one delivery each");
}

/// A tenant's own sleep schedule is run by the server: it hibernates the
/// tenant when the schedule falls due and the webhook hears why.
#[tokio::test]
async fn a_schedule_hibernates_the_tenant_in_the_server() {
    let r = Receiver::start().await;
    let w = World::new(
        &format!(
            "  webhooks:\n    - {{ name: ops, url: '{}', events: [tenant.hibernated] }}\nhibernation: {{ check_every: 1s }}\n",
            r.url("json", TOKENS[0])
        ),
        None,
    );
    let s = w.serve();
    s.create("nightly", "quick", "2d").await;
    // Every two seconds (cron with seconds), in a named time zone.
    let set = w
        .envctl()
        .args(["hibernate", "tenant", "nightly", "--sleep", "*/2 * * * * *"])
        .args(["--time-zone", "Europe/Madrid"])
        .output()
        .unwrap();
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );

    let got = r
        .wait_for("json", 1, event_is("tenant.hibernated", "nightly"))
        .await;
    assert_eq!(
        got[0].body["detail"]["reason"], "schedule",
        "{}",
        got[0].body
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let t = s.json("GET", "/api/tenants/nightly", None).await;
        if t["status"] == "hibernated" {
            break;
        }
        assert!(Instant::now() < deadline, "not hibernated: {t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let audit = s.json("GET", "/api/audit?limit=50", None).await;
    assert!(
        audit.to_string().contains("\"actor\":\"schedule\""),
        "the scheduled run is audited as the schedule's: {audit}"
    );
}
