//! State store tests. Every case runs twice: on a fresh SQLite file and on a
//! fresh PostgreSQL database of the server named by `ENVCTL_TEST_POSTGRES`
//! (`make test` starts one and sets it).

use std::str::FromStr;

use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor};

use super::*;
use crate::journal::{self, NodeState};

const NO_POSTGRES: &str = "ENVCTL_TEST_POSTGRES is not set: the PostgreSQL variants of the state \
     tests need a server. `make test` starts one and sets it; by hand: \
     `integration/postgres.sh start .local/pg-test 25432` and \
     `export ENVCTL_TEST_POSTGRES=$(integration/postgres.sh url .local/pg-test)`";

/// A store on a database of its own.
struct Fixture {
    store: StateStore,
    #[allow(dead_code)] // held for its Drop
    db: TestDb,
}

/// A database of a test, removed when dropped.
enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Fixture {
    async fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open_path(&dir.path().join("nested/state.sqlite"))
            .await
            .unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        Fixture {
            store,
            db: TestDb::Sqlite(dir),
        }
    }

    /// A new database `t_<uuid>` on the test server, opened by URL like
    /// `ENVCTL_STATE=postgres://...` would be.
    async fn postgres() -> Fixture {
        let db = TestDb::new_postgres().await;
        let store = StateStore::open(&db.url()).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        Fixture { store, db }
    }
}

impl TestDb {
    /// Creates an empty database `t_<uuid>` on the test server.
    async fn new_postgres() -> TestDb {
        let admin_url = std::env::var("ENVCTL_TEST_POSTGRES").expect(NO_POSTGRES);
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("ENVCTL_TEST_POSTGRES={admin_url}: {e}"));
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        admin.close().await.unwrap();
        TestDb::Postgres { admin_url, name }
    }

    fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => dir.path().join("state.sqlite").display().to_string(),
            TestDb::Postgres { admin_url, name } => {
                sqlx::postgres::PgConnectOptions::from_str(admin_url)
                    .unwrap()
                    .database(name)
                    .to_url_lossy()
                    .to_string()
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let TestDb::Postgres { admin_url, name } = self else {
            return;
        };
        // Drop cannot await: drop the database from a thread of its own.
        let (admin_url, name) = (admin_url.clone(), name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                admin
                    .execute(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await?;
                admin.close().await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop a test database: {e}");
        }
    }
}

/// `on_both_backends!(case, ...)` turns each `async fn case(&StateStore)`
/// into the tests `case::sqlite` and `case::postgres`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    let f = super::Fixture::sqlite().await;
                    super::$case(&f.store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    let f = super::Fixture::postgres().await;
                    super::$case(&f.store).await;
                }
            }
        )*
    };
}

on_both_backends!(
    second_lock_of_a_tenant_is_refused_while_the_holder_lives,
    a_lock_of_a_dead_process_on_this_host_is_taken_over,
    a_lock_whose_heartbeat_is_older_than_the_lease_is_taken_over,
    of_many_concurrent_lock_attempts_exactly_one_wins,
    of_many_concurrent_takeovers_of_a_stale_lock_exactly_one_wins,
    events_round_trip_and_replay_into_node_states,
    recent_durations_keep_the_newest_per_kind,
    an_upsert_without_owner_or_note_keeps_the_stored_ones,
    expiry_and_protection_are_set_and_cleared,
    runs_keep_their_order_and_the_last_report_is_found,
    unfinished_runs_are_listed_until_abandoned,
    the_audit_log_lists_the_newest_first,
    revisions_are_numbered_per_tenant_and_read_back_in_order,
    a_pin_is_set_moved_listed_and_removed,
    a_rollout_is_recorded_with_its_tenants_pending_in_order,
    a_rollout_tenant_moves_only_from_the_status_it_has,
    a_rollout_status_moves_only_from_the_listed_ones,
    the_latest_drift_check_replaces_the_one_before,
    of_many_concurrent_claims_each_member_goes_to_one_tenant,
    a_tenant_claims_again_the_member_it_holds,
    only_available_members_of_the_same_properties_are_claimed,
);

/// Adds `n` available members to `pool`, made from `fingerprint`.
async fn fill_pool(s: &StateStore, pool: &str, fingerprint: &str, n: usize) {
    for i in 0..n {
        let member = format!("pool-{i:04}");
        s.add_pool_member(pool, &member, fingerprint).await.unwrap();
        let outputs = [("identifier".to_string(), format!("envctl-{member}-db"))]
            .into_iter()
            .collect();
        assert!(
            s.pool_member_ready(pool, &member, &format!("envctl-{member}-db"), &outputs)
                .await
                .unwrap()
        );
    }
}

