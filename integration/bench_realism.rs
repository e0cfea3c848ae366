//! `make bench`, part 5: the default stack (`stacks/tenant.yaml`, 52
//! services) created and destroyed by the `envctl` binary through the
//! realism layer (AWS's asynchronous states and windows at their real
//! durations × 1/60) and the local control plane. Prints the wall-clock
//! times as run, and the real-AWS estimate: the run's critical path with
//! every AWS node's measured duration stretched back by 60 (Kubernetes and
//! value-store nodes as measured, since they are not scaled).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use envctl::budget::{Report, actual_critical_path, fmt_ms};
use envctl::graph::Graph;
use envctl::stack::{Builtins, load_file_in};

use super::support::realism::{Realism, RealismOptions};
use super::support::{Moto, repo_root};

const DOMAIN: &str = "tenants.envctl-bench.net";
const SCALE: f64 = 1.0 / 60.0;

struct Bench {
    realism: Realism,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Bench {
    fn envctl(&self, args: &[&str]) -> (std::process::Output, f64) {
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
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::null());
        for (k, v) in self.realism.env() {
            c.env(k, v);
        }
        let t = Instant::now();
        let out = c.output().expect("run envctl");
        let secs = t.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "envctl {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        (out, secs)
    }

    fn report(&self, operation: &str) -> Report {
        let (out, _) = self.envctl(&[
            "report",
            "tenant",
            "bench-real",
            "--operation",
            operation,
            "-o",
            "json",
        ]);
        serde_json::from_slice(&out.stdout).expect("a JSON report")
    }
}

/// The critical path of `report` over `graph` with AWS nodes stretched by
/// 1/SCALE: the run's length at real AWS durations.
fn real_aws_estimate(graph: &Graph, report: &Report) -> (Vec<String>, u64) {
    let mut nodes = report.nodes.clone();
    for n in nodes.iter_mut().filter(|n| n.kind.starts_with("aws.")) {
        if let (Some(s), Some(e)) = (n.start_ms, n.end_ms) {
            n.end_ms = Some(s + ((e - s) as f64 / SCALE) as u64);
        }
    }
    actual_critical_path(graph, &nodes)
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
    aws_sdk_route53::Client::new(&moto.sdk_config())
        .create_hosted_zone()
        .name(DOMAIN)
        .caller_reference("bench-parent")
        .send()
        .await
        .expect("create the parent zone in moto");
    let bench = Bench {
        realism: Realism::start(&moto, RealismOptions::default().public_zone(DOMAIN)),
        dir: tempfile::tempdir().unwrap(),
        kubeconfig: PathBuf::from(kubeconfig),
    };
    let stack = load_file_in(
        &repo_root().join("stacks/tenant.yaml"),
        &Builtins::with_domain(DOMAIN),
    )
    .unwrap();
    let graph = Graph::build(&stack).unwrap();

    let (_, create_secs) = bench.envctl(&["create", "tenant", "bench-real"]);
    let created = bench.report("create");
    let (path, real_ms) = real_aws_estimate(&graph, &created);
    println!(
        "default stack ({} nodes) through the realism layer (AWS x1/60): create {create_secs:.1} s wall clock; \
         at real AWS durations ~{} (critical path {})",
        graph.len(),
        fmt_ms(real_ms),
        path.join(" -> ")
    );

    let (_, destroy_secs) = bench.envctl(&["destroy", "tenant", "bench-real", "--yes"]);
    let destroyed = bench.report("destroy");
    let slowest = destroyed
        .nodes
        .iter()
        .filter(|n| n.kind.starts_with("aws."))
        .filter_map(|n| Some((n.duration_ms()?, n.id.clone())))
        .max();
    // Destroy walks levels in reverse; its length at real durations is
    // the same stretch applied along the reverse graph's critical path.
    let (_, destroy_real_ms) = real_aws_estimate(&reversed(&graph), &destroyed);
    println!(
        "default stack destroy: {destroy_secs:.1} s wall clock; at real AWS durations ~{} (slowest AWS node: {})",
        fmt_ms(destroy_real_ms),
        slowest.map_or("-".into(), |(ms, id)| format!(
            "{id}, {} scaled",
            fmt_ms(ms)
        ))
    );
    println!("realism interventions: {:?}", bench.realism.stats());
}
