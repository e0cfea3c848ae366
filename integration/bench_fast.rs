//! `make bench`, part 6: a customer-ready tenant on shared infrastructure
//! and warm pools (`stacks/tenant-fast.yaml`), on the realism layer and the
//! cluster of part 5. The environment (shared network, shared edge) is made
//! first; then the fast stack with an empty pool (its database is created),
//! with a warm pool at x1/60, and with a warm pool at x1: the proxy lets
//! the shared parts' and the pool's making-time pass (`settle`: they were
//! made long before, as in a real environment) and switches to real AWS
//! durations, so that run is measured, not estimated. Last, 20 concurrent
//! creates of a pooled database against a pool of 10: hits, misses, and a
//! check through the AWS API (the Rust SDK) that no member went to two
//! tenants.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use envctl::budget::fmt_ms;
use serde_json::json;

use super::bench_realism::{Bench, SCALE, stack};
use super::bench_x1::{History, Op, Timeline};
use super::support::rds::db_instances;

const FAST: &str = "stacks/tenant-fast.yaml";
const BURST: usize = 20;
const BURST_POOL: u32 = 10;

/// Prints one fast-stack run: as run, and at real AWS durations with the
/// tracker's forecast along it; then adds it to `history`. `stretch` is
/// 1/scale of the run (1 at x1, measured).
fn figure(
    bench: &Bench,
    history: &mut History,
    tenant: &str,
    what: &str,
    secs: f64,
    stretch: f64,
    claimed: &[&str],
) {
    let (stack, graph) = stack(FAST);
    let report = bench.report(tenant, "create");
    let (x1, how) = if stretch == 1.0 {
        (Timeline::measured(&report), "measured at x1: ".to_string())
    } else {
        (
            Timeline::stretched(&graph, &report, stretch, Op::Create),
            format!("{secs:.1} s wall clock at x1/{stretch:.0}; at real AWS durations ~"),
        )
    };
    println!(
        "fast stack, {what}: all {} nodes ready, {how}{}; critical path {}",
        graph.len(),
        fmt_ms(x1.total_ms),
        x1.critical_path_line(&graph)
    );
    println!(
        "fast stack, {what}: budget tracker with {}",
        history.eta_lines(&stack, &graph, &x1, claimed)
    );
    history.record(&graph, &x1, claimed);
}

pub async fn figures(bench: &Bench, history: &mut History) {
    // The environment: once, long before any tenant.
    for (tenant, path) in [
        ("shared-dev", "stacks/shared-network.yaml"),
        ("shared-edge", "stacks/shared-edge.yaml"),
    ] {
        bench.envctl(&["create", "tenant", tenant, "--stack", path]);
    }

    // An empty pool: the database is created (a miss).
    let (_, secs) = bench.envctl(&["create", "tenant", "fast-cold", "--stack", FAST]);
    figure(
        bench,
        history,
        "fast-cold",
        "empty pool",
        secs,
        1.0 / SCALE,
        &[],
    );

    // A warm pool (size 2), filled at x1/60.
    let t = Instant::now();
    bench.envctl(&["pool", "fill", "--stack", FAST]);
    println!(
        "fast stack: pool fill (2 RDS members) {:.1} s wall clock at x1/60",
        t.elapsed().as_secs_f64()
    );
    let (_, secs) = bench.envctl(&["create", "tenant", "fast-warm", "--stack", FAST]);
    figure(
        bench,
        history,
        "fast-warm",
        "warm pool",
        secs,
        1.0 / SCALE,
        &["database"],
    );

    // The same at x1: what was made so far is long made; AWS at real speed.
    bench.realism.settle(7.0 * 86_400.0);
    bench.realism.configure(json!({ "scale": 1.0 }));
    let (_, secs) = bench.envctl(&["create", "tenant", "fast-live", "--stack", FAST]);
    figure(
        bench,
        history,
        "fast-live",
        "warm pool at x1",
        secs,
        1.0,
        &["database"],
    );
    println!("fast stack, warm pool at x1: `envctl create` took {secs:.1} s wall clock");
    bench.realism.configure(json!({ "scale": SCALE }));

    burst(bench).await;

    for tenant in ["fast-cold", "fast-warm", "fast-live"] {
        bench.envctl(&["destroy", "tenant", tenant, "--yes"]);
    }
}

/// 20 creates at once of a stack whose database is pooled, against a pool
/// of 10.
async fn burst(bench: &Bench) {
    // integration/stacks/pooled-db.yaml on this environment's network, with
    // a pool of 10.
    let text = std::fs::read_to_string(
        super::support::repo_root().join("integration/stacks/pooled-db.yaml"),
    )
    .unwrap()
    .replace("pool-shared/network", "shared-dev/network")
    .replace("stack: pooled-db", "stack: pooled-burst")
    .replace("pool: { size: 2,", &format!("pool: {{ size: {BURST_POOL},"));
    assert!(
        text.contains(&format!("size: {BURST_POOL}")),
        "the pool size was replaced"
    );
    let path = bench.dir.path().join("pooled-burst.yaml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    bench.envctl(&["pool", "fill", "--stack", path]);
    bench.realism.settle(7.0 * 86_400.0);
    let rds = aws_sdk_rds::Client::new(&bench.moto.sdk_config());
    let members: BTreeSet<String> = db_instances(&rds)
        .await
        .into_iter()
        .filter(|(_, db)| {
            db.tags.get("envctl:pool").map(String::as_str) == Some("pooled-burst/database")
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        members.len(),
        BURST_POOL as usize,
        "the pool was filled: {members:?}"
    );

    let tenants: Vec<String> = (0..BURST).map(|i| format!("burst-{i:02}")).collect();
    let t = Instant::now();
    let children: Vec<_> = tenants
        .iter()
        .map(|name| {
            bench
                .command(&["create", "tenant", name, "--stack", path])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start envctl")
        })
        .collect();
    for (name, child) in tenants.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "create {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let secs = t.elapsed().as_secs_f64();

    let (out, _) = bench.envctl(&["pool", "status", "--stack", path, "-o", "json"]);
    let levels: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (hits, misses) = (
        levels[0]["hits"].as_i64().unwrap(),
        levels[0]["misses"].as_i64().unwrap(),
    );

    // Through the AWS API: each tenant has exactly one DB instance, and no
    // instance is any other tenant's.
    let mut by_tenant: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut pooled = 0;
    for (id, db) in db_instances(&rds).await {
        if let Some(tenant) = db
            .tags
            .get("envctl:tenant")
            .filter(|t| t.starts_with("burst-"))
        {
            pooled += usize::from(members.contains(&id));
            by_tenant.entry(tenant.clone()).or_default().push(id);
        }
    }
    let ids: BTreeSet<&String> = by_tenant.values().flatten().collect();
    let double = tenants
        .iter()
        .filter(|t| by_tenant.get(*t).map_or(0, Vec::len) != 1)
        .count();
    println!(
        "{BURST} concurrent creates against a pool of {BURST_POOL}: {hits} claims, {misses} misses \
         ({pooled} tenants on a pool member by their AWS tags), {} distinct DB instances, \
         {double} tenants without exactly one; {secs:.1} s wall clock at x1/60",
        ids.len()
    );
    assert_eq!(
        ids.len(),
        BURST,
        "every tenant has its own DB instance: {by_tenant:?}"
    );
    assert_eq!(double, 0, "{by_tenant:?}");
}
