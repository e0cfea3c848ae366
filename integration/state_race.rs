//! Shared state across processes: real `envctl` processes started at the same
//! moment against one state store, PostgreSQL (the server named by
//! `ENVCTL_TEST_POSTGRES`, which `make test` starts) and SQLite. Two creates
//! of one tenant never run together; creates of different tenants do.
//! AWS is a private moto; the stack has slow nodes so that runs last seconds.

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/mod.rs"]
mod support;

use std::process::{Command, Output, Stdio};

use envctl::journal::{self, NodeState};
use envctl::state::{RunRow, StateStore};
use postgres::PgDatabase;
use support::{Moto, repo_root};

const STACK: &str = "integration/stacks/slow.yaml";
const NODES: [&str; 6] = ["first", "pause-1", "queue", "pause-2", "topic", "secret"];

/// One isolated world: a moto, a state store, a values bucket.
struct World {
    moto: Moto,
    dir: tempfile::TempDir,
    state: String,
    _postgres: Option<PgDatabase>,
}

impl World {
    async fn postgres() -> World {
        let db = PgDatabase::create("t").await;
        World {
            moto: Moto::start(),
            dir: tempfile::tempdir().unwrap(),
            state: db.url(),
            _postgres: Some(db),
        }
    }

    fn sqlite() -> World {
        let dir = tempfile::tempdir().unwrap();
        World {
            moto: Moto::start(),
            state: dir.path().join("state.sqlite").display().to_string(),
            dir,
            _postgres: None,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.args(args)
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("ENVCTL_STATE", &self.state)
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-race")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        c
    }

    /// Starts one `envctl` per argument list at the same moment (no process
    /// waits for another) and returns their outputs, in the same order.
    fn run_at_once(&self, commands: &[&[&str]]) -> Vec<Output> {
        let children: Vec<_> = commands
            .iter()
            .map(|args| self.command(args).spawn().expect("start envctl"))
            .collect();
        let outputs: Vec<Output> = children
            .into_iter()
            .map(|c| std::thread::spawn(move || c.wait_with_output().unwrap()))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        for (args, out) in commands.iter().zip(&outputs) {
            eprintln!(
                "$ envctl {}\n-- exit {:?}\n{}",
                args.join(" "),
                out.status.code(),
                text(out)
            );
        }
        outputs
    }

    fn envctl(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("run envctl");
        eprintln!(
            "$ envctl {}\n-- exit {:?}\n{}",
            args.join(" "),
            out.status.code(),
            text(&out)
        );
        out
    }

    async fn store(&self) -> StateStore {
        StateStore::open(&self.state).await.unwrap()
    }

    /// Checks that `tenant` was created by exactly one finished run, whose
    /// journal replays to every node of the stack succeeded, and that its
    /// lock was released. Returns that run.
    async fn assert_created_once(&self, tenant: &str) -> RunRow {
        let store = self.store().await;
        let row = store.tenant(tenant).await.unwrap().expect("tenant row");
        assert_eq!(row.status, "ready", "{row:#?}");
        let runs = store.runs(tenant).await.unwrap();
        assert_eq!(runs.len(), 1, "one run only: {runs:#?}");
        assert_eq!(
            runs[0].status, "ready",
            "a create that succeeded: {runs:#?}"
        );
        let events = store.events(tenant).await.unwrap();
        assert!(
            events.iter().all(|e| e.run_id == runs[0].id),
            "every event is of that run"
        );
        let nodes = journal::replay(&events).expect("the journal replays");
        assert_eq!(nodes.keys().map(String::as_str).collect::<Vec<_>>(), {
            let mut sorted = NODES.to_vec();
            sorted.sort();
            sorted
        });
        for (id, node) in &nodes {
            assert_eq!(node.state, NodeState::Succeeded, "node {id}");
        }
        let lock = store.lock_tenant(tenant, "after-the-race").await;
        assert!(lock.is_ok(), "the lock was released");
        lock.unwrap().release().await.unwrap();

        let describe = self.envctl(&["describe", "tenant", tenant, "-o", "json"]);
        assert!(describe.status.success());
        let d: serde_json::Value = serde_json::from_slice(&describe.stdout).unwrap();
        assert_eq!(d["tenant"]["status"], "ready");
        runs[0].clone()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn timestamp(s: &str) -> jiff::Timestamp {
    s.parse().unwrap_or_else(|e| panic!("timestamp '{s}': {e}"))
}

async fn two_creates_of_one_tenant(w: World) {
    let create: &[&str] = &["create", "tenant", "racer", "--stack", STACK];
    let outs = w.run_at_once(&[create, create]);
    let winners: Vec<_> = outs.iter().filter(|o| o.status.success()).collect();
    let losers: Vec<_> = outs.iter().filter(|o| !o.status.success()).collect();
    assert_eq!(winners.len(), 1, "exactly one create runs");
    assert_eq!(losers[0].status.code(), Some(1));
    assert!(
        text(losers[0]).contains("tenant 'racer' is busy"),
        "{}",
        text(losers[0])
    );
    assert!(
        !text(losers[0]).contains("started   first"),
        "the refused create started nothing"
    );
    w.assert_created_once("racer").await;
}

async fn creates_of_two_tenants(w: World) {
    let outs = w.run_at_once(&[
        &["create", "tenant", "alpha", "--stack", STACK],
        &["create", "tenant", "beta", "--stack", STACK],
    ]);
    assert!(outs.iter().all(|o| o.status.success()), "both creates run");
    let a = w.assert_created_once("alpha").await;
    let b = w.assert_created_once("beta").await;
    let (a_start, a_end) = (
        timestamp(&a.started_at),
        timestamp(a.finished_at.as_deref().unwrap()),
    );
    let (b_start, b_end) = (
        timestamp(&b.started_at),
        timestamp(b.finished_at.as_deref().unwrap()),
    );
    // Two intervals overlap when each starts before the other ends.
    let overlap = a_end.min(b_end).duration_since(a_start.max(b_start));
    eprintln!(
        "alpha {a_start} .. {a_end}; beta {b_start} .. {b_end}; overlap {:.2}s",
        overlap.as_secs_f64()
    );
    assert!(
        a_start < b_end && b_start < a_end,
        "the two runs overlap in time"
    );
}

#[tokio::test]
async fn postgres_two_creates_of_one_tenant_exactly_one_runs() {
    two_creates_of_one_tenant(World::postgres().await).await;
}

#[tokio::test]
async fn postgres_creates_of_two_tenants_run_at_the_same_time() {
    creates_of_two_tenants(World::postgres().await).await;
}

#[tokio::test]
async fn sqlite_two_creates_of_one_tenant_exactly_one_runs() {
    two_creates_of_one_tenant(World::sqlite()).await;
}

#[tokio::test]
async fn sqlite_creates_of_two_tenants_run_at_the_same_time() {
    creates_of_two_tenants(World::sqlite()).await;
}