async fn of_many_concurrent_claims_each_member_goes_to_one_tenant(s: &StateStore) {
    // 5 members, 16 tenants claiming at once, 4 rounds: every member is
    // claimed by exactly one tenant, and as many claims hit as there were
    // members (none missed while one was left).
    for round in 0..4 {
        let pool = format!("tenant/db-{round}");
        fill_pool(s, &pool, "fp", 5).await;
        let n = 16;
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(n));
        let claims: Vec<_> = (0..n)
            .map(|i| {
                let (s, start, pool) = (s.clone(), start.clone(), pool.clone());
                tokio::spawn(async move {
                    let tenant = format!("t{i}");
                    start.wait().await;
                    let got = s.claim_pool_member(&pool, "fp", &tenant).await.unwrap();
                    got.map(|m| (tenant, m))
                })
            })
            .collect();
        let mut hits = Vec::new();
        for c in claims {
            hits.extend(c.await.unwrap());
        }
        let mut members: Vec<&str> = hits.iter().map(|(_, m)| m.member.as_str()).collect();
        members.sort_unstable();
        members.dedup();
        assert_eq!(
            members.len(),
            hits.len(),
            "round {round}: a member was claimed twice: {hits:?}"
        );
        // SQLite serializes the writers, so every claim sees the last one;
        // PostgreSQL's SKIP LOCKED gives each claimer another row.
        assert_eq!(hits.len(), 5, "round {round}: {hits:?}");
        for (tenant, m) in &hits {
            assert_eq!(m.claimed_by.as_deref(), Some(tenant.as_str()));
            assert_eq!(m.status, MemberStatus::Claimed);
        }
        let stored = s.pool_members(Some(&pool)).await.unwrap();
        assert!(stored.iter().all(|m| m.status == MemberStatus::Claimed));
        for (tenant, m) in &hits {
            let row = stored.iter().find(|r| r.member == m.member).unwrap();
            assert_eq!(
                row.claimed_by.as_deref(),
                Some(tenant.as_str()),
                "the row names the winner"
            );
        }
    }
}

async fn a_tenant_claims_again_the_member_it_holds(s: &StateStore) {
    fill_pool(s, "tenant/db", "fp", 2).await;
    let first = s
        .claim_pool_member("tenant/db", "fp", "acme")
        .await
        .unwrap()
        .unwrap();
    let again = s
        .claim_pool_member("tenant/db", "fp", "acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.member, again.member,
        "a rerun gets the member it claimed"
    );
    let other = s
        .claim_pool_member("tenant/db", "fp", "globex")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(other.member, first.member);
    assert_eq!(
        s.claim_pool_member("tenant/db", "fp", "initech")
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.forget_claimed_pool_members("acme").await.unwrap(), 1);
    let left: Vec<String> = s
        .pool_members(None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.member)
        .collect();
    assert_eq!(left, vec![other.member]);
    // Hits and misses add up per pool and outcome.
    for outcome in ["hit", "hit", "miss"] {
        s.count_pool_claim("tenant/db", outcome).await.unwrap();
    }
    s.count_pool_claim("other/db", "miss").await.unwrap();
    let claims = s.pool_claims().await.unwrap();
    assert_eq!(claims[&("tenant/db".to_string(), "hit".to_string())], 2);
    assert_eq!(claims[&("tenant/db".to_string(), "miss".to_string())], 1);
    assert_eq!(claims[&("other/db".to_string(), "miss".to_string())], 1);
    assert_eq!(claims.len(), 3);
}

async fn only_available_members_of_the_same_properties_are_claimed(s: &StateStore) {
    // Creating, of other properties, of another pool, being deleted: none
    // is claimed.
    s.add_pool_member("tenant/db", "pool-creating", "fp")
        .await
        .unwrap();
    fill_pool(s, "tenant/db", "old-fp", 1).await;
    fill_pool(s, "other/db", "fp", 1).await;
    s.add_pool_member("tenant/db", "pool-retired", "fp")
        .await
        .unwrap();
    s.pool_member_ready("tenant/db", "pool-retired", "x", &Default::default())
        .await
        .unwrap();
    assert!(
        s.retire_pool_member("tenant/db", "pool-retired")
            .await
            .unwrap()
    );
    assert_eq!(
        s.claim_pool_member("tenant/db", "fp", "acme")
            .await
            .unwrap(),
        None
    );
    // Once the creating one is ready, it is the one claimed.
    assert!(
        s.pool_member_ready(
            "tenant/db",
            "pool-creating",
            "envctl-pool-creating-db",
            &Default::default()
        )
        .await
        .unwrap()
    );
    let m = s
        .claim_pool_member("tenant/db", "fp", "acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.member, "pool-creating");
    assert_eq!(m.physical_id, "envctl-pool-creating-db");
    // A claimed member is never retired (drain leaves it to its tenant).
    assert!(
        !s.retire_pool_member("tenant/db", "pool-creating")
            .await
            .unwrap()
    );
}

async fn the_latest_drift_check_replaces_the_one_before(s: &StateStore) {
    use crate::state::DriftRow;
    assert_eq!(s.drift("acme").await.unwrap(), None);
    let row = |tenant: &str, at: &str, drifted: bool, json: &str| DriftRow {
        tenant: tenant.into(),
        checked_at: at.into(),
        drifted,
        summary_json: json.into(),
    };
    s.record_drift(&row("acme", "2026-01-01T00:00:00Z", true, "{\"a\":1}"))
        .await
        .unwrap();
    s.record_drift(&row("initech", "2026-01-01T00:00:00Z", false, "{}"))
        .await
        .unwrap();
    s.record_drift(&row("acme", "2026-01-01T01:00:00Z", false, "{\"a\":2}"))
        .await
        .unwrap();
    assert_eq!(
        s.drift("acme").await.unwrap(),
        Some(row("acme", "2026-01-01T01:00:00Z", false, "{\"a\":2}"))
    );
    let all: Vec<(String, bool)> = s
        .drifts()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.tenant, r.drifted))
        .collect();
    assert_eq!(
        all,
        [("acme".to_string(), false), ("initech".to_string(), false)]
    );
    s.record_drift(&row("initech", "2026-01-01T02:00:00Z", true, "{}"))
        .await
        .unwrap();
    assert!(s.drift("initech").await.unwrap().unwrap().drifted);
    s.forget_drift("initech").await.unwrap();
    assert_eq!(s.drift("initech").await.unwrap(), None);
}

