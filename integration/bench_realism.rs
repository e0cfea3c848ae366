//! `make bench`, part 5: the default stack (`stacks/tenant.yaml`, 52
//! services) created and destroyed by the `envctl` binary through the
//! realism layer (AWS's asynchronous states and windows at their real
//! durations × 1/60) and the local control plane. Prints the wall-clock
//! times as run and the real-AWS estimate (`bench_x1.rs`: the nodes that
//! wait on a scaled window stretched back by 60, the rest as measured), and
//! the budget tracker's forecast error at 25/50/75 % of that run. Then the
//! fast stack and warm pools (`bench_fast.rs`) on the same moto, proxy and
//! cluster.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use envctl::budget::{Report, fmt_ms};
use envctl::graph::Graph;
use envctl::stack::{Builtins, Stack, load_file_in};

use super::bench_x1::{History, Op, Timeline};
use super::support::realism::{Realism, RealismOptions};
use super::support::{Moto, repo_root};

pub const DOMAIN: &str = "tenants.envctl-bench.net";
pub const SCALE: f64 = 1.0 / 60.0;

pub struct Bench {
    pub moto: Moto,
    pub realism: Realism,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl Bench {
    /// `envctl ARGS` against the proxy, the cluster and the bench's state.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.args(args)
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("ENVCTL_STATE", self.dir.path().join("state.sqlite"))
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-bench-realism")
            .env("ENVCTL_DOMAIN", DOMAIN)
            // The realism layer hides new EC2 resources for 1 s (5 s real at
            // x1/60): the re-check window after an unanswered create need
            // not be AWS's 2 minutes here.
            .env("ENVCTL_EC2_VISIBILITY_WINDOW", "5")
            // Readiness polls at the proxy's cadence (15 s real, the
            // default's longest pause, x1/60), so that a wait stretched
            // back to real AWS durations overshoots as a real one would.
            .env("ENVCTL_POLL_MAX", (15.0 * SCALE).to_string())
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::null());
        for (k, v) in self.realism.env() {
            c.env(k, v);
        }
        c
    }

    /// Runs `envctl ARGS`, which must succeed: its output and wall-clock
    /// seconds.
    pub fn envctl(&self, args: &[&str]) -> (std::process::Output, f64) {
        let t = Instant::now();
        let out = self.command(args).output().expect("run envctl");
        let secs = t.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "envctl {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        (out, secs)
    }

    /// The report of `tenant`'s last `operation` run.
    pub fn report(&self, tenant: &str, operation: &str) -> Report {
        let (out, _) = self.envctl(&[
            "report",
            "tenant",
            tenant,
            "--operation",
            operation,
            "-o",
            "json",
        ]);
        serde_json::from_slice(&out.stdout).expect("a JSON report")
    }
}

/// `path` (relative to the repository) loaded as a create would load it.
pub fn stack(path: &str) -> (Stack, Graph) {
    let stack = load_file_in(&repo_root().join(path), &Builtins::with_domain(DOMAIN)).unwrap();
    let graph = Graph::build(&stack).unwrap();
    (stack, graph)
}

/// `graph` with every edge turned round: the order a destroy walks.
fn reversed(graph: &Graph) -> Graph {
    let nodes = graph
        .ids()
        .map(|id| (id.to_string(), graph.kind_of(id).to_string()))
        .collect();
    let edges = graph
        .ids()
        .flat_map(|id| {
            graph
                .dependencies(id)
                .into_iter()
                .map(move |d| (id.to_string(), d.to_string()))
        })
        .collect();
    Graph::from_edges(nodes, edges).expect("the reverse of a DAG is a DAG")
}

pub async fn figures() {
    let Ok(kubeconfig) = std::env::var("ENVCTL_TEST_KUBECONFIG") else {
        println!(
            "default stack through the realism layer: skipped (no cluster; `make bench` starts one)"
        );
        return;
    };
    let moto = Moto::start();
    let realism = Realism::start(&moto, RealismOptions::default().public_zone(DOMAIN));
    aws_sdk_route53::Client::new(&moto.sdk_config())
        .create_hosted_zone()
        .name(DOMAIN)
        .caller_reference("bench-parent")
        .send()
        .await
        .expect("create the parent zone in moto");
    let bench = Bench {
        moto,
        realism,
        dir: tempfile::tempdir().unwrap(),
        kubeconfig: PathBuf::from(kubeconfig),
    };
    let (stack, graph) = stack("stacks/tenant.yaml");

    let mut history = History::default();
    let (_, create_secs) = bench.envctl(&["create", "tenant", "bench-real"]);
    let created = bench.report("bench-real", "create");
    let x1 = Timeline::stretched(&graph, &created, 1.0 / SCALE, Op::Create);
    println!(
        "default stack ({} nodes), create: {create_secs:.1} s wall clock at x1/60; at real AWS durations ~{}; \
         critical path {}",
        graph.len(),
        fmt_ms(x1.total_ms),
        x1.critical_path_line(&graph)
    );
    println!(
        "default stack, create: budget tracker with {}",
        history.eta_lines(&stack, &graph, &x1, &[])
    );
    history.record(&graph, &x1, &[]);

    let (_, destroy_secs) = bench.envctl(&["destroy", "tenant", "bench-real", "--yes"]);
    let destroyed = bench.report("bench-real", "destroy");
    // Destroy walks the graph in reverse.
    let reverse = reversed(&graph);
    let x1 = Timeline::stretched(&reverse, &destroyed, 1.0 / SCALE, Op::Destroy);
    println!(
        "default stack, destroy: {destroy_secs:.1} s wall clock at x1/60; at real AWS durations ~{}; critical path {}",
        fmt_ms(x1.total_ms),
        x1.critical_path_line(&reverse)
    );
    println!("realism interventions: {:?}", bench.realism.stats());

    super::bench_fast::figures(&bench, &mut history).await;
}
