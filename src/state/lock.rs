//! One run per tenant at a time: a lock row per tenant with a heartbeat.
//!
//! A lock is stale, and may be taken over, when its holder ran on this host
//! and that process is gone (a crash or SIGKILL), or when its heartbeat is
//! older than [`LEASE`] (a holder on another machine that died).
//!
//! Taking a lock is one `INSERT .. ON CONFLICT DO NOTHING`, and taking over a
//! stale one is a compare-and-swap `UPDATE .. WHERE run_id = <stale holder>`.
//! Both are atomic per row on SQLite and on PostgreSQL (where a concurrent
//! writer waits for the first and then re-checks the row), so of many
//! processes on many machines exactly one wins. On PostgreSQL the lock times
//! come from the server's clock, so that hosts with skewed clocks agree on
//! when a heartbeat is too old.

use std::time::Duration;

use sqlx::Row;

use super::{Backend, StateError, StateStore};

/// A lock whose heartbeat is older than this is considered abandoned.
pub const LEASE: Duration = Duration::from_secs(60);
const HEARTBEAT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum LockHeld {
    #[error(
        "tenant '{tenant}' is busy: run {run_id} (pid {pid} on {host}) holds its lock since {since}; wait for it to finish, or stop that process and rerun"
    )]
    Busy {
        tenant: String,
        run_id: String,
        host: String,
        pid: i64,
        since: String,
    },
    #[error(transparent)]
    State(#[from] StateError),
}

/// A held lock; release it with [`TenantLock::release`]. The heartbeat stops
/// when it is dropped.
pub struct TenantLock {
    store: StateStore,
    tenant: String,
    run_id: String,
    heartbeat: tokio::task::JoinHandle<()>,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

fn process_alive(pid: i64) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // Signal 0 checks existence without sending anything. EPERM means it
    // exists but belongs to someone else.
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}

impl StateStore {
    /// Milliseconds since the epoch by the clock every holder of a lock of
    /// this store shares: the PostgreSQL server's, or this host's for SQLite.
    async fn lock_clock_ms(&self) -> Result<i64, StateError> {
        match self.backend() {
            Backend::Sqlite => Ok(now_ms()),
            Backend::Postgres => sqlx::query_scalar(
                "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            )
            .fetch_one(self.pool())
            .await
            .map_err(|e| self.db_err(e)),
        }
    }

    /// Takes the tenant's lock for `run_id`, taking over a stale one.
    pub async fn lock_tenant(&self, tenant: &str, run_id: &str) -> Result<TenantLock, LockHeld> {
        let host = this_host();
        let pid = std::process::id() as i64;
        let now = self.lock_clock_ms().await?;
        let inserted = sqlx::query(
            "INSERT INTO locks (tenant, run_id, host, pid, acquired_ms, heartbeat_ms) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT(tenant) DO NOTHING",
        )
        .bind(tenant)
        .bind(run_id)
        .bind(&host)
        .bind(pid)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(|e| self.db_err(e))?
        .rows_affected();
        if inserted == 0 {
            let row = sqlx::query(
                "SELECT run_id, host, pid, acquired_ms, heartbeat_ms FROM locks WHERE tenant = $1",
            )
            .bind(tenant)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.db_err(e))?;
            let Some(row) = row else {
                // Released between our insert and select: try once more.
                return Box::pin(self.lock_tenant(tenant, run_id)).await;
            };
            let holder_run: String = row.get("run_id");
            let holder_host: String = row.get("host");
            let holder_pid: i64 = row.get("pid");
            let heartbeat: i64 = row.get("heartbeat_ms");
            let acquired: i64 = row.get("acquired_ms");
            let dead_here = holder_host == host && !process_alive(holder_pid);
            let expired = now - heartbeat > LEASE.as_millis() as i64;
            if !(dead_here || expired) {
                return Err(LockHeld::Busy {
                    tenant: tenant.into(),
                    run_id: holder_run,
                    host: holder_host,
                    pid: holder_pid,
                    since: jiff::Timestamp::from_millisecond(acquired)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                });
            }
            // Compare-and-swap on the stale holder's run id, so that two
            // processes taking over at once cannot both win.
            let taken = sqlx::query(
                "UPDATE locks SET run_id = $1, host = $2, pid = $3, acquired_ms = $4, heartbeat_ms = $5 WHERE tenant = $6 AND run_id = $7",
            )
            .bind(run_id)
            .bind(&host)
            .bind(pid)
            .bind(now)
            .bind(now)
            .bind(tenant)
            .bind(&holder_run)
            .execute(self.pool())
            .await
            .map_err(|e| self.db_err(e))?
            .rows_affected();
            if taken == 0 {
                return Box::pin(self.lock_tenant(tenant, run_id)).await;
            }
            tracing::warn!(tenant, stale_run = %holder_run, "took over a stale lock");
        }
        let store = self.clone();
        let (t, r) = (tenant.to_string(), run_id.to_string());
        let heartbeat = tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            loop {
                tick.tick().await;
                let Ok(now) = store.lock_clock_ms().await else {
                    continue;
                };
                let _ = sqlx::query(
                    "UPDATE locks SET heartbeat_ms = $1 WHERE tenant = $2 AND run_id = $3",
                )
                .bind(now)
                .bind(&t)
                .bind(&r)
                .execute(store.pool())
                .await;
            }
        });
        Ok(TenantLock {
            store: self.clone(),
            tenant: tenant.into(),
            run_id: run_id.into(),
            heartbeat,
        })
    }
}

impl TenantLock {
    pub async fn release(self) -> Result<(), StateError> {
        self.heartbeat.abort();
        sqlx::query("DELETE FROM locks WHERE tenant = $1 AND run_id = $2")
            .bind(&self.tenant)
            .bind(&self.run_id)
            .execute(self.store.pool())
            .await
            .map_err(|e| self.store.db_err(e))?;
        Ok(())
    }
}

impl Drop for TenantLock {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}