fn new_revision<'a>(tenant: &'a str, run_id: &'a str, content: &'a str) -> NewRevision<'a> {
    NewRevision {
        tenant,
        run_id,
        applied_by: Some("olga"),
        stack_name: "minimal",
        stack_path: "stacks/minimal.yaml",
        environment: "dev",
        content_json: content,
    }
}

async fn revisions_are_numbered_per_tenant_and_read_back_in_order(s: &StateStore) {
    assert_eq!(s.revision("acme", None).await.unwrap(), None);
    assert_eq!(
        s.record_revision(&new_revision("acme", "r1", "{\"a\":1}"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.record_revision(&new_revision("acme", "r2", "{\"a\":2}"))
            .await
            .unwrap(),
        2
    );
    // Another tenant counts from 1.
    assert_eq!(
        s.record_revision(&new_revision("initech", "r3", "{}"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.record_revision(&new_revision("acme", "r4", "{\"a\":3}"))
            .await
            .unwrap(),
        3
    );

    let all = s.revisions("acme").await.unwrap();
    let seen: Vec<(i64, &str, &str)> = all
        .iter()
        .map(|r| (r.revision, r.run_id.as_str(), r.content_json.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "r1", "{\"a\":1}"),
            (2, "r2", "{\"a\":2}"),
            (3, "r4", "{\"a\":3}")
        ]
    );
    assert_eq!(all[0].applied_by.as_deref(), Some("olga"));
    assert_eq!(all[0].stack_path, "stacks/minimal.yaml");
    assert!(
        all[0].applied_at.parse::<jiff::Timestamp>().is_ok(),
        "{}",
        all[0].applied_at
    );
    assert_eq!(s.revision("acme", None).await.unwrap().unwrap().revision, 3);
    assert_eq!(
        s.revision("acme", Some(2)).await.unwrap().unwrap().run_id,
        "r2"
    );
    assert_eq!(s.revision("acme", Some(9)).await.unwrap(), None);
    assert_eq!(s.revisions("initech").await.unwrap().len(), 1);
}

async fn a_pin_is_set_moved_listed_and_removed(s: &StateStore) {
    assert_eq!(s.pinned("acme").await.unwrap(), None);
    assert!(!s.unpin("acme").await.unwrap(), "nothing to unpin");
    s.pin("acme", 2, Some("olga")).await.unwrap();
    s.pin("initech", 1, None).await.unwrap();
    let p = s.pinned("acme").await.unwrap().unwrap();
    assert_eq!((p.revision, p.pinned_by.as_deref()), (2, Some("olga")));
    // Pinning again moves the pin.
    s.pin("acme", 1, Some("ivan")).await.unwrap();
    let p = s.pinned("acme").await.unwrap().unwrap();
    assert_eq!((p.revision, p.pinned_by.as_deref()), (1, Some("ivan")));
    let all: Vec<(String, i64)> = s
        .pins()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.tenant, p.revision))
        .collect();
    assert_eq!(all, [("acme".to_string(), 1), ("initech".to_string(), 1)]);
    assert!(s.unpin("acme").await.unwrap());
    assert_eq!(s.pinned("acme").await.unwrap(), None);
    assert_eq!(s.pins().await.unwrap().len(), 1);
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

fn tenant(name: &str) -> TenantRow {
    TenantRow {
        name: name.into(),
        environment: "dev".into(),
        stack_name: "minimal".into(),
        stack_path: "stacks/minimal.yaml".into(),
        status: "creating".into(),
        created_at: "2025-01-01T00:00:00Z".into(),
        updated_at: "2025-01-01T00:00:00Z".into(),
        expires_at: Some("2025-01-08T00:00:00Z".into()),
        protected: false,
        owner: Some("olga".into()),
        note: Some("demo for ACME".into()),
        graph_json: r#"{"nodes":[]}"#.into(),
    }
}

fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Puts a lock row as a holder would have left it.
async fn plant_lock(s: &StateStore, run_id: &str, host: &str, pid: i64, heartbeat_ms: i64) {
    sqlx::query("INSERT INTO locks VALUES ('acme', $1, $2, $3, 0, $4)")
        .bind(run_id)
        .bind(host)
        .bind(pid)
        .bind(heartbeat_ms)
        .execute(s.pool())
        .await
        .unwrap();
}

async fn second_lock_of_a_tenant_is_refused_while_the_holder_lives(s: &StateStore) {
    let lock = s.lock_tenant("acme", "run-1").await.unwrap();
    let err = s
        .lock_tenant("acme", "run-2")
        .await
        .err()
        .expect("must be refused");
    assert!(err.to_string().contains("tenant 'acme' is busy"), "{err}");
    assert!(err.to_string().contains("run-1"), "{err}");
    assert!(
        s.lock_tenant("other", "run-3").await.is_ok(),
        "other tenants are independent"
    );
    lock.release().await.unwrap();
    assert!(s.lock_tenant("acme", "run-2").await.is_ok());
}

async fn a_lock_of_a_dead_process_on_this_host_is_taken_over(s: &StateStore) {
    // A pid that cannot exist (above the kernel's pid_max), fresh heartbeat.
    let now = jiff::Timestamp::now().as_millisecond();
    plant_lock(s, "dead-run", &this_host(), 99_999_999, now).await;
    s.lock_tenant("acme", "run-2").await.unwrap();
    let err = s.lock_tenant("acme", "run-3").await.err().unwrap();
    assert!(err.to_string().contains("run-2"), "the new holder: {err}");
}

async fn a_lock_whose_heartbeat_is_older_than_the_lease_is_taken_over(s: &StateStore) {
    let now = jiff::Timestamp::now().as_millisecond();
    // A live heartbeat on another machine is respected...
    plant_lock(s, "remote-run", "elsewhere", 1, now).await;
    let err = s.lock_tenant("acme", "run-2").await.err().unwrap();
    assert!(err.to_string().contains("remote-run"), "{err}");
    // ...until it is older than the lease.
    let stale = now - lock::LEASE.as_millis() as i64 - 1_000;
    sqlx::query("UPDATE locks SET heartbeat_ms = $1")
        .bind(stale)
        .execute(s.pool())
        .await
        .unwrap();
    s.lock_tenant("acme", "run-2").await.unwrap();
}

/// Starts `n` lock attempts on `acme` at once (the pool gives them several
/// connections) and returns the run ids that won; checks that the lock row
/// names the winner.
async fn concurrent_lock_winners(s: &StateStore, n: usize) -> Vec<String> {
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let attempts: Vec<_> = (0..n)
        .map(|i| {
            let (s, start) = (s.clone(), start.clone());
            tokio::spawn(async move {
                let run_id = format!("run-{i}");
                start.wait().await;
                match s.lock_tenant("acme", &run_id).await {
                    Ok(lock) => Some((run_id, lock)),
                    Err(LockHeld::Busy { .. }) => None,
                    Err(e) => panic!("{run_id}: {e}"),
                }
            })
        })
        .collect();
    let mut winners = Vec::new();
    for a in attempts {
        winners.extend(a.await.unwrap());
    }
    let held: String = sqlx::query_scalar("SELECT run_id FROM locks WHERE tenant = 'acme'")
        .fetch_one(s.pool())
        .await
        .unwrap();
    let winners: Vec<String> = winners.into_iter().map(|(id, _lock)| id).collect();
    if let [winner] = winners.as_slice() {
        assert_eq!(winner, &held, "the lock row names the winner");
    }
    winners
}

async fn of_many_concurrent_lock_attempts_exactly_one_wins(s: &StateStore) {
    for round in 0..5 {
        let winners = concurrent_lock_winners(s, 12).await;
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        sqlx::query("DELETE FROM locks")
            .execute(s.pool())
            .await
            .unwrap();
    }
}

async fn of_many_concurrent_takeovers_of_a_stale_lock_exactly_one_wins(s: &StateStore) {
    for round in 0..5 {
        plant_lock(s, "dead-run", &this_host(), 99_999_999, 0).await;
        let winners = concurrent_lock_winners(s, 12).await;
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        sqlx::query("DELETE FROM locks")
            .execute(s.pool())
            .await
            .unwrap();
    }
}

async fn events_round_trip_and_replay_into_node_states(s: &StateStore) {
    let mut secret_free = event("b", Event::Started);
    secret_free.had_secrets = true;
    secret_free.error = Some("still going".into());
    for e in [
        event("a", Event::Started),
        event("a", Event::Succeeded),
        secret_free.clone(),
    ] {
        s.append_event(&e).await.unwrap();
    }
    let events = s.events("acme").await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2], secret_free, "every field round-trips");
    assert!(s.events("other").await.unwrap().is_empty());
    let nodes = journal::replay(&events).unwrap();
    assert_eq!(nodes["a"].state, NodeState::Succeeded);
    assert_eq!(nodes["a"].outputs["name"], "a-name");
    assert_eq!(nodes["b"].state, NodeState::Started);
}

