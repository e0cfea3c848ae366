//! Warm pools end to end: the `envctl` binary against a private moto
//! server. A pool of 2 RDS members is filled; creates claim them (two at
//! once get different members), re-tagged for the tenant, the pool tag
//! gone, the tenant's password set (its fingerprint tag, computed here from
//! the password the value store holds, follows only a successful
//! ModifyDBInstance); an empty pool falls back to creating; the pool is
//! refilled; destroy deletes the claimed member and the tenant's sweep
//! leaves available members alone; drain empties the pool. `envctl serve`
//! fills its stacks' pools at start and refills after a claim, and shows
//! the levels on `/api/pools` and `/metrics` (read with the Prometheus
//! project's OpenMetrics parser). Every check of what exists goes through
//! the AWS APIs (the Rust SDK as an independent client), never through
//! envctl's state.

#[path = "support/serve_process.rs"]
mod serve_process;
#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use serve_process::ServeProcess;
use sha2::{Digest, Sha256};
use support::apitools::{parse_metrics, sample};
use support::{Moto, repo_root};

const STACK: &str = "integration/stacks/pooled-db.yaml";
const POOL: &str = "pooled-db/database";

struct World {
    moto: Moto,
    dir: tempfile::TempDir,
    bucket: String,
}

impl World {
    fn new() -> World {
        World {
            moto: Moto::start(),
            dir: tempfile::tempdir().unwrap(),
            bucket: "envctl-values-pools".into(),
        }
    }

    /// A world with the shared network the pooled stack adopts.
    fn with_shared_network() -> World {
        let w = World::new();
        w.ok(&[
            "create",
            "tenant",
            "pool-shared",
            "--stack",
            "stacks/shared-network.yaml",
        ]);
        w
    }

    fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.sqlite")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.args(args)
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("ENVCTL_STATE", self.state_path())
            .env("ENVCTL_VALUES_BUCKET", &self.bucket)
            .stdin(Stdio::null());
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        c
    }

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

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.envctl(args);
        assert!(out.status.success(), "envctl {} failed", args.join(" "));
        out
    }

    fn rds(&self) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.moto.sdk_config())
    }

    /// Every DB instance: identifier → (status, tags).
    async fn instances(&self) -> BTreeMap<String, (String, BTreeMap<String, String>)> {
        support::rds::db_instances(&self.rds())
            .await
            .into_iter()
            .map(|(id, db)| (id, (db.status, db.tags)))
            .collect()
    }

    /// The identifiers of the members no tenant holds (tag `envctl:pool`).
    async fn available(&self) -> Vec<String> {
        self.instances()
            .await
            .into_iter()
            .filter(|(_, (_, t))| t.get("envctl:pool").map(String::as_str) == Some(POOL))
            .map(|(id, (_, t))| {
                assert!(
                    !t.contains_key("envctl:tenant"),
                    "{id}: a member belongs to no tenant: {t:?}"
                );
                assert_eq!(t.get("envctl:managed").map(String::as_str), Some("true"));
                id
            })
            .collect()
    }

    /// The identifiers of `tenant`'s DB instances (tag `envctl:tenant`).
    async fn of_tenant(&self, tenant: &str) -> Vec<(String, BTreeMap<String, String>)> {
        self.instances()
            .await
            .into_iter()
            .filter(|(_, (_, t))| t.get("envctl:tenant").map(String::as_str) == Some(tenant))
            .map(|(id, (_, t))| (id, t))
            .collect()
    }

    /// The tags of DB subnet group `name`.
    async fn subnet_group_tags(&self, name: &str) -> BTreeMap<String, String> {
        let rds = self.rds();
        let g = rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
            .unwrap();
        let arn = g.db_subnet_groups()[0]
            .db_subnet_group_arn()
            .unwrap()
            .to_string();
        rds.list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .unwrap()
            .tag_list()
            .iter()
            .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
            .collect()
    }

    /// A value of the store, read with the SDK.
    async fn value(&self, key: &str) -> String {
        let conf = aws_sdk_s3::config::Builder::from(&self.moto.sdk_config())
            .force_path_style(true)
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(conf);
        let out = s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("value {key}: {e:?}"));
        String::from_utf8(out.body.collect().await.unwrap().to_vec()).unwrap()
    }

    /// What `envctl plan` expects the pooled database of `tenant` to take.
    fn database_expected_ms(&self, tenant: &str) -> u64 {
        let out = self.ok(&[
            "plan",
            "tenant",
            tenant,
            "--stack",
            STACK,
            "--skip-preflight",
            "-o",
            "json",
        ]);
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        plan["waves"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|w| w.as_array().unwrap())
            .find(|n| n["id"] == "database")
            .and_then(|n| n["expected_ms"].as_u64())
            .unwrap_or_else(|| panic!("no database in the plan: {plan}"))
    }

    fn pool_status(&self) -> serde_json::Value {
        let out = self.ok(&["pool", "status", "--stack", STACK, "-o", "json"]);
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        rows.as_array().unwrap()[0].clone()
    }
}

