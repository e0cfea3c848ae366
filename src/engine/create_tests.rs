//! Whole `create` runs on `sim.delay` nodes (testkit engine, value store
//! on moto): how `until: created` edges start dependents early, and what a
//! failed readiness after that does.

use std::path::Path;
use std::time::Duration;

use super::CreateRequest;
use super::progress::Progress;
use super::testkit::{self, Kit, TENANT};
use crate::budget::{Report, Verdict};
use crate::journal::NodeState;
use crate::kinds::sim::open_gate;
use crate::tenant::TenantName;

/// `lb` is ready only when the test opens `gate` (and then fails with
/// `ready_error` when given); `dns` uses its output and waits only until it
/// is created; `svc` waits until it is ready.
fn stack(gate: &str, ready_error: Option<&str>) -> crate::stack::Stack {
    let error = ready_error.map_or(String::new(), |e| format!(", ready_error: \"{e}\""));
    let text = format!(
        "stack: edges
resources:
  - id: lb
    kind: sim.delay
    properties: {{ value: lb-dns-name, ready_gate: {gate}{error} }}
  - id: dns
    kind: sim.delay
    properties: {{ value: \"alias to ${{lb.value}}\" }}
    wait_for: {{ lb: created }}
  - id: svc
    kind: sim.delay
    depends_on: [lb]
"
    );
    crate::stack::load_str(Path::new("edges.yaml"), &text).expect("valid stack")
}

fn request(stack: crate::stack::Stack, rollback: bool) -> CreateRequest {
    CreateRequest {
        tenant: TenantName::parse(TENANT).unwrap(),
        stack,
        environment: "test".into(),
        budget: Duration::from_secs(600),
        expires_at: None,
        rollback_on_failure: rollback,
        owner: None,
        note: None,
        run_id: None,
    }
}

fn started(p: &Progress, id: &str) -> bool {
    matches!(p, Progress::NodeStarted { id: n, .. } if n == id)
}

fn succeeded(p: &Progress, id: &str) -> bool {
    matches!(p, Progress::NodeSucceeded { id: n, .. } if n == id)
}

fn at(events: &[Progress], what: impl Fn(&Progress) -> bool, name: &str) -> usize {
    events
        .iter()
        .position(what)
        .unwrap_or_else(|| panic!("no {name} in {events:#?}"))
}

/// Runs the create while the test waits for `dns` to succeed (lb is still
/// gated then, so it cannot be ready) and opens the gate only after that.
/// A create that made `dns` wait until `lb` is ready would never finish:
/// the generous timeout turns that into a failure instead of a hang.
async fn run_gated(kit: &Kit, req: &CreateRequest, gate: &str) -> (Report, Vec<Progress>) {
    let create = kit.engine.create(req);
    let open = async {
        loop {
            let events = kit.events();
            if events.iter().any(|p| succeeded(p, "dns")) {
                assert!(
                    !events.iter().any(|p| started(p, "svc")),
                    "svc waits until lb is ready: {events:#?}"
                );
                assert!(
                    !events.iter().any(|p| succeeded(p, "lb")),
                    "lb is gated: {events:#?}"
                );
                open_gate(gate);
                return;
            }
            // Polling for the condition above; no timing is asserted.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (report, ()) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(create, open)
    })
    .await
    .expect("dns never finished while lb was not ready");
    (report.expect("create runs"), kit.events())
}

#[tokio::test]
async fn a_created_dependent_runs_while_its_dependency_is_not_ready_a_ready_one_waits() {
    let kit = testkit::engine_with_values().await;
    let gate = "edges-ok";
    let (report, events) = run_gated(&kit, &request(stack(gate, None), false), gate).await;
    assert_eq!(report.verdict, Verdict::WithinBudget, "{:?}", report.errors);
    let lb_ready = at(&events, |p| succeeded(p, "lb"), "lb succeeded");
    assert!(at(&events, |p| started(p, "dns"), "dns started") < lb_ready);
    assert!(at(&events, |p| succeeded(p, "dns"), "dns succeeded") < lb_ready);
    assert!(at(&events, |p| started(p, "svc"), "svc started") > lb_ready);
    // lb said why it was not ready yet.
    assert!(
        events
            .iter()
            .any(|p| matches!(p, Progress::NodeWaiting { id, reason } if id == "lb" && reason.contains("gate"))),
        "{events:#?}"
    );
    for id in ["lb", "dns", "svc"] {
        assert_eq!(kit.state_of(id).await, NodeState::Succeeded, "{id}");
    }
    // dns got lb's output from apply, before lb was ready.
    let dns = report.nodes.iter().find(|n| n.id == "dns").unwrap();
    assert_eq!(dns.status, "succeeded");
    // The report knows when lb's apply returned: dns started after it,
    // lb was done only after dns; so the critical path does not run
    // through dns.
    let lb = report.nodes.iter().find(|n| n.id == "lb").unwrap();
    let applied = lb.applied_ms.expect("lb's apply time is recorded");
    assert!(applied <= dns.start_ms.unwrap(), "{report:#?}");
    assert!(dns.end_ms.unwrap() <= lb.end_ms.unwrap(), "{report:#?}");
    assert_eq!(report.critical_path.first().map(String::as_str), Some("lb"));
    assert!(
        !report.critical_path.contains(&"dns".to_string()),
        "{report:#?}"
    );
    let events = kit.engine.state.events(TENANT).await.unwrap();
    let records = crate::journal::replay(&events).unwrap();
    assert_eq!(records["dns"].outputs["value"], "alias to lb-dns-name");
}

#[tokio::test]
async fn a_failed_readiness_after_a_created_dependent_ran_fails_the_run_and_rolls_back() {
    let kit = testkit::engine_with_values().await;
    let gate = "edges-fail";
    let req = request(stack(gate, Some("load balancer failed to provision")), true);
    let (report, events) = run_gated(&kit, &req, gate).await;
    assert_eq!(report.verdict, Verdict::Failed);
    assert!(
        report
            .errors
            .iter()
            .any(|(id, e)| id == "lb" && e.contains("load balancer failed to provision")),
        "{:?}",
        report.errors
    );
    assert!(
        !events.iter().any(|p| started(p, "svc")),
        "svc never starts: lb never became ready"
    );
    // Rolled back in reverse order: dns (which used lb) before lb.
    let deleted = |id: &'static str| move |p: &Progress| matches!(p, Progress::NodeDeleted { id: n, .. } if n == id);
    assert!(
        at(&events, deleted("dns"), "dns deleted") < at(&events, deleted("lb"), "lb deleted"),
        "{events:#?}"
    );
    assert_eq!(kit.state_of("dns").await, NodeState::Deleted);
    assert_eq!(kit.state_of("lb").await, NodeState::Deleted);
    let status = kit
        .engine
        .state
        .tenant(TENANT)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(status.to_string(), "rolled_back");
}
