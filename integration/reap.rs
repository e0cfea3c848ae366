//! The reaper, `extend`, `protect` and `unprotect`: the `envctl` binary
//! against a private moto per test (orphans are "whatever the account holds",
//! so tests must not share one). What exists is checked through the S3, SQS
//! and SNS APIs themselves, never through envctl's state or the tagging API
//! the reaper uses.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Moto, repo_root};

const STACK: &str = "integration/stacks/aws-basic.yaml";
/// The aws-basic stack's resources: 3 buckets, 5 queues + 5 dead-letter queues, 3 topics.
const STACK_RESOURCES: usize = 3 + 10 + 3;

/// Every resource tagged with one tenant, as "service:name", with its tags.
type Tagged = BTreeMap<String, BTreeMap<String, String>>;

/// One isolated world: a moto, a directory for state files, a values bucket.
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

    fn state(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// envctl with the state store `state` (a file name in the world's directory).
    fn envctl_with(&self, state: &str, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.args(args)
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // No kubeconfig: these stacks are AWS-only.
            .env("HOME", self.dir.path())
            .env("ENVCTL_STATE", self.state(state))
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-reap")
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
        out
    }

    fn envctl(&self, args: &[&str]) -> Output {
        self.envctl_with("state.sqlite", args)
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.envctl(args);
        assert!(out.status.success(), "envctl {} failed", args.join(" "));
        out
    }

    fn create(&self, tenant: &str, ttl: &str) {
        self.create_in("state.sqlite", tenant, ttl);
    }

    fn create_in(&self, state: &str, tenant: &str, ttl: &str) {
        let out = self.envctl_with(
            state,
            &["create", "tenant", tenant, "--stack", STACK, "--ttl", ttl],
        );
        assert!(out.status.success(), "create {tenant} failed");
    }

    /// `envctl reap ARGS -o json` with the default state: exit code and report.
    fn reap(&self, args: &[&str]) -> (i32, Value) {
        self.reap_with("state.sqlite", args)
    }

    fn reap_with(&self, state: &str, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["reap", "-o", "json"];
        all.extend_from_slice(args);
        let out = self.envctl_with(state, &all);
        let report = serde_json::from_slice(&out.stdout).expect("reap prints a JSON report");
        (out.status.code().expect("exit code"), report)
    }

    /// The tenant's row, as `get tenants --all -o json` shows it.
    fn row(&self, tenant: &str) -> Value {
        let out = self.ok(&["get", "tenants", "--all", "-o", "json"]);
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        rows.into_iter()
            .find(|r| r["name"] == tenant)
            .unwrap_or_else(|| panic!("tenant {tenant} is not in the state"))
    }

    /// Waits until the tenant's stored expiry has passed (on this clock, which
    /// is also the reaper's), however long that is.
    async fn wait_until_expired(&self, tenant: &str) {
        let at: jiff::Timestamp = self.row(tenant)["expires_at"]
            .as_str()
            .expect("the tenant has an expiry")
            .parse()
            .unwrap();
        assert!(
            at < jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60),
            "expiry {at} is not within a minute; the test expects a short TTL"
        );
        while jiff::Timestamp::now() <= at {
            let left = at.duration_since(jiff::Timestamp::now());
            let step = Duration::try_from(left)
                .unwrap_or_default()
                .min(Duration::from_millis(200));
            tokio::time::sleep(step + Duration::from_millis(1)).await;
        }
    }

    fn clients(&self) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client, aws_sdk_sns::Client) {
        let conf = self.moto.sdk_config();
        let s3 = aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build();
        (
            aws_sdk_s3::Client::from_conf(s3),
            aws_sdk_sqs::Client::new(&conf),
            aws_sdk_sns::Client::new(&conf),
        )
    }

    /// Every bucket, queue and topic tagged `envctl:tenant=<tenant>`, managed or not.
    async fn tagged(&self, tenant: &str) -> Tagged {
        let (s3, sqs, sns) = self.clients();
        let mut found = Tagged::new();
        for b in s3.list_buckets().send().await.unwrap().buckets() {
            let name = b.name().unwrap();
            let Ok(t) = s3.get_bucket_tagging().bucket(name).send().await else {
                continue;
            };
            let tags: BTreeMap<_, _> = t
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            if tags.get("envctl:tenant").map(String::as_str) == Some(tenant) {
                found.insert(format!("s3:{name}"), tags);
            }
        }
        for url in sqs.list_queues().send().await.unwrap().queue_urls() {
            let t = sqs.list_queue_tags().queue_url(url).send().await.unwrap();
            let tags: BTreeMap<_, _> = t.tags().cloned().unwrap_or_default().into_iter().collect();
            if tags.get("envctl:tenant").map(String::as_str) == Some(tenant) {
                let name = url.rsplit('/').next().unwrap();
                found.insert(format!("sqs:{name}"), tags);
            }
        }
        for topic in sns.list_topics().send().await.unwrap().topics() {
            let arn = topic.topic_arn().unwrap();
            let t = sns
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .unwrap();
            let tags: BTreeMap<_, _> = t
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            if tags.get("envctl:tenant").map(String::as_str) == Some(tenant) {
                found.insert(format!("sns:{}", arn.rsplit(':').next().unwrap()), tags);
            }
        }
        found
    }

    /// A bucket and a queue tagged with `tenant` but not managed; the queue
    /// is even named like the tenant's own (`envctl-<tenant>-…`).
    async fn make_lookalikes(&self, tenant: &str) -> Vec<String> {
        let (s3, sqs, _) = self.clients();
        let bucket = format!("lookalike-{tenant}");
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        s3.put_bucket_tagging()
            .bucket(&bucket)
            .tagging(
                aws_sdk_s3::types::Tagging::builder()
                    .tag_set(
                        aws_sdk_s3::types::Tag::builder()
                            .key("envctl:tenant")
                            .value(tenant)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let queue = format!("envctl-{tenant}-lookalike");
        sqs.create_queue()
            .queue_name(&queue)
            .tags("envctl:tenant", tenant)
            .tags("envctl:managed", "false")
            .send()
            .await
            .unwrap();
        vec![format!("s3:{bucket}"), format!("sqs:{queue}")]
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn managed_only(tagged: &Tagged) -> Tagged {
    tagged
        .iter()
        .filter(|(_, t)| t.get("envctl:managed").map(String::as_str) == Some("true"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_expired_tenant_is_reaped_and_an_unexpired_one_is_untouched() {
    let w = World::new();
    w.create("reap-old", "1s");
    w.create("reap-young", "1d");
    let young_before = w.tagged("reap-young").await;
    assert_eq!(young_before.len(), STACK_RESOURCES);
    assert_eq!(w.tagged("reap-old").await.len(), STACK_RESOURCES);
    w.wait_until_expired("reap-old").await;

    let (code, report) = w.reap(&[]);
    assert_eq!(code, 0);
    assert_eq!(report["destroyed"], 1, "{report:#}");
    assert_eq!(report["refused"], 0);
    assert_eq!(report["failed"], 0);
    assert_eq!(names(&report["tenants"]), ["reap-old"]);
    assert_eq!(report["tenants"][0]["action"], "destroyed");
    assert!(report["tenants"][0]["run_id"].is_string());

    assert_eq!(
        w.tagged("reap-old").await,
        Tagged::new(),
        "all of it is gone"
    );
    assert_eq!(w.tagged("reap-young").await, young_before, "untouched");
    assert_eq!(w.row("reap-old")["status"], "destroyed");
    assert_eq!(w.row("reap-young")["status"], "ready");

    // A second pass has nothing to do.
    let (code, report) = w.reap(&[]);
    assert_eq!(code, 0);
    assert_eq!(report["tenants"], Value::Array(Vec::new()));
}

#[tokio::test]
async fn a_protected_tenant_is_never_reaped_until_unprotected() {
    let w = World::new();
    w.create("reap-guarded", "1s");
    let out = w.ok(&["protect", "tenant", "reap-guarded", "-o", "json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["protected"], true);
    assert_eq!(w.row("reap-guarded")["protected"], true);
    let out = w.envctl(&["protect", "tenant", "reap-nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("reap-nobody is not in the state store"));
    let out = w.envctl(&["unprotect", "tenant", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(2));

    w.wait_until_expired("reap-guarded").await;
    let before = w.tagged("reap-guarded").await;
    let (code, report) = w.reap(&[]);
    assert_eq!(code, 0);
    assert_eq!(report["protected_skipped"], 1, "{report:#}");
    assert_eq!(report["destroyed"], 0);
    assert_eq!(report["tenants"][0]["action"], "protected_skipped");
    assert_eq!(w.tagged("reap-guarded").await, before);
    assert_eq!(w.row("reap-guarded")["status"], "ready");

    w.ok(&["unprotect", "tenant", "reap-guarded"]);
    assert_eq!(w.row("reap-guarded")["protected"], false);
    let (code, report) = w.reap(&[]);
    assert_eq!(code, 0);
    assert_eq!(report["destroyed"], 1, "{report:#}");
    assert_eq!(w.tagged("reap-guarded").await, Tagged::new());
}

#[tokio::test]
async fn unmanaged_lookalikes_are_listed_and_left_untouched() {
    let w = World::new();
    w.create("reap-twin", "1s");
    let lookalikes = w.make_lookalikes("reap-twin").await;
    let before = w.tagged("reap-twin").await;
    assert_eq!(before.len(), STACK_RESOURCES + lookalikes.len());
    w.wait_until_expired("reap-twin").await;

    let (code, report) = w.reap(&[]);
    assert_eq!(code, 0);
    assert_eq!(report["destroyed"], 1, "{report:#}");
    let listed: Vec<&str> = report["lookalikes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["resource"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "arn:aws:s3:::lookalike-reap-twin",
            "arn:aws:sqs:us-east-1:123456789012:envctl-reap-twin-lookalike"
        ]
    );

    let after = w.tagged("reap-twin").await;
    assert_eq!(
        after.keys().cloned().collect::<Vec<_>>(),
        lookalikes,
        "only the lookalikes are left"
    );
    for name in &lookalikes {
        assert_eq!(after[name], before[name], "{name} kept its tags");
    }
}

#[tokio::test]
async fn tags_that_disagree_with_the_state_refuse_the_tenant_and_delete_nothing() {
    let w = World::new();
    w.create("reap-moved", "1s");
    // One of its buckets now says it belongs to another environment.
    let (s3, _, _) = w.clients();
    // The name envctl gives it in this installation (moto's account).
    let account = aws_sdk_sts::Client::new(&w.moto.sdk_config())
        .get_caller_identity()
        .send()
        .await
        .unwrap()
        .account()
        .unwrap()
        .to_string();
    let bucket = &envctl::kinds::aws::s3::bucket_names::tenant_bucket(
        &account,
        "us-east-1",
        &envctl::tenant::TenantName::parse("reap-moved").unwrap(),
        "uploads",
    )
    .name;
    let mut tags = w.tagged("reap-moved").await[&format!("s3:{bucket}")].clone();
    tags.insert("envctl:environment".into(), "prod".into());
    let mut tagging = aws_sdk_s3::types::Tagging::builder();
    for (k, v) in &tags {
        tagging = tagging.tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .unwrap(),
        );
    }
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(tagging.build().unwrap())
        .send()
        .await
        .unwrap();
    let before = w.tagged("reap-moved").await;
    w.wait_until_expired("reap-moved").await;

    let (code, report) = w.reap(&[]);
    assert_eq!(code, 1, "a refusal makes the run fail");
    assert_eq!(report["refused"], 1, "{report:#}");
    assert_eq!(report["destroyed"], 0);
    let t = &report["tenants"][0];
    assert_eq!(t["action"], "refused");
    let reasons = t["reasons"].to_string();
    assert!(
        reasons.contains(&format!("arn:aws:s3:::{bucket}"))
            && reasons.contains("envctl:environment=prod"),
        "{reasons}"
    );
    assert_eq!(w.tagged("reap-moved").await, before, "nothing deleted");
    assert_eq!(w.row("reap-moved")["status"], "ready");

    // The table output says so too.
    let out = w.envctl(&["reap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("REFUSED"));
}

#[tokio::test]
async fn orphans_are_reported_and_destroyed_only_with_the_flag() {
    let w = World::new();
    // Created with one state store, reaped with another that never saw it.
    w.create_in("lost.sqlite", "reap-orphan", "14d");
    let lookalikes = w.make_lookalikes("reap-orphan").await;
    let before = w.tagged("reap-orphan").await;
    assert_eq!(managed_only(&before).len(), STACK_RESOURCES);

    let (code, report) = w.reap_with("fresh.sqlite", &[]);
    assert_eq!(code, 0);
    assert_eq!(report["orphans_found"], 1, "{report:#}");
    assert_eq!(report["orphans_destroyed"], 0);
    let orphan = &report["orphans"][0];
    assert_eq!(orphan["tenant"], "reap-orphan");
    assert_eq!(orphan["action"], "reported");
    assert_eq!(orphan["environments"], serde_json::json!(["dev"]));
    let resources = orphan["resources"].as_array().unwrap();
    assert_eq!(resources.len(), STACK_RESOURCES, "{resources:#?}");
    assert!(
        !orphan["resources"].to_string().contains("lookalike"),
        "unmanaged resources are never orphans"
    );
    assert_eq!(w.tagged("reap-orphan").await, before, "reported only");

    let (code, report) = w.reap_with("fresh.sqlite", &["--orphans", "--dry-run"]);
    assert_eq!(code, 0);
    assert_eq!(report["orphans"][0]["action"], "would_destroy");
    assert_eq!(w.tagged("reap-orphan").await, before, "dry run");

    let (code, report) = w.reap_with("fresh.sqlite", &["--orphans"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["orphans_destroyed"], 1);
    assert_eq!(report["orphans"][0]["action"], "destroyed");
    let after = w.tagged("reap-orphan").await;
    assert_eq!(
        after.keys().cloned().collect::<Vec<_>>(),
        lookalikes,
        "the orphan is gone, the lookalikes stay"
    );
}

#[tokio::test]
async fn a_dry_run_changes_nothing() {
    let w = World::new();
    w.create("reap-dry", "1s");
    w.create_in("elsewhere.sqlite", "reap-dry-orphan", "14d");
    w.wait_until_expired("reap-dry").await;

    let snapshot = || async {
        (
            w.ok(&["get", "tenants", "--all", "-o", "json"]).stdout,
            w.ok(&["describe", "tenant", "reap-dry", "-o", "json"])
                .stdout,
            w.tagged("reap-dry").await,
            w.tagged("reap-dry-orphan").await,
        )
    };
    let before = snapshot().await;
    assert_eq!(before.2.len(), STACK_RESOURCES);
    assert_eq!(before.3.len(), STACK_RESOURCES);

    let (code, report) = w.reap(&["--dry-run", "--orphans"]);
    assert_eq!(code, 0);
    assert_eq!(report["dry_run"], true);
    assert_eq!(
        report["would_destroy"], 2,
        "the tenant and the orphan: {report:#}"
    );
    assert_eq!(report["destroyed"], 0);
    assert_eq!(report["orphans_destroyed"], 0);
    assert_eq!(report["tenants"][0]["action"], "would_destroy");
    assert_eq!(report["orphans"][0]["tenant"], "reap-dry-orphan");

    let after = snapshot().await;
    assert!(
        before == after,
        "state rows, runs and resources are unchanged"
    );
}

#[tokio::test]
async fn extend_moves_the_expiry_and_restamps_the_tags() {
    let w = World::new();
    w.create("reap-later", "1h");
    let old: jiff::Timestamp = w.row("reap-later")["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let out = w.ok(&["extend", "tenant", "reap-later", "--by", "2h", "-o", "json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    let new: jiff::Timestamp = shown["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(new, old + jiff::SignedDuration::from_hours(2));
    assert_eq!(w.row("reap-later")["expires_at"], new.to_string());
    assert_eq!(shown["restamped"], STACK_RESOURCES);
    let tagged = w.tagged("reap-later").await;
    assert_eq!(tagged.len(), STACK_RESOURCES);
    for (name, tags) in &tagged {
        assert_eq!(
            tags.get("envctl:expires-at"),
            Some(&new.to_string()),
            "{name}"
        );
    }

    // Bad input: exit 2, a message naming the flag, and no change.
    for (args, says) in [
        (vec!["--by", "40d"], "--max-ttl"),
        (vec!["--by", "soon"], "--by 'soon'"),
        (vec!["--by", "0s"], "longer than zero"),
        (
            vec!["--by", "1d", "--max-ttl", "a while"],
            "--max-ttl 'a while'",
        ),
    ] {
        let mut all = vec!["extend", "tenant", "reap-later"];
        all.extend(args);
        let out = w.envctl(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        assert!(stderr(&out).contains(says), "{all:?}: {}", stderr(&out));
    }
    let out = w.envctl(&["extend", "tenant", "reap-nobody", "--by", "1d"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("reap-nobody is not in the state store"));
    assert_eq!(w.row("reap-later")["expires_at"], new.to_string());
}
