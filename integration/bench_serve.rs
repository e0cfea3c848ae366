//! `make bench`, the server's part: requests per second of `GET
//! /api/tenants` with 1,000 tenants, on SQLite and on PostgreSQL, and where
//! a request's time goes (printed, never asserted). Built by `cargo bench`,
//! so in the release profile; the figure says which.
//!
//! PostgreSQL: `ENVCTL_TEST_POSTGRES` if set (a database of its own is made
//! on it), else a private server started with `integration/postgres.sh` in a
//! temporary directory and stopped at the end; without one, its figures are
//! skipped with the reason.

#[path = "support/mod.rs"]
mod support;

#[path = "support/postgres.rs"]
mod postgres;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use envctl::engine::{Engine, ProgressSink, RetryPolicy};
use envctl::envapi::ValueStore;
use envctl::graph::Graph;
use envctl::kinds::Backends;
use envctl::kinds::aws::AwsClients;
use envctl::serve::views::TenantView;
use envctl::state::{StateStore, TenantRow};

const TENANTS: usize = 1000;
const TOKEN: &str = "bench-viewer-token";
const CLIENTS: usize = 8;
const WINDOW: Duration = Duration::from_secs(5);

fn main() {
    // SAFETY: single-threaded at this point; set before any SDK code runs,
    // so nothing probes the metadata address.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("envctl serve benchmark ({profile} build, {CLIENTS} clients in the same process)");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = dir.path().join("serve.sqlite").display().to_string();
        list_figures("SQLite", &sqlite, dir.path()).await;
        match Postgres::get().await {
            Ok(pg) => {
                list_figures("PostgreSQL", &pg.url, dir.path()).await;
                pg.stop();
            }
            Err(why) => println!("serve (PostgreSQL): skipped: {why}"),
        }
    });
}

/// Seeds `TENANTS` tenants at `location`, then times the parts of a list
/// request and the whole request through a server.
async fn list_figures(backend: &str, location: &str, dir: &Path) {
    let state = StateStore::open(location).await.unwrap();
    seed(&state).await;

    // Where a request's time goes.
    let version = best_of(20, || async {
        state.tenants_version().await.unwrap();
    })
    .await;
    let read = best_of(20, || async {
        assert_eq!(state.tenants().await.unwrap().len(), TENANTS);
    })
    .await;
    let rows = state.tenants().await.unwrap();
    let views = best_of(20, || async {
        let views: Vec<TenantView> = rows.iter().map(|r| TenantView::of(r, None)).collect();
        std::hint::black_box(serde_json::to_vec(&views).unwrap());
    })
    .await;
    println!(
        "serve ({backend}): one list request's parts: the change counter {:.3} ms; on a change only, reading {TENANTS} tenant rows {:.1} ms and making + serializing their views {:.1} ms (best of 20)",
        ms(version),
        ms(read),
        ms(views)
    );

    let base = start_server(state, dir).await;
    let list = format!("{base}/api/tenants");
    let client = reqwest::Client::new();
    let first = client.get(&list).bearer_auth(TOKEN).send().await.unwrap();
    assert!(first.status().is_success());
    let size = first.bytes().await.unwrap().len();
    let t = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (client, list) = (client.clone(), list.clone());
        clients.spawn(async move {
            let mut n = 0u64;
            while t.elapsed() < WINDOW {
                let r = client.get(&list).bearer_auth(TOKEN).send().await.unwrap();
                assert!(r.status().is_success());
                assert_eq!(r.bytes().await.unwrap().len(), size);
                n += 1;
            }
            n
        });
    }
    let total: u64 = clients.join_all().await.into_iter().sum();
    println!(
        "serve ({backend}): GET /api/tenants with {TENANTS} tenants ({} KiB): {:.0} requests/s ({CLIENTS} clients, {} s)",
        size / 1024,
        total as f64 / t.elapsed().as_secs_f64(),
        WINDOW.as_secs()
    );
}