#[test]
fn replay_rejects_an_illegal_sequence() {
    let events = vec![event("a", Event::Succeeded)];
    let err = journal::replay(&events).unwrap_err();
    assert!(err.to_string().contains("node 'a'"));
}

async fn recent_durations_keep_the_newest_per_kind(s: &StateStore) {
    for ms in [1u64, 2, 3, 4] {
        s.record_duration("k", Duration::from_millis(ms))
            .await
            .unwrap();
    }
    s.record_duration("other", Duration::from_millis(9))
        .await
        .unwrap();
    let d = s.recent_durations(2).await.unwrap();
    assert_eq!(
        d["k"],
        vec![Duration::from_millis(3), Duration::from_millis(4)]
    );
    assert_eq!(d["other"], vec![Duration::from_millis(9)]);
}

async fn an_upsert_without_owner_or_note_keeps_the_stored_ones(s: &StateStore) {
    let first = tenant("acme");
    s.upsert_tenant(&first).await.unwrap();
    s.upsert_tenant(&tenant("zeta")).await.unwrap();
    assert_eq!(s.tenant("acme").await.unwrap().as_ref(), Some(&first));

    let again = TenantRow {
        status: "ready".into(),
        updated_at: "2025-01-02T00:00:00Z".into(),
        owner: None,
        note: None,
        ..first.clone()
    };
    s.upsert_tenant(&again).await.unwrap();
    let stored = s.tenant("acme").await.unwrap().unwrap();
    assert_eq!(stored.status, "ready");
    assert_eq!(stored.updated_at, "2025-01-02T00:00:00Z");
    assert_eq!(stored.created_at, first.created_at, "created_at is kept");
    assert_eq!(stored.owner.as_deref(), Some("olga"));
    assert_eq!(stored.note.as_deref(), Some("demo for ACME"));

    let new_owner = TenantRow {
        owner: Some("sam".into()),
        ..again
    };
    s.upsert_tenant(&new_owner).await.unwrap();
    let stored = s.tenant("acme").await.unwrap().unwrap();
    assert_eq!(stored.owner.as_deref(), Some("sam"));

    s.set_tenant_status("acme", "destroying").await.unwrap();
    assert_eq!(
        s.tenant("acme").await.unwrap().unwrap().status,
        "destroying"
    );
    let names: Vec<_> = s
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["acme", "zeta"]);
    assert!(
        s.tenants()
            .await
            .unwrap()
            .iter()
            .all(|t| t.graph_json.is_empty()),
        "the list leaves the stored graph out"
    );
    assert!(
        !s.tenant("acme")
            .await
            .unwrap()
            .unwrap()
            .graph_json
            .is_empty()
    );
    assert!(s.tenant("nobody").await.unwrap().is_none());
}

