//! State store tests on a temporary SQLite file.

use super::*;
use crate::journal::{self, NodeState};

async fn store() -> (tempfile::TempDir, StateStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = StateStore::open_path(&dir.path().join("nested/state.sqlite"))
        .await
        .unwrap();
    (dir, s)
}

fn event(node: &str, event: Event) -> EventRow {
    EventRow {
        run_id: "r1".into(),
        tenant: "acme".into(),
        node: node.into(),
        kind: "aws.s3.bucket".into(),
        event,
        at_ms: 1,
        outputs: [("name".to_string(), format!("{node}-name"))].into(),
        had_secrets: false,
        spec_hash: Some("h".into()),
        error: None,
    }
}

#[tokio::test]
async fn second_lock_of_a_tenant_is_refused_while_the_holder_lives() {
    let (_d, s) = store().await;
    let lock = s.lock_tenant("acme", "run-1").await.unwrap();
    let err = s
        .lock_tenant("acme", "run-2")
        .await
        .err()
        .expect("must be refused");
    assert!(err.to_string().contains("tenant 'acme' is busy"), "{err}");
    assert!(
        s.lock_tenant("other", "run-3").await.is_ok(),
        "other tenants are independent"
    );
    lock.release().await.unwrap();
    assert!(s.lock_tenant("acme", "run-2").await.is_ok());
}

#[tokio::test]
async fn a_lock_of_a_dead_process_on_this_host_is_taken_over() {
    let (_d, s) = store().await;
    // A pid that cannot exist (above the kernel's pid_max).
    sqlx::query("INSERT INTO locks VALUES ('acme', 'dead-run', ?, 99999999, 0, ?)")
        .bind(this_host_for_test())
        .bind(jiff::Timestamp::now().as_millisecond())
        .execute(s.pool())
        .await
        .unwrap();
    assert!(s.lock_tenant("acme", "run-2").await.is_ok());
}

fn this_host_for_test() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

#[tokio::test]
async fn events_round_trip_and_replay_into_node_states() {
    let (_d, s) = store().await;
    for e in [
        event("a", Event::Started),
        event("a", Event::Succeeded),
        event("b", Event::Started),
    ] {
        s.append_event(&e).await.unwrap();
    }
    let events = s.events("acme").await.unwrap();
    assert_eq!(events.len(), 3);
    let nodes = journal::replay(&events).unwrap();
    assert_eq!(nodes["a"].state, NodeState::Succeeded);
    assert_eq!(nodes["a"].outputs["name"], "a-name");
    assert_eq!(nodes["b"].state, NodeState::Started);
}

#[tokio::test]
async fn replay_rejects_an_illegal_sequence() {
    let events = vec![event("a", Event::Succeeded)];
    let err = journal::replay(&events).unwrap_err();
    assert!(err.to_string().contains("node 'a'"));
}

#[tokio::test]
async fn recent_durations_keep_the_newest_per_kind() {
    let (_d, s) = store().await;
    for ms in [1u64, 2, 3, 4] {
        s.record_duration("k", Duration::from_millis(ms))
            .await
            .unwrap();
    }
    let d = s.recent_durations(2).await.unwrap();
    assert_eq!(
        d["k"],
        vec![Duration::from_millis(3), Duration::from_millis(4)]
    );
}