/// The fingerprint envctl keeps of an RDS master password (the same
/// formula as src/kinds/aws/rds/password.rs, written out here).
fn fingerprint(identifier: &str, password: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"envctl rds master password\0");
    h.update(identifier.as_bytes());
    h.update(b"\0");
    h.update(password.as_bytes());
    hex::encode(h.finalize())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_is_filled_claimed_refilled_destroyed_and_drained() {
    let w = World::with_shared_network();

    // The plan weighs the database as a create while the pool is empty...
    let rds_create = w.database_expected_ms("team-a");
    // Fill: two members, neutral names, the pool tag, no tenant.
    w.ok(&["pool", "fill", "--stack", STACK]);
    // ...and as a claim once it has a member: the ETA and the critical
    // path count the claim's time, not the create's.
    let rds_claim = w.database_expected_ms("team-a");
    assert!(
        rds_claim < rds_create,
        "a claim is expected to be quicker than a create: {rds_claim} ms vs {rds_create} ms"
    );
    let members = w.available().await;
    assert_eq!(members.len(), 2, "{members:?}");
    assert!(
        members.iter().all(|m| m.starts_with("envctl-pool-")),
        "{members:?}"
    );
    let level = w.pool_status();
    assert_eq!(level["available"], 2, "{level}");
    assert_eq!(level["size"], 2);
    let before: BTreeMap<String, String> = w
        .instances()
        .await
        .into_iter()
        .map(|(id, (_, t))| (id, t["envctl:password-sha256"].clone()))
        .collect();
    // A second fill of a full pool makes nothing.
    w.ok(&["pool", "fill", "--stack", STACK]);
    assert_eq!(w.available().await, members);

    // Two creates at once: each claims a different member.
    let spawn = |t: &str| {
        w.command(&["create", "tenant", t, "--stack", STACK])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("team-a"), spawn("team-b"));
    for (name, child) in [("team-a", a), ("team-b", b)] {
        let out = child.wait_with_output().unwrap();
        eprintln!("{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "create {name} failed");
    }
    let (da, db) = (w.of_tenant("team-a").await, w.of_tenant("team-b").await);
    assert_eq!((da.len(), db.len()), (1, 1), "{da:?} {db:?}");
    assert_ne!(da[0].0, db[0].0, "two tenants got the same member");
    // The run's report expected the claim, not a create.
    let out = w.ok(&["report", "tenant", "team-a", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let node = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "database")
        .unwrap();
    assert!(
        node["expected_ms"].as_u64().unwrap() < rds_create,
        "{node} (a create: {rds_create} ms)"
    );
    for (tenant, (id, tags)) in [("team-a", &da[0]), ("team-b", &db[0])] {
        assert!(members.contains(id), "{tenant} got {id}, not a pool member");
        assert!(
            !tags.contains_key("envctl:pool"),
            "{id} still carries the pool tag: {tags:?}"
        );
        assert_eq!(tags["envctl:stack"], "pooled-db");
        assert_eq!(tags["envctl:resource"], "database");
        // The tenant's password was set: the fingerprint of the password the
        // value store holds for it, no longer the fill's.
        let password = w
            .value(&format!("dev/{tenant}/common/DATABASE_PASSWORD"))
            .await;
        assert_eq!(tags["envctl:password-sha256"], fingerprint(id, &password));
        assert_ne!(tags["envctl:password-sha256"], before[id]);
        // Its subnet group went with it.
        let g = w.subnet_group_tags(id).await;
        assert_eq!(
            g.get("envctl:tenant").map(String::as_str),
            Some(tenant),
            "{g:?}"
        );
        assert!(!g.contains_key("envctl:pool"), "{g:?}");
        // Its outputs were published: the member's endpoint.
        let host = w.value(&format!("dev/{tenant}/common/DATABASE_HOST")).await;
        assert!(host.contains(id.as_str()), "{host}");
    }
    let level = w.pool_status();
    assert_eq!(
        (level["available"].clone(), level["claimed"].clone()),
        (0.into(), 2.into())
    );

    // An empty pool: the create falls back to creating its own instance.
    w.ok(&["create", "tenant", "team-c", "--stack", STACK]);
    let dc = w.of_tenant("team-c").await;
    assert_eq!(dc.len(), 1);
    assert_eq!(dc[0].0, "envctl-team-c-database");
    let level = w.pool_status();
    assert_eq!(
        (level["hits"].clone(), level["misses"].clone()),
        (2.into(), 1.into())
    );

    // Refill: two available again, new ones.
    w.ok(&["pool", "fill", "--stack", STACK]);
    let refilled = w.available().await;
    assert_eq!(refilled.len(), 2, "{refilled:?}");
    assert!(refilled.iter().all(|m| !members.contains(m)));

    // Destroy deletes the claimed member; the sweep leaves available ones.
    w.ok(&["destroy", "tenant", "team-a", "--yes"]);
    let left = w.instances().await;
    assert!(
        !left.contains_key(&da[0].0),
        "the claimed member is deleted: {left:?}"
    );
    assert_eq!(
        w.available().await,
        refilled,
        "the tenant's sweep left the pool alone"
    );
    assert_eq!(w.of_tenant("team-b").await.len(), 1);

    // Drain deletes every available member and no tenant's.
    w.ok(&["pool", "drain", "--stack", STACK]);
    assert_eq!(w.available().await, Vec::<String>::new());
    assert_eq!(w.of_tenant("team-b").await.len(), 1);
    assert_eq!(w.of_tenant("team-c").await.len(), 1);
    let level = w.pool_status();
    assert_eq!(
        (level["available"].clone(), level["claimed"].clone()),
        (0.into(), 1.into())
    );
}

#[test]
fn a_pool_on_a_kind_that_cannot_be_pooled_is_refused_naming_the_line() {
    let w = World::new();
    let stack = w.dir.path().join("bad.yaml");
    std::fs::write(
        &stack,
        "stack: bad\nresources:\n  - id: q\n    kind: aws.sqs.queue\n    pool: { size: 2 }\n",
    )
    .unwrap();
    let out = w.envctl(&["pool", "fill", "--stack", stack.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:5"), "{err}");
    assert!(err.contains("cannot be pooled"), "{err}");
}

const OLGA: &str = "olga-operator-token-0123456789abcdef";

/// A call to the server as the operator: status and JSON body.
async fn call(s: &ServeProcess, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", s.base))
        .bearer_auth(OLGA);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Polls `GET /api/pools` until `done` holds for the pool's row.
async fn pool_row_until(s: &ServeProcess, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = call(s, "GET", "/api/pools", None).await;
        assert_eq!(status, 200, "{body}");
        let row = body["pools"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["pool"] == POOL))
            .cloned()
            .unwrap_or(Value::Null);
        if done(&row) {
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: never; last {body}\n{}",
            s.log.lock().unwrap()
        );
        // Polling the condition above; nothing about timing is asserted.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_fills_at_start_refills_after_a_claim_and_shows_the_levels() {
    let w = World::with_shared_network();
    let config = w.dir.path().join("serve.yaml");
    std::fs::write(
        &config,
        format!(
            "max_concurrent_runs: 2\nmax_ttl: 10d\ndefault_stack: pooled\nstacks:\n  pooled: {}\ntokens:\n  - {{ name: olga, role: operator, sha256: {} }}\n",
            repo_root().join(STACK).display(),
            hex::encode(Sha256::digest(OLGA.as_bytes())),
        ),
    )
    .unwrap();
    let mut c = w.command(&["serve", "--config", config.to_str().unwrap()]);
    c.env("RUST_LOG", "info");
    let s = ServeProcess::spawn(c);

    // Filled at start, with nobody asking.
    let row = pool_row_until(&s, "the pool filled at start", |r| r["available"] == 2).await;
    assert_eq!(
        (row["size"].clone(), row["hits"].clone()),
        (json!(2), json!(0)),
        "{row}"
    );
    assert!(row["idle_cost_per_day"].as_f64().unwrap() > 0.0, "{row}");
    let warm = w.available().await;
    assert_eq!(warm.len(), 2, "two members in AWS: {warm:?}");

    // A tenant requested through the API claims one...
    let (status, body) = call(&s, "POST", "/api/tenants", Some(json!({ "name": "srv-a" }))).await;
    assert_eq!(status, 202, "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (_, t) = call(&s, "GET", "/api/tenants/srv-a", None).await;
        match t["status"].as_str() {
            Some("ready") => break,
            Some("failed") => panic!("srv-a failed: {t}"),
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "srv-a never ready: {t}"
        );
        // Polling the condition above; nothing about timing is asserted.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let held = w.of_tenant("srv-a").await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(
        warm.contains(&held[0].0),
        "srv-a got a warm member: {held:?} of {warm:?}"
    );

    // ...and the server refills the pool at once, without a fill command.
    let row = pool_row_until(&s, "the pool refilled after the claim", |r| {
        r["available"] == 2 && r["claimed"] == 1
    })
    .await;
    assert_eq!(
        (row["hits"].clone(), row["misses"].clone()),
        (json!(1), json!(0)),
        "{row}"
    );
    let refilled = w.available().await;
    assert_eq!(refilled.len(), 2, "{refilled:?}");
    assert!(!refilled.contains(&held[0].0), "{refilled:?}");

    // /metrics says the same, read by the Prometheus project's parser.
    let resp = reqwest::get(format!("{}/metrics", s.base)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let samples = parse_metrics(&resp.text().await.unwrap());
    for (status, n) in [("available", 2.0), ("claimed", 1.0), ("creating", 0.0)] {
        assert_eq!(
            sample(
                &samples,
                "envctl_pool_members",
                &[("pool", POOL), ("status", status)]
            ),
            Some(n),
            "{status}: {samples:?}"
        );
    }
    assert_eq!(
        sample(
            &samples,
            "envctl_pool_claims_total",
            &[("pool", POOL), ("outcome", "hit")]
        ),
        Some(1.0),
        "{samples:?}"
    );
}
