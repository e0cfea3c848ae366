//! `make bench`: figures for the engine, printed, never asserted.
//!
//! 1. validate + plan time for a synthetic 1,000-node stack and for
//!    `stacks/tenant.yaml`;
//! 2. bookkeeping per node: the intent-log writes (started + succeeded) and
//!    the progress event, on a SQLite file;
//! 3. a simulated run whose node durations come from real AWS timings scaled
//!    down: makespan divided by the critical-path lower bound (1.00 is ideal);
//! 4. `envctl serve`: the time from `POST /api/tenants` to the run's first
//!    progress event on its event stream (the list endpoint's requests/s are
//!    `bench_serve.rs`'s);
//! 5. the default stack created and destroyed through the realism layer
//!    (`bench_realism.rs`), as run and at real AWS durations;
//! 6. the fast stack on shared infrastructure with an empty and a warm pool
//!    (one run at x1, measured), and 20 concurrent creates against a pool
//!    of 10 (`bench_fast.rs`).

#[path = "support/mod.rs"]
mod support;

#[path = "bench_realism.rs"]
mod bench_realism;

#[path = "bench_fast.rs"]
mod bench_fast;

#[path = "bench_x1.rs"]
mod bench_x1;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use envctl::engine::{CreateRequest, Engine, ProgressSink, RetryPolicy};
use envctl::envapi::ValueStore;
use envctl::graph::Graph;
use envctl::journal::Journal;
use envctl::kinds::aws::AwsClients;
use envctl::kinds::{Backends, Outputs};
use envctl::state::StateStore;
use envctl::tenant::TenantName;

/// Real AWS timings (seconds) for the kinds of a SaaS tenant; see the kinds'
/// `expected()` for sources. Scaled by SCALE for the simulated run.
const AWS_SECONDS: &[(&str, f64)] = &[
    ("network", 30.0),
    ("security-group", 3.0),
    ("certificate", 300.0),
    ("database", 480.0),
    ("load-balancer", 180.0),
    ("dns-record", 60.0),
    ("bucket", 2.0),
    ("queue", 1.0),
    ("topic", 1.0),
    ("lambda", 10.0),
    ("autoscaling", 90.0),
    ("namespace", 1.0),
    ("service", 45.0),
];
const SCALE: f64 = 1.0 / 400.0;