async fn expiry_and_protection_are_set_and_cleared(s: &StateStore) {
    s.upsert_tenant(&tenant("acme")).await.unwrap();
    let later = "2025-02-01T12:30:00Z";
    assert!(s.set_expiry("acme", Some(later)).await.unwrap());
    let t = s.tenant("acme").await.unwrap().unwrap();
    assert_eq!(t.expires_at.as_deref(), Some(later));
    assert_ne!(t.updated_at, "2025-01-01T00:00:00Z", "updated_at moves");
    assert!(s.set_expiry("acme", None).await.unwrap());
    assert_eq!(s.tenant("acme").await.unwrap().unwrap().expires_at, None);

    assert!(s.set_protected("acme", true).await.unwrap());
    assert!(s.tenant("acme").await.unwrap().unwrap().protected);
    assert!(s.set_protected("acme", false).await.unwrap());
    assert!(!s.tenant("acme").await.unwrap().unwrap().protected);

    assert!(!s.set_expiry("nobody", Some(later)).await.unwrap());
    assert!(!s.set_protected("nobody", true).await.unwrap());
}

async fn runs_keep_their_order_and_the_last_report_is_found(s: &StateStore) {
    // Ids that sort against the start order, to show the order is the store's.
    for (id, op) in [("z-1", "create"), ("m-2", "destroy"), ("a-3", "create")] {
        s.start_run(id, "acme", op).await.unwrap();
    }
    s.start_run("other-run", "other", "create").await.unwrap();
    s.finish_run("z-1", "succeeded", r#"{"n":1}"#)
        .await
        .unwrap();
    s.finish_run("m-2", "succeeded", r#"{"n":2}"#)
        .await
        .unwrap();

    let runs = s.runs("acme").await.unwrap();
    let ids: Vec<_> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["z-1", "m-2", "a-3"]);
    assert_eq!(runs[0].status, "succeeded");
    assert!(runs[0].finished_at.is_some());
    assert_eq!(runs[2].status, "running");
    assert_eq!(runs[2].finished_at, None);

    let last = s.last_report("acme", None).await.unwrap().unwrap();
    assert_eq!(last.id, "m-2", "a-3 has no report yet");
    let last_create = s
        .last_report("acme", Some(crate::lifecycle::Operation::Create))
        .await
        .unwrap();
    assert_eq!(
        last_create.unwrap().report_json.as_deref(),
        Some(r#"{"n":1}"#)
    );
    assert!(s.last_report("nobody", None).await.unwrap().is_none());
}

async fn unfinished_runs_are_listed_until_abandoned(s: &StateStore) {
    s.start_run("r-1", "acme", "create").await.unwrap();
    s.start_run("r-2", "beta", "destroy").await.unwrap();
    s.start_run("r-3", "gamma", "create").await.unwrap();
    s.finish_run("r-2", "failed", "{}").await.unwrap();
    let unfinished: Vec<_> = s
        .unfinished_runs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(unfinished, ["r-1", "r-3"]);

    s.abandon_run("r-1").await.unwrap();
    s.abandon_run("r-2").await.unwrap(); // finished: left as it is
    let runs = s.runs("acme").await.unwrap();
    assert_eq!(runs[0].status, "interrupted");
    assert!(runs[0].finished_at.is_some());
    assert_eq!(s.runs("beta").await.unwrap()[0].status, "failed");
    let unfinished: Vec<_> = s
        .unfinished_runs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(unfinished, ["r-3"]);
}

async fn the_audit_log_lists_the_newest_first(s: &StateStore) {
    let entry = |i: usize| AuditRow {
        at: format!("2025-01-01T00:00:0{i}Z"),
        actor: "olga".into(),
        role: "operator".into(),
        action: "extend".into(),
        target: format!("tenant-{i}"),
        result: "accepted".into(),
        detail: i.is_multiple_of(2).then(|| format!("by {i}d")),
    };
    for i in 0..5 {
        s.append_audit(&entry(i)).await.unwrap();
    }
    let newest = s.audit(3).await.unwrap();
    assert_eq!(newest, vec![entry(4), entry(3), entry(2)]);
    assert_eq!(s.audit(100).await.unwrap().len(), 5);
    assert!(s.audit(0).await.unwrap().is_empty());
}

// ---- opening: locations, redaction, upgrades ---------------------------------

#[test]
fn locations_pick_the_backend_by_scheme() {
    use connect::Location;
    assert_eq!(
        Location::parse("/var/lib/envctl/state.sqlite").unwrap(),
        Location::Sqlite("/var/lib/envctl/state.sqlite".into())
    );
    assert_eq!(
        Location::parse("sqlite://rel/state.sqlite").unwrap(),
        Location::Sqlite("rel/state.sqlite".into())
    );
    for url in [
        "postgres://u@h/db",
        "postgresql://u:p@h:5433/db?sslmode=disable",
    ] {
        assert_eq!(
            Location::parse(url).unwrap(),
            Location::Postgres(url.into())
        );
    }
}

#[test]
fn passwords_never_reach_messages() {
    for (raw, shown) in [
        (
            "postgres://envctl:s3cret@db.internal:5432/envctl",
            "postgres://envctl:***@db.internal:5432/envctl",
        ),
        (
            "postgresql://envctl:p@ss/w0rd@db:5432/envctl?sslmode=require",
            "postgresql://envctl:***@db:5432/envctl?sslmode=require",
        ),
        (
            "postgres://envctl:pa?ss#@db/envctl",
            "postgres://envctl:***@db/envctl",
        ),
        (
            "postgres://db/envctl?user=envctl&password=s3cret&sslmode=disable",
            "postgres://db/envctl?user=envctl&password=***&sslmode=disable",
        ),
        ("postgres://envctl@db/envctl", "postgres://envctl@db/envctl"),
        (
            "/var/lib/envctl/state.sqlite",
            "/var/lib/envctl/state.sqlite",
        ),
    ] {
        assert_eq!(redact(raw), shown);
    }
}

#[tokio::test]
async fn an_unsupported_scheme_names_the_accepted_forms_without_the_password() {
    let err = StateStore::open("mysql://root:s3cret@127.0.0.1/envctl")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StateError::Unsupported(_)), "{msg}");
    assert!(msg.contains("ENVCTL_STATE"), "{msg}");
    assert!(
        msg.contains("sqlite://") && msg.contains("postgres://"),
        "{msg}"
    );
    assert!(msg.contains("mysql://root:***@127.0.0.1/envctl"), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");
}

#[tokio::test]
async fn a_postgres_that_cannot_be_reached_is_named_without_the_password() {
    // A loopback port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = StateStore::open(&format!("postgres://envctl:s3cret@127.0.0.1:{port}/envctl"))
        .await
        .unwrap_err();
    let msg = format!("{err:#} {err:?}");
    assert!(
        msg.contains(&format!("postgres://envctl:***@127.0.0.1:{port}/envctl")),
        "{msg}"
    );
    assert!(!msg.contains("s3cret"), "{msg}");
}

/// A store made before runs had `seq` (migrations 1 and 2 only) keeps its
/// runs, in their order, when it is opened.
#[tokio::test]
async fn an_older_sqlite_store_is_upgraded_with_its_runs_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut conn = options.connect().await.unwrap();
        sqlx::migrate!("src/state/migrations/sqlite")
            .run_to(2, &mut conn)
            .await
            .unwrap();
        for id in ["z-1", "a-2", "m-3"] {
            sqlx::query(
                "INSERT INTO runs (id, tenant, operation, status, started_at) VALUES (?, 'acme', 'create', 'succeeded', '2025-01-01T00:00:00Z')",
            )
            .bind(id)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        conn.close().await.unwrap();
    }
    let s = StateStore::open(path.to_str().unwrap()).await.unwrap();
    let ids: Vec<_> = s
        .runs("acme")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["z-1", "a-2", "m-3"]);
    s.start_run("b-4", "acme", "destroy").await.unwrap();
    assert_eq!(s.runs("acme").await.unwrap()[3].id, "b-4");
}