async fn best_of<F: std::future::Future<Output = ()>>(n: usize, f: impl Fn() -> F) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        best = best.min(t.elapsed());
    }
    best
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `TENANTS` tenants, each storing the default stack's graph as in use.
async fn seed(state: &StateStore) {
    let tenant_stack = envctl::stack::load_file_in(
        &support::repo_root().join("stacks/tenant.yaml"),
        &envctl::stack::Builtins::with_domain("envctl-bench.net"),
    )
    .unwrap();
    let graph_json =
        envctl::engine::spec::StoredGraph::of(&Graph::build(&tenant_stack).unwrap()).to_json();
    let now = jiff::Timestamp::now().to_string();
    for i in 0..TENANTS {
        state
            .upsert_tenant(&TenantRow {
                name: format!("tenant-{i:04}"),
                environment: "dev".into(),
                stack_name: "tenant".into(),
                stack_path: "stacks/tenant.yaml".into(),
                status: "ready".into(),
                created_at: now.clone(),
                updated_at: now.clone(),
                expires_at: Some(now.clone()),
                protected: false,
                owner: Some("bench".into()),
                note: Some("seeded by the benchmark".into()),
                graph_json: graph_json.clone(),
            })
            .await
            .unwrap();
    }
}

/// A server on `state`, on a free loopback port; its AWS clients point at a
/// closed loopback port (the list makes no AWS call).
async fn start_server(state: StateStore, dir: &Path) -> String {
    use sha2::Digest;
    let config = format!(
        "stacks: {{ basic: {} }}\ntokens: [{{ name: bench, role: viewer, sha256: {} }}]\n",
        support::repo_root()
            .join("integration/stacks/aws-basic.yaml")
            .display(),
        hex::encode(sha2::Sha256::digest(TOKEN))
    );
    let config = envctl::serve::ServeConfig::parse(&dir.join("serve.yaml"), &config).unwrap();
    let sdk = aws_config::SdkConfig::builder()
        .endpoint_url(format!("http://127.0.0.1:{}", support::free_port()))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "bench"),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let aws = AwsClients::from_config(&sdk);
    let values = ValueStore::new(aws.s3.clone(), "envctl-bench-values");
    let engine = Engine {
        backends: Arc::new(Backends {
            aws,
            values,
            kube: envctl::kinds::k8s::KubeClient::from_env(),
        }),
        state,
        policy: RetryPolicy::default(),
        cancel: Default::default(),
        progress: ProgressSink::discard(),
        limit_overrides: Default::default(),
        parallelism: 8,
    };
    let app = envctl::serve::app(config, engine);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(envctl::serve::serve(app, listener));
    base
}

/// The PostgreSQL database of the figures.
struct Postgres {
    url: String,
    /// A database on `ENVCTL_TEST_POSTGRES`'s server, dropped at the end.
    _db: Option<postgres::PgDatabase>,
    /// Or a private server's directory, stopped at the end.
    own: Option<tempfile::TempDir>,
}

impl Postgres {
    async fn get() -> Result<Postgres, String> {
        if let Ok(admin) = std::env::var("ENVCTL_TEST_POSTGRES") {
            let db = postgres::PgDatabase::create_on(&admin, "envctl_bench")
                .await
                .map_err(|e| format!("a database on ENVCTL_TEST_POSTGRES: {e}"))?;
            return Ok(Postgres {
                url: db.url(),
                _db: Some(db),
                own: None,
            });
        }
        // initdb refuses to run as root: the script hands the directory to
        // the postgres user, under /tmp, which every user may traverse.
        let script = support::repo_root().join("integration/postgres.sh");
        let own = tempfile::Builder::new()
            .prefix("envctl-bench-pg")
            .tempdir_in("/tmp")
            .map_err(|e| e.to_string())?;
        let out = Command::new(&script)
            .arg("start")
            .arg(own.path())
            .arg(support::free_port().to_string())
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "integration/postgres.sh start: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Postgres {
            url: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            _db: None,
            own: Some(own),
        })
    }

    fn stop(self) {
        if let Some(own) = &self.own {
            let _ = Command::new(support::repo_root().join("integration/postgres.sh"))
                .arg("stop")
                .arg(own.path())
                .status();
        }
    }
}