fn synthetic_stack(n: usize) -> String {
    // A layered DAG: each node depends on up to three nodes of earlier layers.
    let mut s = String::from("stack: synthetic\nresources:\n");
    for i in 0..n {
        s.push_str(&format!("  - id: n{i}\n    kind: sim.delay\n"));
        let deps: Vec<String> = [i / 2, i / 3, i.saturating_sub(7)]
            .iter()
            .filter(|&&d| d < i)
            .map(|d| format!("n{d}"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !deps.is_empty() {
            s.push_str(&format!("    depends_on: [{}]\n", deps.join(", ")));
        }
    }
    s
}

/// The shape of a full tenant (issue 3 and 4 kinds), with sim.delay nodes.
fn tenant_shaped_stack() -> String {
    let d = |name: &str| {
        let secs = AWS_SECONDS.iter().find(|(k, _)| *k == name).unwrap().1;
        format!("{}ms", (secs * SCALE * 1000.0).round() as u64)
    };
    let mut s = String::from("stack: simulated-tenant\nresources:\n");
    let mut node = |id: &str, kind: &str, deps: &[&str]| {
        s.push_str(&format!(
            "  - id: {id}\n    kind: sim.delay\n    properties: {{ duration: {} }}\n",
            d(kind)
        ));
        if !deps.is_empty() {
            s.push_str(&format!("    depends_on: [{}]\n", deps.join(", ")));
        }
    };
    node("network", "network", &[]);
    node("db-sg", "security-group", &["network"]);
    node("alb-sg", "security-group", &["network"]);
    node("certificate", "certificate", &[]);
    node("database", "database", &["db-sg"]);
    node("alb", "load-balancer", &["alb-sg", "certificate"]);
    node("dns", "dns-record", &["alb"]);
    for b in ["uploads", "exports", "backups"] {
        node(b, "bucket", &[]);
    }
    for q in ["orders-q", "notify-q", "audit-q", "thumbs-q", "exports-q"] {
        node(q, "queue", &[]);
    }
    node("events", "topic", &["notify-q", "audit-q"]);
    node("thumbnailer", "lambda", &["thumbs-q", "uploads"]);
    node("workers", "autoscaling", &["network"]);
    node("namespace", "namespace", &[]);
    for i in 0..50 {
        let id = format!("svc-{i:02}");
        let deps: Vec<&str> = match i % 5 {
            0 => vec!["namespace", "database"],
            1 => vec!["namespace", "orders-q"],
            2 => vec!["namespace", "uploads", "events"],
            3 => vec!["namespace", "dns"],
            _ => vec!["namespace"],
        };
        node(&id, "service", &deps);
    }
    s
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

/// The installation domain the default stack is loaded with.
const BENCH_DOMAIN: &str = "envctl-bench.net";

fn validate_and_plan(path: &Path, text: &str) -> (usize, Duration) {
    let (n, d) = time(|| {
        // The default stack needs ${envctl.domain}.
        let stack = envctl::stack::load_str_in(
            path,
            text,
            &envctl::stack::Catalog::registry(),
            &envctl::stack::Builtins::with_domain(BENCH_DOMAIN),
        )
        .expect("valid stack");
        let graph = Graph::build(&stack).expect("acyclic");
        let waves = graph.waves();
        let (_cp, _len) = graph.critical_path(&|_| Duration::from_secs(1));
        assert!(!waves.is_empty());
        graph.len()
    });
    (n, d)
}

fn main() {
    // SAFETY: single-threaded at this point; the AWS settings must be set
    // before any SDK code runs so nothing probes the metadata address.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    println!("envctl engine benchmark");

    // 1. validate + plan
    let synthetic = synthetic_stack(1000);
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let (n, d) = validate_and_plan(Path::new("synthetic.yaml"), &synthetic);
        assert_eq!(n, 1000);
        best = best.min(d);
    }
    println!(
        "validate+plan, synthetic 1,000-node stack: {:.1} ms (best of 5)",
        best.as_secs_f64() * 1e3
    );
    let tenant_text =
        std::fs::read_to_string(support::repo_root().join("stacks/tenant.yaml")).unwrap();
    let mut best = Duration::MAX;
    let mut nodes = 0;
    for _ in 0..5 {
        let (n, d) = validate_and_plan(Path::new("stacks/tenant.yaml"), &tenant_text);
        nodes = n;
        best = best.min(d);
    }
    println!(
        "validate+plan, stacks/tenant.yaml ({nodes} nodes): {:.2} ms (best of 5)",
        best.as_secs_f64() * 1e3
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // 2. bookkeeping per node
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::open_path(&dir.path().join("bench.sqlite")).await.unwrap();
        let journal = Journal::new(state.clone(), "bench", "run-1", &BTreeMap::new());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let sink = ProgressSink::new(tx);
        let outputs = Outputs::new().plain("arn", "arn:aws:s3:::envctl-bench-node").plain("name", "envctl-bench-node");
        let n = 1000;
        let t = Instant::now();
        for i in 0..n {
            let id = format!("n{i}");
            journal.started(&id, "aws.s3.bucket", "hash").await.unwrap();
            sink.send(envctl::engine::Progress::NodeStarted { id: id.clone(), kind: "aws.s3.bucket".into() });
            journal.succeeded(&id, "aws.s3.bucket", &outputs, "hash").await.unwrap();
            sink.send(envctl::engine::Progress::NodeSkipped { id });
        }
        let per = t.elapsed() / n;
        while rx.try_recv().is_ok() {}
        println!("bookkeeping per node (started + succeeded journal rows + 2 events, SQLite WAL): {:.2} ms", per.as_secs_f64() * 1e3);

        // 3. simulated run on a moto (the engine publishes to the value store)
        let moto = support::Moto::start();
        let aws = AwsClients::from_config(&moto.sdk_config());
        let values = ValueStore::new(aws.s3.clone(), "envctl-bench-values");
        // As in a real environment, the value bucket exists before a run (and
        // moto's first request, which takes about a second, is not timed).
        values.ensure_bucket().await.unwrap();
        let engine = Engine {
            backends: Arc::new(Backends {
                aws,
                values,
                kube: envctl::kinds::k8s::KubeClient::from_env(),
            }),
            state: state.clone(),
            policy: RetryPolicy::default(),
            cancel: Default::default(),
            progress: ProgressSink::discard(),
            // Every simulated node shares the `sim` API; real kinds spread over
            // several APIs, so do not let one API's bound serialise them.
            limit_overrides: [("sim".to_string(), 128)].into(),
            parallelism: 128,
        };
        let text = tenant_shaped_stack();
        let stack = envctl::stack::load_str(Path::new("simulated-tenant.yaml"), &text).unwrap();
        let graph = Graph::build(&stack).unwrap();
        let durations: BTreeMap<String, Duration> = stack
            .resources
            .iter()
            .map(|r| {
                let d = r.properties["duration"].as_str().unwrap();
                (r.id.clone(), humantime::parse_duration(d).unwrap())
            })
            .collect();
        let (cp, lower) = graph.critical_path(&|id| durations[id]);
        let sum: Duration = durations.values().sum();
        let req = CreateRequest {
            tenant: TenantName::parse("bench").unwrap(),
            stack,
            environment: "bench".into(),
            budget: Duration::from_secs(900),
            expires_at: None,
            rollback_on_failure: false,
            owner: None,
            note: None,
            run_id: None,
        };
        let t = Instant::now();
        let report = engine.create(&req).await.unwrap();
        let makespan = t.elapsed();
        println!(
            "simulated tenant ({} nodes, AWS timings x{SCALE}): makespan {:.2} s, critical-path lower bound {:.2} s ({}), sum of durations {:.2} s",
            graph.len(),
            makespan.as_secs_f64(),
            lower.as_secs_f64(),
            cp.join(" -> "),
            sum.as_secs_f64()
        );
        println!(
            "makespan / critical path = {:.3}  (verdict {:?})",
            makespan.as_secs_f64() / lower.as_secs_f64(),
            report.verdict
        );

        // 4. the server
        serve_figures(&engine, dir.path(), &text).await;

        // 5. the default stack at real AWS latencies (realism layer)
        bench_realism::figures().await;
    });
}

const BENCH_TOKEN: &str = "bench-operator-token";

async fn serve_figures(engine: &Engine, dir: &Path, stack_text: &str) {
    use sha2::Digest;
    let stack_path = dir.join("simulated-tenant.yaml");
    std::fs::write(&stack_path, stack_text).unwrap();
    let config = format!(
        "max_concurrent_runs: 8\nstacks: {{ sim: {} }}\ntokens: [{{ name: bench, role: operator, sha256: {} }}]\n",
        stack_path.display(),
        hex::encode(sha2::Sha256::digest(BENCH_TOKEN))
    );
    let config = envctl::serve::ServeConfig::parse(&dir.join("serve.yaml"), &config).unwrap();
    let state = StateStore::open_path(&dir.join("serve.sqlite"))
        .await
        .unwrap();
    let mut engine = engine.clone();
    engine.state = state;
    let app = envctl::serve::app(config, engine);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(envctl::serve::serve(app, listener));
    let client = reqwest::Client::new();

    // From the request to the run's first progress event.
    let mut samples = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        let accepted: serde_json::Value = client
            .post(format!("{base}/api/tenants"))
            .bearer_auth(BENCH_TOKEN)
            .json(&serde_json::json!({ "name": format!("first-event-{i}") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let run = accepted["run"]["id"]
            .as_str()
            .expect("accepted")
            .to_string();
        let mut events = client
            .get(format!("{base}/api/runs/{run}/events"))
            .bearer_auth(BENCH_TOKEN)
            .send()
            .await
            .unwrap();
        let mut seen = String::new();
        // The first snapshot with the run's size in it: the engine has begun.
        while !seen.contains("\"total\":") || seen.contains("\"total\":0") {
            let chunk = events.chunk().await.unwrap().expect("stream open");
            seen = String::from_utf8_lossy(&chunk).into_owned();
        }
        samples.push(t.elapsed());
    }
    samples.sort();
    println!(
        "serve: POST /api/tenants to the first progress event: median {:.1} ms, max {:.1} ms (5 runs)",
        samples[2].as_secs_f64() * 1e3,
        samples[4].as_secs_f64() * 1e3
    );
}