/// Opens `n` stores at `location` at once; each must find a complete schema.
async fn open_at_once(location: &str, n: usize) {
    let opens: Vec<_> = (0..n)
        .map(|_| {
            let location = location.to_string();
            tokio::spawn(async move { StateStore::open(&location).await })
        })
        .collect();
    for o in opens {
        let s = o.await.unwrap().unwrap();
        assert!(s.tenants().await.unwrap().is_empty());
    }
}

/// Several processes opening a new SQLite store at once each find a complete
/// schema (the migrations run in one write transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_opened_at_once_on_a_new_sqlite_file_all_work() {
    let dir = TestDb::Sqlite(tempfile::tempdir().unwrap());
    open_at_once(&dir.url(), 6).await;
}

/// The same for replicas starting at once on a new PostgreSQL database (the
/// migrations hold an advisory lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_opened_at_once_on_a_new_postgres_database_all_work() {
    let db = TestDb::new_postgres().await;
    open_at_once(&db.url(), 6).await;
    drop(db);
}

#[tokio::test]
async fn a_sqlite_path_with_url_characters_is_a_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a dir #1/50% state?.sqlite");
    let s = StateStore::open(path.to_str().unwrap()).await.unwrap();
    s.upsert_tenant(&tenant("acme")).await.unwrap();
    assert!(path.is_file(), "{}", path.display());
    assert_eq!(s.location(), path.display().to_string());
}

