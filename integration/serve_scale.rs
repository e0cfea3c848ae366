//! Several `envctl serve` replicas on one state store, as behind a load
//! balancer without affinity: two real server processes on one SQLite file,
//! and on one PostgreSQL database (`ENVCTL_TEST_POSTGRES`, which `make test`
//! starts). A session opened on one is honoured and ended on the other, the
//! store keeps no session id, a run on one is watched node by node on the
//! other, and the tenant list of each sees every change at once.

#[path = "support/mod.rs"]
mod support;

#[path = "support/postgres.rs"]
mod postgres;

#[path = "support/serve_process.rs"]
mod serve_process;

use std::process::{Command, Stdio};
use std::time::Duration;

use envctl::state::{StateStore, TenantRow};
use futures::StreamExt;
use postgres::PgDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};
use serve_process::ServeProcess as Server;
use sha2::{Digest, Sha256};
use support::{Moto, repo_root};

const OLGA: &str = "olga-operator-token-scale-0123456789";
const VIC: &str = "vic-viewer-token-scale-0123456789";

/// A moto, a configuration and one state store shared by the servers.
struct World {
    moto: Moto,
    dir: tempfile::TempDir,
    state_location: String,
}

fn sha(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl World {
    fn new(state_location: Option<String>) -> World {
        let dir = tempfile::tempdir().unwrap();
        let state_location =
            state_location.unwrap_or_else(|| dir.path().join("state.sqlite").display().to_string());
        let config = format!(
            "max_concurrent_runs: 2\ndefault_stack: slow\nstacks:\n  slow: {}\ntokens:\n  - {{ name: olga, role: operator, sha256: {} }}\n  - {{ name: vic, role: viewer, sha256: {} }}\n",
            repo_root().join("integration/stacks/slow.yaml").display(),
            sha(OLGA),
            sha(VIC),
        );
        std::fs::write(dir.path().join("serve.yaml"), config).unwrap();
        World {
            moto: Moto::start(),
            dir,
            state_location,
        }
    }

    /// A replica: the real binary on a free port of loopback.
    fn serve(&self) -> Server {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("ENVCTL_STATE", &self.state_location)
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-scale")
            .env("RUST_LOG", "info")
            .args(["serve", "--config"])
            .arg(self.dir.path().join("serve.yaml"))
            .stdin(Stdio::null());
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        Server::spawn(c)
    }

    async fn store(&self) -> StateStore {
        StateStore::open(&self.state_location).await.unwrap()
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let r = reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let r = reqwest::Client::new()
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// `GET /api/whoami` with only the session cookie.
    async fn whoami(&self, cookie: &str) -> StatusCode {
        reqwest::Client::new()
            .get(self.url("/api/whoami"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn tenant_in_list(&self, name: &str) -> Option<Value> {
        let list = self.get(VIC, "/api/tenants").await;
        list["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
    }
}

async fn sessions_are_shared(w: &World) {
    let (a, b) = (w.serve(), w.serve());
    let r = reqwest::Client::new()
        .post(a.url("/api/login"))
        .json(&json!({ "token": OLGA }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let id = cookie.split_once('=').unwrap().1.to_string();
    assert_eq!(
        b.whoami(&cookie).await,
        StatusCode::OK,
        "B honours A's session"
    );

    // The store holds the session's digest, never its id.
    let store = w.store().await;
    let pool = sqlx::AnyPool::connect(&any_url(&w.state_location))
        .await
        .unwrap();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id_sha256, name, role FROM sessions")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![(sha(&id), "olga".to_string(), "operator".to_string())]
    );
    let dump: Vec<(String,)> = sqlx::query_as(
        "SELECT id_sha256 || name || role || CAST(created_ms AS TEXT) || CAST(expires_ms AS TEXT) FROM sessions",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        dump.iter().all(|(row,)| !row.contains(&id)),
        "a raw session id in the store"
    );

    // Logout on A ends the session on B too.
    let r = reqwest::Client::new()
        .post(a.url("/api/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(b.whoami(&cookie).await, StatusCode::UNAUTHORIZED);
    assert_eq!(a.whoami(&cookie).await, StatusCode::UNAUTHORIZED);
    assert!(store.session(&sha(&id), 0).await.unwrap().is_none());
    pool.close().await;
}

/// `location` as a URL the `Any` driver opens.
fn any_url(location: &str) -> String {
    if location.contains("://") {
        location.to_string()
    } else {
        format!("sqlite://{location}")
    }
}

async fn lists_see_every_change(w: &World) {
    let (a, b) = (w.serve(), w.serve());
    let store = w.store().await;
    // Both lists are read (and cached) before each change.
    assert!(a.tenant_in_list("made-elsewhere").await.is_none());
    assert!(b.tenant_in_list("made-elsewhere").await.is_none());

    // Created by another process (as the CLI does).
    let now = jiff::Timestamp::now().to_string();
    store
        .upsert_tenant(&TenantRow {
            name: "made-elsewhere".into(),
            environment: "dev".into(),
            stack_name: "slow".into(),
            stack_path: "integration/stacks/slow.yaml".into(),
            status: "ready".into(),
            created_at: now.clone(),
            updated_at: now.clone(),
            expires_at: None,
            protected: false,
            owner: Some("olga".into()),
            note: None,
            graph_json: "{}".into(),
        })
        .await
        .unwrap();
    for s in [&a, &b] {
        let t = s.tenant_in_list("made-elsewhere").await.expect("listed");
        assert_eq!(t["status"], "ready");
        assert_eq!(t["protected"], false);
    }

    // Changed through replica B: A's next answer has it.
    let (status, _) = b
        .post(
            OLGA,
            "/api/tenants/made-elsewhere/protect",
            json!({ "protected": true }),
        )
        .await;
    assert!(status.is_success(), "protect: {status}");
    assert_eq!(
        a.tenant_in_list("made-elsewhere").await.unwrap()["protected"],
        true
    );

    // Changed by another process again.
    store
        .set_tenant_status("made-elsewhere", "destroyed")
        .await
        .unwrap();
    for s in [&a, &b] {
        assert_eq!(
            s.tenant_in_list("made-elsewhere").await.unwrap()["status"],
            "destroyed"
        );
    }
}

/// Reads a run's event stream from `server` to its `end`: the snapshots'
/// node states in order, and the final run.
async fn follow(server: &Server, run: &str) -> (Vec<Value>, Value) {
    let resp = reqwest::Client::new()
        .get(server.url(&format!("/api/runs/{run}/events")))
        .bearer_auth(VIC)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let (mut buf, mut snapshots) = (String::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("the run did not end in 3 minutes")
            .expect("the stream closed before `end`")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = buf.find("\n\n") {
            let event: String = buf.drain(..i + 2).collect();
            let name = event
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or_default()
                .to_string();
            let data: String = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            match name.as_str() {
                "snapshot" => snapshots.push(serde_json::from_str(&data).unwrap()),
                "end" => return (snapshots, serde_json::from_str(&data).unwrap()),
                _ => {}
            }
        }
    }
}

fn node_state(snapshot: &Value, id: &str) -> Option<String> {
    snapshot["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["id"] == id)
        .and_then(|n| n["state"].as_str())
        .map(String::from)
}

async fn a_run_on_a_is_watched_on_b(w: &World) {
    let (a, b) = (w.serve(), w.serve());
    let (status, accepted) = a
        .post(OLGA, "/api/tenants", json!({ "name": "watched" }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let run = accepted["run"]["id"].as_str().unwrap().to_string();
    let (snapshots, end) = follow(&b, &run).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    // Node by node: B saw the first node done while the slow ones were
    // still to come, and the last node's state only in a later snapshot.
    let partial = snapshots.iter().position(|s| {
        node_state(s, "first").as_deref() == Some("succeeded")
            && node_state(s, "topic").as_deref() != Some("succeeded")
    });
    let done = snapshots
        .iter()
        .rposition(|s| node_state(s, "topic").as_deref() == Some("succeeded"));
    assert!(
        matches!((partial, done), (Some(p), Some(d)) if p < d),
        "no node-by-node progress on B: {snapshots:#?}"
    );
    // The same run, as A ends it.
    let on_a = a.get(VIC, &format!("/api/runs/{run}")).await;
    assert_eq!(on_a["status"], end["status"]);
    assert_eq!(
        on_a["progress"]["done"], end["progress"]["done"],
        "A: {on_a}\nB: {end}"
    );
}

#[tokio::test]
async fn sqlite_a_session_opened_on_one_replica_is_honoured_and_ended_on_the_other() {
    sessions_are_shared(&World::new(None)).await;
}

#[tokio::test]
async fn sqlite_each_replicas_tenant_list_sees_changes_made_anywhere() {
    lists_see_every_change(&World::new(None)).await;
}

#[tokio::test]
async fn sqlite_a_run_on_one_replica_is_watched_node_by_node_on_the_other() {
    a_run_on_a_is_watched_on_b(&World::new(None)).await;
}

#[tokio::test]
async fn postgres_a_session_opened_on_one_replica_is_honoured_and_ended_on_the_other() {
    let db = PgDatabase::create("envctl_scale").await;
    sessions_are_shared(&World::new(Some(db.url()))).await;
}

#[tokio::test]
async fn postgres_each_replicas_tenant_list_sees_changes_made_anywhere() {
    let db = PgDatabase::create("envctl_scale").await;
    lists_see_every_change(&World::new(Some(db.url()))).await;
}

#[tokio::test]
async fn postgres_a_run_on_one_replica_is_watched_node_by_node_on_the_other() {
    let db = PgDatabase::create("envctl_scale").await;
    a_run_on_a_is_watched_on_b(&World::new(Some(db.url()))).await;
}
