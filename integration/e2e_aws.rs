//! End-to-end: the `envctl` binary against a private moto server. Every check
//! of what exists goes through the AWS APIs, never through envctl's state.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Lines};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Output, Stdio};

use support::{Moto, repo_root};

/// One isolated world: a moto, a state file, a values bucket.
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
            bucket: "envctl-values-e2e".into(),
        }
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
            // The default stack needs ${envctl.domain} to load (a run that
            // makes its zone would also need the parent zone in moto).
            .env("ENVCTL_DOMAIN", "envctl-e2e.net")
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

    /// Starts envctl and reads its progress until a line contains `marker`;
    /// returns the child and the rest of its stderr.
    fn spawn_until(&self, args: &[&str], marker: &str) -> (Child, Lines<BufReader<ChildStderr>>) {
        let mut child = self
            .command(args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            eprintln!("child: {line}");
            if line.contains(marker) {
                return (child, lines);
            }
        }
        let status = child.wait();
        panic!(
            "envctl {} ended ({status:?}) before printing '{marker}'",
            args.join(" ")
        );
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.envctl(args);
        assert!(out.status.success(), "envctl {} failed", args.join(" "));
        out
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

    /// Every resource in moto tagged `envctl:tenant=<tenant>`, as
    /// "service:name", with its tags.
    async fn tagged(&self, tenant: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        let (s3, sqs, sns) = self.clients();
        let mut found = BTreeMap::new();
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
                found.insert(format!("sqs:{url}"), tags);
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
                found.insert(format!("sns:{arn}"), tags);
            }
        }
        found
    }

    /// Reads one object of the value store with boto3, an independent client.
    fn boto3_get(&self, key: &str) -> Option<String> {
        let script = format!(
            "import boto3,sys\ns3=boto3.client('s3',endpoint_url='{}')\ntry:\n  print(s3.get_object(Bucket='{}',Key='{}')['Body'].read().decode(),end='')\nexcept s3.exceptions.NoSuchKey:\n  sys.exit(3)",
            self.moto.endpoint, self.bucket, key
        );
        let mut c = Command::new(self.moto.python());
        c.args(["-c", &script]).env_clear();
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        match out.status.code() {
            Some(0) => Some(String::from_utf8(out.stdout).unwrap()),
            Some(3) => None,
            _ => panic!("boto3: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }

    async fn value_keys(&self, prefix: &str) -> Vec<String> {
        let (s3, _, _) = self.clients();
        match s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
        {
            Ok(r) => r
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The aws-basic stack's resources: 3 buckets, 5 queues + 5 dead-letter queues, 3 topics.
const TENANT_STACK_RESOURCES: usize = 3 + 10 + 3;

#[tokio::test]
async fn create_makes_each_resource_once_tagged_and_publishes_values() {
    let w = World::new();
    let out = w.ok(&[
        "create",
        "tenant",
        "acme",
        "--stack",
        "integration/stacks/aws-basic.yaml",
    ]);
    assert!(
        text(&out).contains("within_budget") || text(&out).contains("within budget"),
        "report shows the verdict"
    );

    let tagged = w.tagged("acme").await;
    assert_eq!(tagged.len(), TENANT_STACK_RESOURCES, "{tagged:#?}");
    for (name, tags) in &tagged {
        assert_eq!(
            tags.get("envctl:managed").map(String::as_str),
            Some("true"),
            "{name}"
        );
        assert_eq!(
            tags.get("envctl:stack").map(String::as_str),
            Some("aws-basic"),
            "{name}"
        );
        assert!(tags.contains_key("envctl:resource"), "{name}");
    }

    // Values at the documented keys, read with an independent client.
    let uploads = w
        .boto3_get("dev/acme/common/UPLOADS_BUCKET")
        .expect("UPLOADS_BUCKET published");
    assert!(
        tagged.contains_key(&format!("s3:{uploads}")),
        "the published bucket is the created one"
    );
    let queue = w
        .boto3_get("dev/acme/orders/QUEUE_URL")
        .expect("orders QUEUE_URL published");
    assert!(tagged.keys().any(|k| k == &format!("sqs:{queue}")));
    assert!(
        w.boto3_get("dev/acme/common/EVENTS_TOPIC_ARN")
            .unwrap()
            .starts_with("arn:aws:sns:")
    );
    let secret = w
        .boto3_get("dev/acme/common/SESSION_SECRET")
        .expect("secret published");
    assert_eq!(secret.len(), 48);

    // A second create adds nothing and keeps the secret.
    w.ok(&[
        "create",
        "tenant",
        "acme",
        "--stack",
        "integration/stacks/aws-basic.yaml",
    ]);
    let again = w.tagged("acme").await;
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        tagged.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        w.boto3_get("dev/acme/common/SESSION_SECRET").unwrap(),
        secret,
        "secret adopted, not regenerated"
    );
}

#[tokio::test]
async fn destroy_leaves_nothing_tagged_even_when_the_state_is_lost() {
    let w = World::new();
    w.ok(&[
        "create",
        "tenant",
        "gone",
        "--stack",
        "integration/stacks/aws-basic.yaml",
    ]);
    w.ok(&["create", "tenant", "lost", "--stack", "stacks/minimal.yaml"]);
    w.ok(&[
        "create",
        "tenant",
        "stays",
        "--stack",
        "stacks/minimal.yaml",
    ]);
    assert_eq!(w.tagged("gone").await.len(), TENANT_STACK_RESOURCES);

    let out = w.ok(&["destroy", "tenant", "gone", "--yes"]);
    assert!(text(&out).contains("deleted"));
    assert!(
        w.tagged("gone").await.is_empty(),
        "{:#?}",
        w.tagged("gone").await
    );
    assert!(
        w.value_keys("dev/gone/").await.is_empty(),
        "values of the tenant are gone"
    );

    // Lose the state, then destroy: the sweep by tag still finds everything.
    assert_eq!(w.tagged("lost").await.len(), 4);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", w.state_path().display()));
    }
    w.ok(&["destroy", "tenant", "lost", "--yes"]);
    assert!(w.tagged("lost").await.is_empty());
    assert!(w.value_keys("dev/lost/").await.is_empty());

    // Another tenant is untouched; destroying twice is fine.
    assert_eq!(w.tagged("stays").await.len(), 4);
    assert!(w.boto3_get("dev/stays/common/FILES_BUCKET").is_some());
    w.ok(&["destroy", "tenant", "lost", "--yes"]);
}

#[tokio::test]
async fn a_run_killed_mid_way_resumes_without_duplicates() {
    let w = World::new();
    // Wait for the run to be inside the slow node after the queue, then kill it.
    let (mut child, _stderr) = w.spawn_until(
        &[
            "create",
            "tenant",
            "crashy",
            "--stack",
            "integration/stacks/slow.yaml",
        ],
        "started   pause-2",
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = w.tagged("crashy").await;
    assert_eq!(
        before.len(),
        3,
        "bucket and queue+dlq exist, the topic not yet: {before:#?}"
    );

    let out = w.ok(&[
        "create",
        "tenant",
        "crashy",
        "--stack",
        "integration/stacks/slow.yaml",
    ]);
    assert!(
        text(&out).contains("skipped   first"),
        "finished nodes are skipped on resume"
    );
    let after = w.tagged("crashy").await;
    assert_eq!(
        after.len(),
        4,
        "one topic added, nothing duplicated: {after:#?}"
    );
    for k in before.keys() {
        assert!(after.contains_key(k), "{k} adopted, not replaced");
    }
}

#[tokio::test]
async fn a_second_create_of_a_busy_tenant_is_refused() {
    let w = World::new();
    let (mut first, stderr) = w.spawn_until(
        &[
            "create",
            "tenant",
            "busy",
            "--stack",
            "integration/stacks/slow.yaml",
        ],
        "started   pause-1",
    );
    let second = w.envctl(&[
        "create",
        "tenant",
        "busy",
        "--stack",
        "integration/stacks/slow.yaml",
    ]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        text(&second).contains("tenant 'busy' is busy"),
        "{}",
        text(&second)
    );
    for _ in stderr {}
    assert!(
        first.wait().unwrap().success(),
        "the first run is not disturbed"
    );
}

#[tokio::test]
async fn a_failed_run_stops_and_rollback_removes_what_it_made() {
    let w = World::new();
    let out = w.envctl(&[
        "create",
        "tenant",
        "failer",
        "--stack",
        "integration/stacks/failing.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("simulated failure"));
    assert_eq!(
        w.tagged("failer").await.len(),
        2,
        "bucket and queue made, `never` not started"
    );

    let out = w.envctl(&[
        "create",
        "tenant",
        "rolled",
        "--stack",
        "integration/stacks/failing.yaml",
        "--rollback-on-failure",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        w.tagged("rolled").await.is_empty(),
        "rollback deleted what the run made"
    );
}

#[tokio::test]
async fn throttled_nodes_are_retried() {
    let w = World::new();
    let out = w.ok(&[
        "create",
        "tenant",
        "flaky",
        "--stack",
        "integration/stacks/throttled.yaml",
    ]);
    assert!(text(&out).contains("retrying  flaky"), "{}", text(&out));
    assert_eq!(w.tagged("flaky").await.len(), 1);
}

#[tokio::test]
async fn bad_input_exits_2_and_creates_nothing() {
    let w = World::new();
    let bad_stack = w.dir.path().join("bad.yaml");
    std::fs::write(
        &bad_stack,
        "stack: bad\nresources:\n  - id: a\n    kind: aws.s3.buckit\n",
    )
    .unwrap();
    // Values AWS would refuse (Kind::check): caught at validation, with the
    // file and line, before anything exists.
    let out_of_range = w.dir.path().join("out-of-range.yaml");
    std::fs::write(
        &out_of_range,
        "stack: out-of-range\nresources:\n  \
         - id: jobs\n    kind: aws.sqs.queue\n    properties:\n      \
         visibility_timeout_seconds: 50000\n  \
         - id: events\n    kind: aws.sqs.queue\n    properties:\n      \
         dead_letter: perhaps\n  \
         - id: pw\n    kind: secret.password\n    properties:\n      \
         length: 5\n  \
         - id: files\n    kind: aws.s3.bucket\n    properties:\n      \
         cors: [{allowed_origins: [\"*\"], allowed_methods: [PATCH]}]\n  \
         - id: fn\n    kind: aws.lambda.function\n    properties:\n      \
         source: x\n      memory_mb: 64\n",
    )
    .unwrap();
    let out_of_range = out_of_range.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["create", "tenant", "okname", "--stack", out_of_range],
            "'visibility_timeout_seconds': is 50000; the most allowed is 43200",
        ),
        (
            vec!["create", "tenant", "okname", "--stack", out_of_range],
            "'dead_letter': must be true or false",
        ),
        (
            vec!["create", "tenant", "okname", "--stack", out_of_range],
            "'length': is 5; the least allowed is 16",
        ),
        (
            vec!["create", "tenant", "okname", "--stack", out_of_range],
            "'cors.0.allowed_methods.0': is PATCH; use one of: GET, PUT, HEAD, POST, DELETE",
        ),
        (
            vec!["create", "tenant", "okname", "--stack", out_of_range],
            "'memory_mb': is 64; Lambda accepts 128 to 10240",
        ),
        (vec!["create", "tenant", "Bad_Name"], "invalid tenant name"),
        (
            vec![
                "create",
                "tenant",
                "okname",
                "--stack",
                bad_stack.to_str().unwrap(),
            ],
            "aws.s3.buckit",
        ),
        (
            vec!["create", "tenant", "okname", "--stack", "no/such/file.yaml"],
            "no/such/file.yaml",
        ),
        (
            vec!["create", "tenant", "okname", "--budget", "soon"],
            "--budget",
        ),
        (
            vec!["create", "tenant", "okname", "--limit", "rds"],
            "--limit",
        ),
        (vec!["destroy", "tenant", "okname"], "--yes"),
        (
            vec!["env", "set", "lower_case", "v", "--tenant", "okname"],
            "KEY 'lower_case' is malformed",
        ),
    ];
    for (args, needle) in cases {
        let out = w.envctl(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out).contains(needle), "{args:?}: {}", text(&out));
    }
    assert!(!w.state_path().exists(), "no state was created");
    let (s3, _, _) = w.clients();
    assert!(
        s3.list_buckets().send().await.unwrap().buckets().is_empty(),
        "no bucket was created"
    );
}

#[tokio::test]
async fn plan_shows_waves_and_critical_path_and_touches_nothing() {
    let w = World::new();
    let out = w.ok(&[
        "plan",
        "tenant",
        "acme",
        "--stack",
        "integration/stacks/aws-basic.yaml",
        "-o",
        "json",
    ]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let waves = plan["waves"].as_array().unwrap();
    assert_eq!(waves.len(), 2, "queues and buckets first, then the topics");
    // The ETA is the critical path's length, and no single node is longer.
    let expected: BTreeMap<String, u64> = waves
        .iter()
        .flat_map(|w| w.as_array().unwrap())
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_string(),
                n["expected_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    let path_ms: u64 = plan["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| expected[id.as_str().unwrap()])
        .sum();
    assert_eq!(plan["eta_ms"].as_u64().unwrap(), path_ms);
    assert!(expected.values().all(|ms| *ms <= path_ms));
    assert!(!w.state_path().exists());
    let (s3, _, _) = w.clients();
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
    let table = w.ok(&[
        "plan",
        "tenant",
        "acme",
        "--stack",
        "integration/stacks/aws-basic.yaml",
    ]);
    assert!(text(&table).contains("critical path:"));
}

#[tokio::test]
async fn report_and_describe_show_the_run_and_the_timeline() {
    let w = World::new();
    w.ok(&["create", "tenant", "rep", "--stack", "stacks/minimal.yaml"]);
    let out = w.ok(&["report", "tenant", "rep", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "within_budget");
    assert_eq!(report["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(
        report["critical_path"].as_array().unwrap().last().unwrap(),
        "events"
    );
    let svg = w.dir.path().join("t.svg");
    w.ok(&["report", "tenant", "rep", "--svg", svg.to_str().unwrap()]);
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg") && picture.contains("events"));
    let d = w.ok(&["describe", "tenant", "rep", "-o", "json"]);
    let d: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    assert_eq!(d["tenant"]["status"], "ready");
    let listed = w.ok(&["get", "tenants", "-o", "yaml"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("name: rep"));
}

#[tokio::test]
async fn env_values_merge_with_precedence_and_mask_secrets() {
    let w = World::new();
    w.ok(&["env", "set", "LOG_LEVEL", "info", "--environment", "prod"]);
    w.ok(&[
        "env",
        "set",
        "LOG_LEVEL",
        "debug",
        "--environment",
        "prod",
        "--tenant",
        "acme",
    ]);
    w.ok(&[
        "env",
        "set",
        "LOG_LEVEL",
        "trace",
        "--environment",
        "prod",
        "--tenant",
        "acme",
        "--service",
        "billing",
    ]);
    w.ok(&["env", "set", "REGION_NAME", "eu", "--environment", "prod"]);
    w.ok(&[
        "env",
        "set",
        "API_TOKEN",
        "tok-3141592653",
        "--environment",
        "prod",
        "--tenant",
        "acme",
        "--secret",
    ]);
    assert_eq!(
        w.boto3_get("prod/acme/billing/LOG_LEVEL").as_deref(),
        Some("trace")
    );
    assert_eq!(
        w.boto3_get("prod/common/REGION_NAME").as_deref(),
        Some("eu")
    );

    let get = |svc: &str, reveal: bool| {
        let mut args = vec![
            "env",
            "get",
            "--environment",
            "prod",
            "--tenant",
            "acme",
            "--service",
            svc,
            "-o",
            "json",
        ];
        if reveal {
            args.push("--reveal");
        }
        let out = w.ok(&args);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["key"].as_str().unwrap().to_string(),
                    (
                        e["value"].as_str().unwrap().to_string(),
                        e["from"].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let billing = get("billing", false);
    assert_eq!(
        billing["LOG_LEVEL"],
        ("trace".into(), "service billing".into())
    );
    assert_eq!(
        billing["REGION_NAME"],
        ("eu".into(), "environment-common".into())
    );
    assert_eq!(billing["API_TOKEN"].1, "tenant-common");
    assert_ne!(
        billing["API_TOKEN"].0, "tok-3141592653",
        "masked without --reveal"
    );
    assert_eq!(
        get("search", false)["LOG_LEVEL"],
        ("debug".into(), "tenant-common".into())
    );
    assert_eq!(get("search", true)["API_TOKEN"].0, "tok-3141592653");

    w.ok(&[
        "env",
        "rm",
        "LOG_LEVEL",
        "--environment",
        "prod",
        "--tenant",
        "acme",
        "--service",
        "billing",
    ]);
    assert_eq!(get("billing", false)["LOG_LEVEL"].0, "debug");
}

#[tokio::test]
async fn secret_values_never_reach_output_logs_or_state() {
    let w = World::new();
    let mut seen = String::new();
    for args in [
        vec![
            "-vv",
            "create",
            "tenant",
            "sec",
            "--stack",
            "integration/stacks/aws-basic.yaml",
        ],
        vec![
            "-vv",
            "create",
            "tenant",
            "sec",
            "--stack",
            "integration/stacks/aws-basic.yaml",
            "-o",
            "json",
        ],
        vec!["describe", "tenant", "sec", "-o", "json"],
        vec!["report", "tenant", "sec", "-o", "yaml"],
        vec![
            "env",
            "get",
            "--environment",
            "dev",
            "--tenant",
            "sec",
            "--service",
            "webhooks",
        ],
        vec!["env", "ls", "--environment", "dev", "--tenant", "sec"],
    ] {
        seen.push_str(&text(&w.ok(&args)));
    }
    let secrets = [
        w.boto3_get("dev/sec/common/SESSION_SECRET")
            .expect("published"),
        w.boto3_get("dev/sec/webhooks/WEBHOOK_SIGNING_KEY")
            .expect("published"),
    ];
    seen.push_str(&text(&w.ok(&["-vv", "destroy", "tenant", "sec", "--yes"])));
    let mut state_bytes = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", w.state_path().display())) {
            state_bytes.extend(b);
        }
    }
    assert!(!state_bytes.is_empty());
    for s in &secrets {
        assert!(s.len() >= 32);
        assert!(!seen.contains(s.as_str()), "a secret reached the output");
        assert!(
            !state_bytes.windows(s.len()).any(|win| win == s.as_bytes()),
            "a secret reached the state file"
        );
    }
}

/// A literal published as secret, and a plain env.value that copies a
/// generated password: both are secret outputs for the engine, so neither
/// reaches the journal (state) nor the output.
#[tokio::test]
async fn secret_literals_and_copies_of_secrets_stay_out_of_state() {
    let w = World::new();
    let stack = "integration/stacks/secret-copies.yaml";
    let mut seen = text(&w.ok(&["-vv", "create", "tenant", "sc", "--stack", stack]));
    seen.push_str(&text(&w.ok(&["describe", "tenant", "sc", "-o", "json"])));
    let token = w.boto3_get("dev/sc/common/API_TOKEN").expect("published");
    let password = w.boto3_get("dev/sc/common/DB_PASSWORD").expect("published");
    assert_eq!(token, "literal-token-3f9c1e7a5b2d4c6e8f0a1b3c5d7e9f11");
    assert_eq!(password.len(), 40);
    // Resuming re-applies nodes with secret outputs; it still succeeds.
    seen.push_str(&text(
        &w.ok(&["-vv", "create", "tenant", "sc", "--stack", stack]),
    ));
    seen.push_str(&text(&w.ok(&["-vv", "destroy", "tenant", "sc", "--yes"])));
    let mut state_bytes = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", w.state_path().display())) {
            state_bytes.extend(b);
        }
    }
    assert!(!state_bytes.is_empty());
    for s in [&token, &password] {
        assert!(!seen.contains(s.as_str()), "a secret reached the output");
        assert!(
            !state_bytes.windows(s.len()).any(|win| win == s.as_bytes()),
            "a secret reached the state file"
        );
    }
}

#[tokio::test]
async fn ctrl_c_stops_cleanly_and_a_rerun_resumes() {
    let w = World::new();
    let (mut child, lines) = w.spawn_until(
        &[
            "create",
            "tenant",
            "interrupted",
            "--stack",
            "integration/stacks/slow.yaml",
        ],
        "started   pause-1",
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{rest:#?}");
    let rest = rest.join("\n");
    assert!(rest.contains("cancelling"), "{rest}");
    assert!(
        rest.contains("run the same command again to resume"),
        "{rest}"
    );
    assert!(
        !rest.contains("started   queue"),
        "nothing new starts after Ctrl-C: {rest}"
    );

    // The intent log is consistent: describe reads it, and a rerun resumes.
    let d = w.ok(&["describe", "tenant", "interrupted", "-o", "json"]);
    let d: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    assert_eq!(d["tenant"]["status"], "interrupted");
    let out = w.ok(&[
        "create",
        "tenant",
        "interrupted",
        "--stack",
        "integration/stacks/slow.yaml",
    ]);
    assert!(text(&out).contains("skipped   first"));
    assert_eq!(w.tagged("interrupted").await.len(), 4);
}

#[tokio::test]
async fn a_run_over_its_budget_warns_early_and_says_so() {
    let w = World::new();
    let out = w.ok(&[
        "create",
        "tenant",
        "late",
        "--stack",
        "integration/stacks/slow.yaml",
        "--budget",
        "2s",
    ]);
    let t = text(&out);
    let warning = t.find("WARNING   forecast").expect("a budget warning");
    let last_start = t.find("started   topic").expect("topic started");
    assert!(
        warning < last_start,
        "the warning comes while the run is still going:\n{t}"
    );
    assert!(t.contains("over budget"), "{t}");
}

#[tokio::test]
async fn a_stack_timeout_bounds_the_wait_for_a_certificate() {
    let w = World::new();
    let out = w.envctl(&[
        "create",
        "tenant",
        "slowcert",
        "--stack",
        "integration/stacks/cert-timeout.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains("waiting   certificate"),
        "the real describe calls were polled:\n{t}"
    );
    assert!(
        t.contains("not ready after 200ms") && t.contains("PENDING_VALIDATION"),
        "{t}"
    );
    // With the kind's own timeout the same stack completes.
    let relaxed = w.dir.path().join("relaxed.yaml");
    let text_of =
        std::fs::read_to_string(repo_root().join("integration/stacks/cert-timeout.yaml")).unwrap();
    std::fs::write(
        &relaxed,
        text_of.replace("timeouts:\n  aws.acm.certificate: 200ms\n", ""),
    )
    .unwrap();
    w.ok(&[
        "create",
        "tenant",
        "slowcert",
        "--stack",
        relaxed.to_str().unwrap(),
    ]);
}

#[tokio::test]
async fn without_a_cluster_kubernetes_nodes_fail_and_destroy_will_not_pretend() {
    let w = World::new();
    // Preflight refuses this create (exit 2, integration/preflight.rs); past
    // it, the namespace node fails by itself.
    let out = w.envctl(&[
        "create",
        "tenant",
        "nocluster",
        "--stack",
        "integration/stacks/namespace-only.yaml",
        "--skip-preflight",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("set KUBECONFIG"), "{}", text(&out));
    // The tenant used a Kubernetes kind: destroy cannot check the cluster, so
    // it fails instead of reporting a clean removal.
    let out = w.envctl(&["destroy", "tenant", "nocluster", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        w.tagged("nocluster").await.is_empty(),
        "the AWS side is removed all the same"
    );
    // An AWS-only tenant destroys cleanly, with a warning about the skipped sweep.
    w.ok(&[
        "create",
        "tenant",
        "awsonly",
        "--stack",
        "stacks/minimal.yaml",
    ]);
    let out = w.ok(&["destroy", "tenant", "awsonly", "--yes"]);
    assert!(
        text(&out).contains("sweep of k8s.namespace skipped"),
        "{}",
        text(&out)
    );
}

/// Releases on the local backends: every create records a revision that
/// `history` lists, `diff` compares a stack with the last one (exit 3 when
/// something would change, 0 when nothing), a pinned tenant's create is
/// refused with exit 2 until it is unpinned, and a literal secret of the
/// stack never reaches the stored revisions.
#[tokio::test]
async fn history_diff_and_pin_follow_the_creates_of_a_tenant() {
    const SECRET: &str = "hunter2-e2e-literal-secret-3141";
    let w = World::new();
    let stack = |value: &str| {
        let path = w.dir.path().join(format!("rel-{value}.yaml"));
        std::fs::write(
            &path,
            format!(
                "stack: rel\nenvironment: dev\nresources:\n  - {{ id: a, kind: sim.delay, properties: {{ value: {value} }} }}\n  - {{ id: key, kind: env.value, properties: {{ value: {SECRET} }}, publish: [{{ output: value, key: SIGNING_KEY, level: tenant, secret: true }}] }}\n"
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let (one, two, three) = (stack("one"), stack("two"), stack("three"));
    let create = |path: &str| {
        w.envctl(&[
            "create",
            "tenant",
            "rel",
            "--stack",
            path,
            "--skip-preflight",
        ])
    };
    assert!(create(&one).status.success());
    let second = create(&two);
    assert!(second.status.success());
    assert!(
        text(&second).contains("revision 2 recorded"),
        "{}",
        text(&second)
    );

    let out = w.ok(&["history", "tenant", "rel", "-o", "json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let revisions: Vec<i64> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(revisions, [1, 2]);
    assert_eq!(h[1]["changes"]["to_change"], 1, "{h}");
    assert_eq!(h[1]["stack_path"], two.as_str());
    assert!(h[1]["run_id"].as_str().is_some_and(|r| !r.is_empty()));
    let table = text(&w.ok(&["history", "tenant", "rel"]));
    assert!(table.contains("first revision"), "{table}");

    // Against revision 2: the same stack changes nothing, another one
    // changes node a.
    let same = w.envctl(&["diff", "tenant", "rel"]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert!(text(&same).contains("No changes"), "{}", text(&same));
    let changed = w.envctl(&["diff", "tenant", "rel", "--stack", &three]);
    assert_eq!(changed.status.code(), Some(3), "{}", text(&changed));
    let shown = text(&changed);
    assert!(shown.contains("value: \"two\" -> \"three\""), "{shown}");
    assert!(
        shown.contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy; 1 unchanged."),
        "{shown}"
    );

    // `plan` of an existing tenant shows the same diff.
    let plan = w.ok(&[
        "plan",
        "tenant",
        "rel",
        "--stack",
        &three,
        "--skip-preflight",
        "-o",
        "json",
    ]);
    let p: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(p["changes"]["revision"], 2, "{p}");
    assert_eq!(p["changes"]["to_change"], 1, "{p}");
    assert_eq!(p["changes"]["changes"][0]["fields"][0]["field"], "value");

    w.ok(&["pin", "tenant", "rel"]);
    let refused = create(&three);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("tenant rel is pinned at revision 2")
            && text(&refused).contains("envctl unpin tenant rel"),
        "{}",
        text(&refused)
    );
    assert!(text(&w.ok(&["get", "tenants"])).contains("rev 2"));
    assert!(text(&w.ok(&["history", "tenant", "rel"])).contains("2 (pinned)"));
    w.ok(&["unpin", "tenant", "rel"]);
    assert!(create(&three).status.success());
    let out = w.ok(&["history", "tenant", "rel", "-o", "json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 3);

    // The stored revisions name the KEY and hold a marker for the value.
    // (The journal's events are another matter: env.value's output is plain.)
    let state = envctl::state::StateStore::open_path(&w.state_path())
        .await
        .unwrap();
    let stored = state.revisions("rel").await.unwrap();
    assert_eq!(stored.len(), 3);
    for r in &stored {
        assert!(r.content_json.contains("SIGNING_KEY"), "{}", r.content_json);
        assert!(
            r.content_json.contains(envctl::release::SECRET_MARKER),
            "{}",
            r.content_json
        );
        assert!(
            !r.content_json.contains(SECRET),
            "a literal secret of the stack reached a stored revision"
        );
    }
}

/// `rollback` re-applies an earlier revision through create and records it
/// as a new one, whose content is that revision's: `diff` against the
/// earlier stack finds nothing.
#[tokio::test]
async fn rollback_reapplies_an_earlier_revision_as_a_new_one() {
    let w = World::new();
    let stack = |value: &str| {
        let path = w.dir.path().join(format!("rb-{value}.yaml"));
        std::fs::write(
            &path,
            format!(
                "stack: rb\nenvironment: dev\nresources:\n  - {{ id: a, kind: sim.delay, properties: {{ value: {value} }} }}\n  - {{ id: b, kind: sim.delay, depends_on: [a] }}\n"
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let (one, two) = (stack("one"), stack("two"));
    for s in [&one, &two] {
        w.ok(&["create", "tenant", "rb", "--stack", s, "--skip-preflight"]);
    }
    let none = w.envctl(&["rollback", "tenant", "rb", "--to", "9", "--skip-preflight"]);
    assert_eq!(none.status.code(), Some(2), "{}", text(&none));
    assert!(text(&none).contains("revisions 1 to 2"), "{}", text(&none));

    let back = w.ok(&["rollback", "tenant", "rb", "--skip-preflight"]);
    assert!(
        text(&back).contains("revision 3 recorded, the content of revision 1"),
        "{}",
        text(&back)
    );
    let same = w.envctl(&["diff", "tenant", "rb", "--stack", &one]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    let changed = w.envctl(&["diff", "tenant", "rb", "--stack", &two]);
    assert_eq!(changed.status.code(), Some(3), "{}", text(&changed));
    assert!(text(&changed).contains("value: \"one\" -> \"two\""));
}