/// The two migration sets describe the same tables and columns.
#[tokio::test]
async fn both_backends_have_the_same_tables_and_columns() {
    async fn columns(s: &StateStore, sql: &'static str) -> Vec<(String, String)> {
        let mut cols: Vec<(String, String)> =
            sqlx::query_as(sql).fetch_all(s.pool()).await.unwrap();
        cols.sort();
        cols
    }
    let sqlite = Fixture::sqlite().await;
    let postgres = Fixture::postgres().await;
    let on_sqlite = columns(
        &sqlite.store,
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name <> '_sqlx_migrations'",
    )
    .await;
    let on_postgres = columns(
        &postgres.store,
        "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .await;
    assert!(on_sqlite.len() > 30, "{on_sqlite:?}");
    assert_eq!(on_sqlite, on_postgres);
}

// ---- rollouts ---------------------------------------------------------------

use crate::lifecycle::{RolloutStatus, RolloutTenantStatus as T};

fn planned(names: &[(&str, i64)]) -> Vec<PlannedTenant> {
    names
        .iter()
        .enumerate()
        .map(|(i, (t, wave))| PlannedTenant {
            tenant: t.to_string(),
            wave: *wave,
            position: i as i64,
        })
        .collect()
}

async fn a_rollout_is_recorded_with_its_tenants_pending_in_order(s: &StateStore) {
    assert_eq!(s.rollout("r1").await.unwrap(), None);
    let tenants = planned(&[("acme", 0), ("zeta", 1), ("beta", 1), ("gamma", 2)]);
    s.insert_rollout(&NewRollout {
        id: "r1",
        created_by: Some("olga"),
        spec_json: "{\"stack\":\"s\"}",
        tenants: &tenants,
    })
    .await
    .unwrap();
    let r = s.rollout("r1").await.unwrap().unwrap();
    assert_eq!(r.status, RolloutStatus::Running);
    assert_eq!(r.created_by.as_deref(), Some("olga"));
    assert_eq!(r.spec_json, "{\"stack\":\"s\"}");
    let rows = s.rollout_tenants("r1").await.unwrap();
    let order: Vec<(&str, i64, T)> = rows
        .iter()
        .map(|t| (t.tenant.as_str(), t.wave, t.status))
        .collect();
    assert_eq!(
        order,
        [
            ("acme", 0, T::Pending),
            ("zeta", 1, T::Pending),
            ("beta", 1, T::Pending),
            ("gamma", 2, T::Pending)
        ]
    );
    assert!(
        rows.iter()
            .all(|t| t.started_at.is_none() && t.from_revision.is_none())
    );
    // A second rollout with the same id is refused as a whole: no tenant
    // row of it is left behind.
    let other = planned(&[("delta", 1)]);
    assert!(
        s.insert_rollout(&NewRollout {
            id: "r1",
            created_by: None,
            spec_json: "{}",
            tenants: &other,
        })
        .await
        .is_err()
    );
    assert_eq!(s.rollout_tenants("r1").await.unwrap().len(), 4);
    s.insert_rollout(&NewRollout {
        id: "r2",
        created_by: None,
        spec_json: "{}",
        tenants: &other,
    })
    .await
    .unwrap();
    let ids: Vec<String> = s
        .rollouts()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"r1".to_string()) && ids.contains(&"r2".to_string()));
}

async fn a_rollout_tenant_moves_only_from_the_status_it_has(s: &StateStore) {
    let tenants = planned(&[("acme", 1), ("beta", 1)]);
    s.insert_rollout(&NewRollout {
        id: "r",
        created_by: None,
        spec_json: "{}",
        tenants: &tenants,
    })
    .await
    .unwrap();
    let start = TenantMove {
        from_revision: Some(3),
        ..Default::default()
    };
    assert!(
        s.move_rollout_tenant("r", "acme", T::Pending, T::Applying, &start)
            .await
            .unwrap()
    );
    // A second driver claiming the same tenant loses.
    assert!(
        !s.move_rollout_tenant("r", "acme", T::Pending, T::Applying, &start)
            .await
            .unwrap()
    );
    assert!(
        s.move_rollout_tenant(
            "r",
            "acme",
            T::Applying,
            T::Gating,
            &TenantMove {
                to_revision: Some(4),
                ..Default::default()
            }
        )
        .await
        .unwrap()
    );
    let done = TenantMove {
        message: Some("healthy for 10s"),
        ..Default::default()
    };
    assert!(
        s.move_rollout_tenant("r", "acme", T::Gating, T::Succeeded, &done)
            .await
            .unwrap()
    );
    let acme = s.rollout_tenants("r").await.unwrap().remove(0);
    assert_eq!(acme.status, T::Succeeded);
    assert_eq!((acme.from_revision, acme.to_revision), (Some(3), Some(4)));
    assert_eq!(acme.message.as_deref(), Some("healthy for 10s"));
    assert!(acme.started_at.is_some() && acme.ended_at.is_some());
    // A final state never changes, and an illegal move is refused unwritten.
    let err = s
        .move_rollout_tenant(
            "r",
            "acme",
            T::Succeeded,
            T::Applying,
            &TenantMove::default(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("may not go from succeeded to applying"),
        "{err}"
    );
    assert!(
        s.move_rollout_tenant(
            "r",
            "beta",
            T::Pending,
            T::Skipped,
            &TenantMove {
                message: Some("pinned at revision 2"),
                ..Default::default()
            }
        )
        .await
        .unwrap()
    );
    let beta = s.rollout_tenants("r").await.unwrap().remove(1);
    assert_eq!(beta.status, T::Skipped);
    assert_eq!(beta.started_at, None);
    assert!(beta.ended_at.is_some());
}

async fn a_rollout_status_moves_only_from_the_listed_ones(s: &StateStore) {
    s.insert_rollout(&NewRollout {
        id: "r",
        created_by: None,
        spec_json: "{}",
        tenants: &[],
    })
    .await
    .unwrap();
    use RolloutStatus::*;
    assert!(s.move_rollout("r", &[Running], Paused, None).await.unwrap());
    assert!(
        s.move_rollout("r", &[Running, Paused], Aborted, Some("by olga"))
            .await
            .unwrap()
    );
    // A resume does not undo the abort.
    assert!(!s.move_rollout("r", &[Paused], Running, None).await.unwrap());
    let r = s.rollout("r").await.unwrap().unwrap();
    assert_eq!(r.status, Aborted);
    assert_eq!(r.message.as_deref(), Some("by olga"));
    assert!(
        !s.move_rollout("nope", &[Running], Paused, None)
            .await
            .unwrap()
    );
}
